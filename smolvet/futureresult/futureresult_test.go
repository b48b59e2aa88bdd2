package futureresult_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/smolgo/smol/smolvet/futureresult"
)

func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), futureresult.Analyzer, "a")
}
