package process_test

import (
	"os/exec"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/process"
)

// BenchmarkSpawnWait runs `true` and waits for it: this package against
// os/exec, one child at a time.
func BenchmarkSpawnWait(b *testing.B) {
	b.Run("process", func(b *testing.B) {
		for b.Loop() {
			child, err := process.Command("true").Spawn()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := smol.BlockOn(child.Status()); err != nil {
				b.Fatal(err)
			}
			child.Close()
		}
	})
	b.Run("process-sigchld", func(b *testing.B) {
		process.UsePidfd(false)
		defer process.UsePidfd(true)
		for b.Loop() {
			child, err := process.Command("true").Spawn()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := smol.BlockOn(child.Status()); err != nil {
				b.Fatal(err)
			}
			child.Close()
		}
	})
	b.Run("os-exec", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command("true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSpawn is Spawn alone (the fork and exec on the calling
// goroutine), against os/exec's Start; the children are reaped outside the
// timing.
func BenchmarkSpawn(b *testing.B) {
	b.Run("process", func(b *testing.B) {
		var children []*process.Child
		for b.Loop() {
			child, err := process.Command("true").Spawn()
			if err != nil {
				b.Fatal(err)
			}
			children = append(children, child)
		}
		b.StopTimer()
		for _, c := range children {
			smol.BlockOn(c.Status())
			c.Close()
		}
	})
	b.Run("os-exec", func(b *testing.B) {
		var cmds []*exec.Cmd
		for b.Loop() {
			c := exec.Command("true")
			if err := c.Start(); err != nil {
				b.Fatal(err)
			}
			cmds = append(cmds, c)
		}
		b.StopTimer()
		for _, c := range cmds {
			c.Wait()
		}
	})
}
