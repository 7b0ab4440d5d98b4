module github.com/v2keys/client/internal/chaos

go 1.26.0

replace github.com/v2keys/client => ../..

require (
	github.com/anishathalye/porcupine v1.3.1
	github.com/v2keys/client v0.0.0-00010101000000-000000000000
)
