package signal_test

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/signal"
	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the dispatching
// goroutine exits with the last stream closed. (goleak ignores os/signal's
// own goroutine, which lives as long as the process.)
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func notify(t *testing.T, sigs ...os.Signal) *signal.Signals {
	t.Helper()
	s, err := signal.Notify(sigs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func kill(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), sig); err != nil {
		t.Fatal(err)
	}
}

// recv receives one signal, failing the test after a few seconds.
func recv(t *testing.T, s *signal.Signals) os.Signal {
	t.Helper()
	sig, err := smol.BlockOn(smol.Timeout[os.Signal](s.Recv(), 10*time.Second))
	if err != nil {
		t.Fatalf("Recv on %v: %v", s, err)
	}
	return sig
}

// none checks that nothing more arrives on s for a while.
func none(t *testing.T, s *signal.Signals, d time.Duration) {
	t.Helper()
	sig, err := smol.BlockOn(smol.Timeout[os.Signal](s.Recv(), d))
	if !errors.Is(err, smol.ErrTimeout) {
		t.Fatalf("%v: got %v, %v; want nothing", s, sig, err)
	}
}

// A signal sent once is received exactly once by every stream registered
// for it, and by no other.
func TestExactlyOncePerStream(t *testing.T) {
	a := notify(t, syscall.SIGUSR1)
	b := notify(t, syscall.SIGUSR1, syscall.SIGUSR2)
	c := notify(t, syscall.SIGUSR2)
	for round := 0; round < 50; round++ {
		kill(t, syscall.SIGUSR1)
		if sig := recv(t, a); sig != syscall.SIGUSR1 {
			t.Fatalf("a got %v", sig)
		}
		if sig := recv(t, b); sig != syscall.SIGUSR1 {
			t.Fatalf("b got %v", sig)
		}
	}
	// Nothing was received twice, and c saw none of it.
	none(t, a, 50*time.Millisecond)
	none(t, b, 10*time.Millisecond)
	none(t, c, 10*time.Millisecond)
	kill(t, syscall.SIGUSR2)
	if sig := recv(t, c); sig != syscall.SIGUSR2 {
		t.Fatalf("c got %v", sig)
	}
	if sig := recv(t, b); sig != syscall.SIGUSR2 {
		t.Fatalf("b got %v", sig)
	}
	none(t, a, 50*time.Millisecond)
}

// SIGHUP, whose default action ends the process, is received instead.
func TestSIGHUP(t *testing.T) {
	s := notify(t, syscall.SIGHUP)
	kill(t, syscall.SIGHUP)
	if sig := recv(t, s); sig != syscall.SIGHUP {
		t.Fatalf("got %v", sig)
	}
}

