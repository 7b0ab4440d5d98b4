module github.com/v2keys/client

go 1.23.0

require golang.org/x/net v0.43.0
