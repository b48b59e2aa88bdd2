package smol

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
)

// TaskState is where a task stands in a task dump.
type TaskState uint8

// The states a live task can be in.
const (
	TaskWaiting TaskState = iota // idle until something wakes it
	TaskQueued                   // woken, waiting for its turn to run
	TaskRunning                  // being polled right now
)

func (s TaskState) String() string {
	switch s {
	case TaskWaiting:
		return "waiting"
	case TaskQueued:
		return "queued"
	case TaskRunning:
		return "running"
	}
	return fmt.Sprintf("TaskState(%d)", uint8(s))
}

// TaskInfo describes one live task in a dump.
type TaskInfo struct {
	ID    uint32    // the task's id, given when it first waited
	State TaskState // waiting, queued or running
	Polls uint32    // how many times it has been polled
	// Op and On say what the task's latest pending poll waited for: Op
	// the operation, On the resource as its String method describes it
	// ("tcp 127.0.0.1:80 <- 127.0.0.1:51234", "timer at ..."). On is
	// empty if the future that returned pending did not say (see
	// [Context.WaitingOn]), and stale while the task is queued or running.
	Op WaitOp
	On string
}

// String formats the task on one line, as [LocalExecutor.DumpTasks] does.
func (ti TaskInfo) String() string {
	s := fmt.Sprintf("task %d %s, %d polls", ti.ID, ti.State, ti.Polls)
	if ti.On != "" {
		s += ": " + ti.Op.String() + " " + ti.On
	}
	return s
}

// taskInfos lists the registered tasks, newest first. A task joins the
// registry the first time it waits, so a task that has never waited (queued
// for its first poll, or completing in its first poll) is not listed.
func (c *core) taskInfos() []TaskInfo {
	type snap struct {
		ti TaskInfo
		on fmt.Stringer
	}
	var snaps []snap
	c.regMu.Lock()
	for h := c.tasks; h != nil; h = h.rnext {
		// Under the task's lock a runner cannot claim it, so if it is not
		// running its poll count and wait note hold still (see stLocked).
		h.lock()
		st := h.state.Load()
		sn := snap{ti: TaskInfo{ID: atomic.LoadUint32(&h.id)}}
		switch {
		case st&(stCompleted|stClosed) != 0:
			h.unlock()
			continue // finishing: on its way out of the registry
		case st&stRunning != 0:
			sn.ti.State = TaskRunning
		case st&stScheduled != 0:
			sn.ti.State = TaskQueued
		}
		if sn.ti.State != TaskRunning {
			sn.ti.Polls, sn.ti.Op = h.polls, WaitOp(st>>stOpShift)
			sn.on, _ = h.aux.(fmt.Stringer)
		}
		h.unlock()
		snaps = append(snaps, sn)
	}
	c.regMu.Unlock()
	// Describe the resources with no lock held: a String method may take
	// the resource's own locks.
	out := make([]TaskInfo, len(snaps))
	for i, sn := range snaps {
		if sn.on != nil {
			sn.ti.On = sn.on.String()
		}
		out[i] = sn.ti
	}
	return out
}

// dumpTasks writes a header line and one line per task.
func (c *core) dumpTasks(w io.Writer, kind string) error {
	ts := c.taskInfos()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d tasks\n", kind, len(ts))
	for _, ti := range ts {
		fmt.Fprintln(&b, ti)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
