//go:build linux

package uring

import (
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	for _, o := range []Options{{}, {Park: true}} {
		r, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("flags %#x features %#x sq %d cq %d rc=%v", r.SetupFlags(), r.Features(), r.SQEntries(), r.CQEntries(), r.rc != nil)
		sqe, _ := r.GetSQE()
		PrepNop(sqe, 7)
		if _, err := r.SubmitAndWait(time.Second); err != nil {
			t.Fatal(err)
		}
		var c [4]CQE
		n := r.Reap(c[:])
		t.Log(n, c[0], r.Stats)
		go func() { time.Sleep(10 * time.Millisecond); r.Notify() }()
		t0 := time.Now()
		r.SubmitAndWait(time.Second)
		n = r.Reap(c[:])
		t.Log("notify", n, time.Since(t0), r.Stats)
		t0 = time.Now()
		r.SubmitAndWait(20 * time.Millisecond)
		t.Log("timeout", time.Since(t0))
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Log(Available())
}
