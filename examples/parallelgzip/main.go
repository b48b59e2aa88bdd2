// Command parallelgzip compresses the files it is given with gzip, several
// at once: at most -j children run at a time (a lock.Semaphore), and what
// each prints is streamed line by line, prefixed with its file's name.
// On Ctrl-C (SIGINT) or SIGTERM it kills the children that are running,
// reaps them, starts no more, and exits with status 130 and a message.
//
//	go run ./examples/parallelgzip -j 4 *.log
//
// Each child is "gzip -k -f -v FILE", which keeps FILE and writes FILE.gz;
// with -sh SCRIPT it is "sh -c SCRIPT sh FILE" instead (the file is $1),
// for other jobs and for the tests. It exits 0 if every child succeeded,
// 1 if one failed.
//
// One smol.LocalExecutor runs a task per file. Each task acquires a
// permit, spawns its child with process.Spawn, copies the child's stdout
// and stderr (non-blocking pipes on the reactor) to this program's stdout
// line by line, awaits the child's exit, and releases the permit. Main
// awaits either all the tasks or a signal (package signal). No goroutine
// per child or per pipe.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/lock"
	"github.com/smolgo/smol/process"
	"github.com/smolgo/smol/signal"
)

var (
	jobs   = flag.Int("j", 2, "how many children may run at once")
	script = flag.String("sh", "", "run `sh -c SCRIPT sh FILE` for each file instead of gzip")
)

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: parallelgzip [-j N] [-sh SCRIPT] FILE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 || *jobs < 1 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(flag.Args()))
}

// runner holds what the per-file tasks share. Its fields are touched only
// by tasks of one LocalExecutor and by main between runs of it, so on one
// goroutine.
type runner struct {
	sem         *lock.Semaphore
	running     map[*process.Child]bool
	interrupted bool
}

func run(files []string) int {
	// Catch the signals first: a Ctrl-C from here on is ours to handle.
	sigs, err := signal.Notify(syscall.SIGINT, syscall.SIGTERM)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer sigs.Close()

	ex := smol.NewLocalExecutor()
	defer ex.Close()
	r := &runner{sem: lock.NewSemaphore(int64(*jobs)), running: map[*process.Child]bool{}}
	tasks := make([]smol.Future[error], len(files))
	for i, file := range files {
		tasks[i] = smol.SpawnOn(ex, r.job(file))
	}

	// Wait for every job, or for a signal.
	all := smol.JoinAll(tasks)
	res, _ := smol.Run(ex, smol.Select(all, sigs.Recv()))
	if res.Index == 1 {
		// Interrupted: start nothing more, kill what runs, and wait for
		// every task, which reaps its child.
		r.interrupted = true
		n := len(r.running)
		for c := range r.running {
			c.Kill()
		}
		smol.Run(ex, smol.JoinAll(tasks))
		fmt.Fprintf(os.Stderr, "parallelgzip: %v: killed %d running children, skipped the rest\n", res.B, n)
		return 130
	}
	failed := 0
	for i, err := range res.A {
		if err != nil {
			fmt.Printf("[%s] failed: %v\n", files[i], err)
			failed++
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// job returns the future of one file's work: ready with nil if its child
// succeeded, or with the failure as a value (so that one failure does not
// stop JoinAll from waiting for the others).
func (r *runner) job(file string) smol.Future[error] {
	return smol.Then[struct{}, error](r.sem.Acquire(1), func(struct{}) smol.Future[error] {
		if r.interrupted {
			r.sem.Release(1)
			return smol.Ready(error(errors.New("not started")))
		}
		cmd := process.Command("gzip", "-k", "-f", "-v", file)
		if *script != "" {
			cmd = process.Command("sh", "-c", *script, "sh", file)
		}
		cmd.Stdout, cmd.Stderr = process.Piped(), process.Piped()
		cmd.KillOnClose = true
		child, err := cmd.Spawn()
		if err != nil {
			r.sem.Release(1)
			return smol.Ready(err)
		}
		r.running[child] = true
		out := &lines{r: child.Stdout, prefix: "[" + file + "] "}
		errs := &lines{r: child.Stderr, prefix: "[" + file + "] "}
		// Copy both streams to the end, then reap the child.
		return smol.Then(smol.Join[struct{}, struct{}](out, errs), func(smol.Pair[struct{}, struct{}]) smol.Future[error] {
			return smol.Map[process.ExitStatus](child.Status(), func(st process.ExitStatus) error {
				delete(r.running, child)
				child.Close()
				r.sem.Release(1)
				return st.Err()
			})
		})
	})
}

// lines copies a child's stream to stdout a line at a time, each with the
// prefix. Writing to stdout blocks this goroutine if stdout is a full pipe;
// a program whose stdout may be slow would write it from a task of its own
// through a channel.
type lines struct {
	r      *process.Reader
	prefix string
	buf    [4096]byte
	part   []byte // the line in progress
}

func (l *lines) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		n, ok, err := l.r.PollRead(cx, l.buf[:])
		if !ok {
			return struct{}{}, false, nil
		}
		data := l.buf[:n]
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			fmt.Printf("%s%s%s\n", l.prefix, l.part, data[:i])
			l.part = l.part[:0]
			data = data[i+1:]
		}
		l.part = append(l.part, data...)
		if err != nil {
			if len(l.part) > 0 {
				fmt.Printf("%s%s\n", l.prefix, l.part)
			}
			if err != io.EOF {
				fmt.Printf("%sreading output: %v\n", l.prefix, err)
			}
			return struct{}{}, true, nil
		}
	}
}
