package process_test

import (
	"fmt"
	"strings"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/process"
)

// Output collects what a command prints, as os/exec's Output does.
func ExampleCmd_Output() {
	out, err := smol.BlockOn(process.Command("echo", "hello").Output())
	fmt.Printf("%q %v\n", out, err)
	// Output: "hello\n" <nil>
}

// A command that fails reports its status in an *ExitError.
func ExampleExitError() {
	_, err := smol.BlockOn(process.Command("sh", "-c", "echo oops >&2; exit 2").Output())
	if ee, ok := err.(*process.ExitError); ok {
		fmt.Printf("%v, code %d, stderr %q\n", ee, ee.ExitCode(), ee.Stderr)
	}
	// Output: exit status 2, code 2, stderr "oops\n"
}

// A child's stdin and stdout as pipes: one task writes, another reads,
// so neither waits for the other.
func ExampleCmd_Spawn() {
	cmd := process.Command("tr", "a-z", "A-Z")
	cmd.Stdin, cmd.Stdout = process.Piped(), process.Piped()
	child, err := cmd.Spawn()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer child.Close()

	ex := smol.NewLocalExecutor()
	defer ex.Close()
	smol.SpawnOn(ex, smol.Map(child.Stdin.WriteAll([]byte("shout\n")), func(int) struct{} {
		child.Stdin.Close() // tr exits at end of input
		return struct{}{}
	})).Detach()
	out, err := smol.Run(ex, child.Stdout.ReadAll())
	fmt.Printf("%q %v\n", out, err)
	status, err := smol.Run(ex, child.Status())
	fmt.Println(status, err)
	// Output:
	// "SHOUT\n" <nil>
	// exit status 0 <nil>
}

// Kill, then the status says which signal ended the child.
func ExampleChild_Kill() {
	child, err := process.Command("sleep", "60").Spawn()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer child.Close()
	child.Kill()
	status, err := smol.BlockOn(child.Status())
	fmt.Println(status, status.Signal(), err)
	// Output: signal: killed killed <nil>
}

// Stdin from a reader and stdout to a writer, copied by the future that
// waits, with no goroutine.
func ExampleFrom() {
	var out strings.Builder
	cmd := process.Command("sort")
	cmd.Stdin, cmd.Stdout = process.From(strings.NewReader("b\nc\na\n")), process.To(&out)
	status, err := smol.BlockOn(cmd.Status())
	fmt.Print(out.String())
	fmt.Println(status, err)
	// Output:
	// a
	// b
	// c
	// exit status 0 <nil>
}
