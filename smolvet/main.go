// Command smolvet reports smol futures that are created and never
// awaited (see package futureresult). Run it alone or under go vet:
//
//	go install github.com/smolgo/smol/smolvet@latest
//	smolvet ./...
//	go vet -vettool=$(which smolvet) ./...
package main

import (
	"golang.org/x/tools/go/analysis/singlechecker"

	"github.com/smolgo/smol/smolvet/futureresult"
)

func main() { singlechecker.Main(futureresult.Analyzer) }
