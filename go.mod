module github.com/v2keys/client

go 1.23
