module github.com/smolgo/smol

go 1.24.13

require (
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/sys v0.41.0 // indirect
)
