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
	for i, code := range progs {
		dir := tempModule(t, code)
		for _, args := range [][]string{{"vet", "."}, {"build", "-o", os.DevNull, "."}} {
			if out, err := goCmd(dir, args...); err != nil {
				t.Fatalf("README program %d: go %s: %v\n%s\n%s", i+1, strings.Join(args, " "), err, out, code)
			}
		}
	}
}

// tempModule writes code as the main package of a module that uses this
// one, and returns its directory.
func tempModule(t *testing.T, code string) string {
	t.Helper()
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module readme\n\ngo 1.24\n\nrequire github.com/smolgo/smol v0.0.0\n\nreplace github.com/smolgo/smol => " + root + "\n"
	for name, data := range map[string]string{"go.mod": gomod, "go.sum": string(gosum), "main.go": code} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := goCmd(dir, "mod", "tidy"); err != nil {
		t.Fatalf("go mod tidy: %v\n%s", err, out)
	}
	return dir
}

func goCmd(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	return cmd.CombinedOutput()
}

// TestVetReportsCopies: go vet's copylocks check reports a copy of a task
// or a timer, and of the lock and channel futures, which must stay where
// their first poll left them (wakers and wait queues point into them).
func TestVetReportsCopies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go vet")
	}
	dir := tempModule(t, `package main

import (
	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
	"github.com/smolgo/smol/lock"
)

func main() {
	ex := smol.NewLocalExecutor()
	task := smol.SpawnOn(ex, smol.Ready(1))
	taskCopy := *task
	timer := smol.Sleep(1)
	timerCopy := *timer
	var mu lock.Mutex
	acquire := mu.Acquire()
	lockCopy := *acquire
	_, rx := channel.New[int](1)
	recv := rx.Recv()
	recvCopy := *recv
	_, _, _, _ = &taskCopy, &timerCopy, &lockCopy, &recvCopy
}
`)
	out, err := goCmd(dir, "vet", ".")
	if err == nil {
		t.Fatal("go vet found nothing to report in copies of futures")
	}
	for _, what := range []string{"taskCopy", "timerCopy", "lockCopy", "recvCopy"} {
		if !strings.Contains(string(out), "assignment copies lock value to "+what) {
			t.Errorf("go vet does not report the copy into %s:\n%s", what, out)
		}
	}
}
