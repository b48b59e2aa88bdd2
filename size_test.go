package smol

import (
	"testing"
	"unsafe"
)

// TestIdleSizes guards the task records that every idle connection and
// every pending task holds: the header is 88 bytes, so that the task of a
// future held by pointer is 96, a size class of its own (112 with one word
// more). internal/echo's TestIdleSizes guards the rest of a connection.
// It also checks that the runnable rebuilt from a header (see
// header.self) is the task itself, for futures of several sizes.
func TestIdleSizes(t *testing.T) {
	if got := unsafe.Sizeof(header{}); got != 88 {
		t.Errorf("the task header is %d bytes, want 88", got)
	}
	if got := unsafe.Sizeof(task[struct{}, *ptrFuture]{}); got != 96 {
		t.Errorf("the task of a pointer future is %d bytes, want 96", got)
	}
	ex := NewLocalExecutor()
	defer ex.Close()
	t1 := SpawnOn(ex, &ptrFuture{})
	if r, ok := t1.self().(*task[struct{}, *ptrFuture]); !ok || &r.Task != t1 {
		t.Error("the header of a pointer future's task does not lead back to its task")
	}
	t2 := SpawnOn(ex, bigFuture{})
	if r, ok := t2.self().(*task[[3]int, bigFuture]); !ok || &r.Task != t2 {
		t.Error("the header of a 100 KiB future's task does not lead back to its task")
	}
	if _, err := Run(ex, t2); err != nil {
		t.Fatal(err)
	}
}

type ptrFuture struct{}

func (*ptrFuture) Poll(*Context) (struct{}, bool, error) { return struct{}{}, true, nil }

// bigFuture is a future larger than 64 KiB, stored inline in its task.
type bigFuture struct{ buf [100 << 10]byte }

func (bigFuture) Poll(*Context) ([3]int, bool, error) { return [3]int{}, true, nil }
