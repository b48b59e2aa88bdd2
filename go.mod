module github.com/smolgo/smol

go 1.24
