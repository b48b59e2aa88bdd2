module github.com/smolgo/smol

go 1.24.0

require (
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.41.0
)

require golang.org/x/net v0.47.0
