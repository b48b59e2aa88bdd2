package smol_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEExamplesCompile builds and vets every Go program in README.md
// (each ```go block that starts with "package main") against this module,
// so that the README cannot drift from the API.
func TestREADMEExamplesCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs with the go command")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var progs []string
	for _, block := range strings.Split(string(readme), "```go\n")[1:] {
		code, _, _ := strings.Cut(block, "```")
		if strings.HasPrefix(code, "package main") {
			progs = append(progs, code)
		}
	}
	if len(progs) < 2 {
		t.Fatalf("found %d programs in README.md; the test expects the README's examples", len(progs))
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	for i, code := range progs {
		dir := t.TempDir()
		gomod := "module readme\n\ngo 1.24\n\nrequire github.com/smolgo/smol v0.0.0\n\nreplace github.com/smolgo/smol => " + root + "\n"
		for name, data := range map[string]string{"go.mod": gomod, "go.sum": string(gosum), "main.go": code} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, args := range [][]string{{"mod", "tidy"}, {"vet", "."}, {"build", "-o", os.DevNull, "."}} {
			cmd := exec.Command("go", args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("README program %d: go %s: %v\n%s\n%s", i+1, strings.Join(args, " "), err, out, code)
			}
		}
	}
}