// Several tasks waiting on one stream share its signals: each signal goes
// to one of them.
func TestManyReceivers(t *testing.T) {
	s := notify(t, syscall.SIGUSR1)
	ex := smol.NewExecutor()
	ex.Start(2)
	defer ex.Shutdown()
	const n = 4
	var mu sync.Mutex
	got := 0
	tasks := make([]*smol.Task[os.Signal], n)
	for i := range tasks {
		tasks[i] = smol.SpawnOn(ex, smol.Map[os.Signal](s.Recv(), func(sig os.Signal) os.Signal {
			mu.Lock()
			got++
			mu.Unlock()
			return sig
		}))
	}
	// One at a time, as the kernel merges a signal sent again before the
	// first was handled.
	for i := 0; i < n; i++ {
		kill(t, syscall.SIGUSR1)
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			g := got
			mu.Unlock()
			if g == i+1 {
				break
			}
			if g > i+1 || time.Now().After(deadline) {
				t.Fatalf("after %d signals, %d received", i+1, g)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for _, task := range tasks {
		if sig, err := smol.BlockOn(task); err != nil || sig != syscall.SIGUSR1 {
			t.Fatalf("got %v, %v", sig, err)
		}
	}
}

// A receive woken for a signal and then dropped passes the signal on.
func TestDiscardPassesWake(t *testing.T) {
	s := notify(t, syscall.SIGUSR2)
	r1, r2 := s.Recv(), s.Recv()
	w1, w2 := &countWaker{}, &countWaker{}
	if _, ok, _ := r1.Poll(smol.NewContext(w1)); ok {
		t.Fatal("r1 ready before any signal")
	}
	if _, ok, _ := r2.Poll(smol.NewContext(w2)); ok {
		t.Fatal("r2 ready before any signal")
	}
	kill(t, syscall.SIGUSR2)
	waitFor(t, func() bool { return w1.n() > 0 })
	if w2.n() != 0 {
		t.Fatal("one signal woke both receivers")
	}
	r1.Discard()
	waitFor(t, func() bool { return w2.n() > 0 })
	sig, ok, err := r2.Poll(smol.NewContext(w2))
	if !ok || err != nil || sig != syscall.SIGUSR2 {
		t.Fatalf("r2: %v %v %v", sig, ok, err)
	}
}

// Close wakes waiting receivers with ErrClosed; later receives and a
// second Close fail with it too.
func TestClose(t *testing.T) {
	s, err := signal.Notify(syscall.SIGUSR1)
	if err != nil {
		t.Fatal(err)
	}
	ex := smol.NewExecutor()
	ex.Start(1)
	defer ex.Shutdown()
	task := smol.SpawnOn(ex, s.Recv())
	time.Sleep(10 * time.Millisecond) // let it wait
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := smol.BlockOn(smol.Timeout[os.Signal](task, 10*time.Second)); !errors.Is(err, signal.ErrClosed) {
		t.Fatalf("waiting Recv: %v, want ErrClosed", err)
	}
	if _, err := smol.BlockOn(s.Recv()); !errors.Is(err, signal.ErrClosed) {
		t.Fatalf("Recv after Close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, signal.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// A signal queued and not received is dropped by Close; a stream opened
// later does not see it.
func TestCloseDropsQueued(t *testing.T) {
	s, err := signal.Notify(syscall.SIGUSR1)
	if err != nil {
		t.Fatal(err)
	}
	keep := notify(t, syscall.SIGUSR1) // proves the signal arrived
	kill(t, syscall.SIGUSR1)
	recv(t, keep)
	s.Close()
	if _, err := smol.BlockOn(s.Recv()); !errors.Is(err, signal.ErrClosed) {
		t.Fatalf("Recv after Close: %v", err)
	}
	later := notify(t, syscall.SIGUSR1)
	none(t, later, 50*time.Millisecond)
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		sigs []os.Signal
	}{
		{"none", nil},
		{"SIGKILL", []os.Signal{syscall.SIGKILL}},
		{"SIGSTOP", []os.Signal{syscall.SIGINT, syscall.SIGSTOP}},
		{"zero", []os.Signal{syscall.Signal(0)}},
		{"out of range", []os.Signal{syscall.Signal(200)}},
		{"not a syscall.Signal", []os.Signal{fakeSignal{}}},
	} {
		s, err := signal.Notify(tc.sigs...)
		if err == nil {
			s.Close()
			t.Errorf("%s: Notify succeeded", tc.name)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
	}
}

func TestString(t *testing.T) {
	s := notify(t, syscall.SIGINT, syscall.SIGTERM)
	if got, want := s.String(), "signals [interrupt terminated]"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if got := s.Signals(); len(got) != 2 || got[0] != syscall.SIGINT {
		t.Fatalf("Signals() = %v", got)
	}
}

// A task waiting in Recv names the stream in a task dump.
func TestDump(t *testing.T) {
	s := notify(t, syscall.SIGUSR1)
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	smol.SpawnOn(ex, s.Recv()).Detach()
	for ex.TryTick() {
	}
	tasks := ex.Tasks()
	if len(tasks) != 1 || tasks[0].On != "signals [user defined signal 1]" || tasks[0].Op != smol.WaitRecv {
		t.Fatalf("tasks: %v", tasks)
	}
}

type fakeSignal struct{}

func (fakeSignal) String() string { return "fake" }
func (fakeSignal) Signal()        {}

type countWaker struct {
	mu    sync.Mutex
	count int
}

func (w *countWaker) Wake() { w.mu.Lock(); w.count++; w.mu.Unlock() }
func (w *countWaker) n() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
