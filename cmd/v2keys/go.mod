module github.com/v2keys/client/cmd/v2keys

go 1.23.0

require (
	github.com/v2keys/client v0.0.0
	golang.org/x/term v0.30.0
)

require golang.org/x/sys v0.31.0 // indirect

replace github.com/v2keys/client => ../..
