package smol

import (
	"sync"
	"sync/atomic"
)

// Future is a value that becomes ready later. Poll reports ok == true once
// the future is ready, with its value, or with a non-nil err if it failed;
// until then it returns ok == false, with the other results zero, after
// arranging for cx.Waker() to be woken when polling again can make
// progress. See the package documentation for the whole contract.
type Future[T any] interface {
	Poll(cx *Context) (value T, ok bool, err error)
}

// Waker wakes the task that waits on a future. Wake must be cheap, safe to
// call from any goroutine and any number of times, and must not run the
// task inline. Wakers must be comparable, as pointers are: the runtime
// compares them with == to tell a new waiter from one already registered.
type Waker interface {
	Wake()
}

type funcWaker struct{ f func() }

func (w *funcWaker) Wake() { w.f() }

// WakerFunc returns a Waker that calls f. f must keep the Waker contract:
// cheap, idempotent, safe from any goroutine.
func WakerFunc(f func()) Waker { return &funcWaker{f} }

// NoopWaker is a Waker that does nothing, for polling a future by hand when
// no wake is needed (tests, try-once checks).
var NoopWaker = WakerFunc(func() {})

// Discarder is implemented by futures that hold a registration, such as a
// place in a wait queue, a timer in its driver's heap or a wake owed to
// another waiter, which must be given up when the future is dropped before
// it is ready. Go has no destructors, so the runtime calls Discard for
// them: a task calls it on its future when the task is canceled or its
// executor closed, and the combinators forward it to the futures they hold
// and call it on the losers of a race. Discard is called at most once,
// never concurrently with Poll, and never after Poll returned ready.
//
// A future of yours that holds a library future must forward Discard to
// it, as every combinator in this package does:
//
//	func (f *myFuture) Discard() { smol.Discard(f.inner) }
//
// Nothing warns when it does not: the inner future's registration then
// stays until it would have fired (a timer) or until its resource is
// closed (a lock's queue place is never given up, which stalls the lock).
type Discarder interface {
	Discard()
}

// Discard calls f.Discard if f is a [Discarder], and does nothing
// otherwise: the way for a future to give up a future it holds.
func Discard(f any) {
	if d, ok := f.(Discarder); ok {
		d.Discard()
	}
}

type pollFn[T any] func(cx *Context) (T, bool, error)

func (f pollFn[T]) Poll(cx *Context) (T, bool, error) { return f(cx) }

// PollFn returns a future whose Poll calls f: a closure used as a future.
func PollFn[T any](f func(cx *Context) (T, bool, error)) Future[T] { return pollFn[T](f) }

type readyFuture[T any] struct{ v T }

func (r readyFuture[T]) Poll(*Context) (T, bool, error) { return r.v, true, nil }

// Ready returns a future that is ready at once with v.
func Ready[T any](v T) Future[T] { return readyFuture[T]{v} }

type failedFuture[T any] struct{ err error }

func (f failedFuture[T]) Poll(*Context) (T, bool, error) { var z T; return z, true, f.err }

// Failed returns a future that is ready at once with the error err.
func Failed[T any](err error) Future[T] { return failedFuture[T]{err} }

type neverFuture[T any] struct{}

func (neverFuture[T]) Poll(*Context) (T, bool, error) { var z T; return z, false, nil }

// Never returns a future that is never ready and never wakes its task.
// Awaiting it parks a task until it is canceled or its executor is closed.
func Never[T any]() Future[T] { return neverFuture[T]{} }

type yieldFuture struct{ yielded bool }

func (y *yieldFuture) Poll(cx *Context) (struct{}, bool, error) {
	if y.yielded {
		return struct{}{}, true, nil
	}
	y.yielded = true
	cx.budget = 0 // the rest of the poll is given up too: the task is busy
	cx.Waker().Wake()
	return struct{}{}, false, nil
}

// YieldNow returns a future that is pending once, waking itself, and then
// ready: awaiting it lets the executor run every other runnable task first.
// It gives up the rest of the task's budget, so the poll that awaits it
// should return pending at once, as it must anyway.
func YieldNow() Future[struct{}] { return &yieldFuture{} }

type mapFuture[A, B any] struct {
	f  Future[A]
	fn func(A) B
}

func (m *mapFuture[A, B]) Poll(cx *Context) (B, bool, error) {
	var z B
	a, ok, err := m.f.Poll(cx)
	if !ok || err != nil {
		return z, ok, err
	}
	return m.fn(a), true, nil
}

// Discard forwards to the mapped future.
func (m *mapFuture[A, B]) Discard() { Discard(m.f) }

// Map returns a future that awaits f and applies fn to its value. If f
// fails, the map fails with f's error and fn is not called.
func Map[A, B any](f Future[A], fn func(A) B) Future[B] { return &mapFuture[A, B]{f: f, fn: fn} }

type thenFuture[A, B any] struct {
	first  Future[A]
	fn     func(A) Future[B]
	second Future[B]
}

func (t *thenFuture[A, B]) Poll(cx *Context) (B, bool, error) {
	if t.second == nil {
		a, ok, err := t.first.Poll(cx)
		if !ok || err != nil {
			var z B
			return z, ok, err
		}
		t.second, t.first = t.fn(a), nil
	}
	return t.second.Poll(cx)
}

// Discard forwards to whichever future is pending.
func (t *thenFuture[A, B]) Discard() {
	if t.second != nil {
		Discard(t.second)
	} else {
		Discard(t.first)
	}
}

// Then returns a future that awaits f, passes its value to fn, and then
// awaits the future fn returned: a sequence of two asynchronous steps. If f
// fails, Then fails with f's error and fn is not called.
func Then[A, B any](f Future[A], fn func(A) Future[B]) Future[B] {
	return &thenFuture[A, B]{first: f, fn: fn}
}

// Pair holds the values of the two futures given to [Join].
type Pair[A, B any] struct {
	A A
	B B
}

type joinFuture[A, B any] struct {
	a            Future[A]
	b            Future[B]
	out          Pair[A, B]
	aDone, bDone bool
}

func (j *joinFuture[A, B]) Poll(cx *Context) (Pair[A, B], bool, error) {
	var err error
	if !j.aDone {
		if j.out.A, j.aDone, err = j.a.Poll(cx); err != nil {
			// b is either done or pending: give up the pending one.
			if !j.bDone {
				Discard(j.b)
			}
			return Pair[A, B]{}, true, err
		}
	}
	if !j.bDone {
		if j.out.B, j.bDone, err = j.b.Poll(cx); err != nil {
			// a is either done or pending: give up the pending one.
			if !j.aDone {
				Discard(j.a)
			}
			return Pair[A, B]{}, true, err
		}
	}
	if j.aDone && j.bDone {
		return j.out, true, nil
	}
	return Pair[A, B]{}, false, nil
}

// Discard forwards to the futures not yet ready.
func (j *joinFuture[A, B]) Discard() {
	if !j.aDone {
		Discard(j.a)
	}
	if !j.bDone {
		Discard(j.b)
	}
}

// Join returns a future that awaits both a and b, polling a first, and is
// ready with both values once both are ready. If either fails, Join fails
// at once with that error, and the other future, if still pending, is
// discarded and not polled again (a task keeps running: cancel it if that
// is wanted).
func Join[A, B any](a Future[A], b Future[B]) Future[Pair[A, B]] {
	return &joinFuture[A, B]{a: a, b: b}
}

// joinAllFuture polls only the children woken since their last poll: each
// child has its own waker that marks it and wakes the parent, so a wake costs
// one child poll, not len(fs).
type joinChild struct {
	j     *joinAllState
	woken atomic.Bool
	cx    Context
}

// joinAllState is the part of a join that child wakers touch; it does not
// depend on T so the child type need not be generic.
type joinAllState struct {
	mu     sync.Mutex
	parent Waker
}

func (c *joinChild) Wake() {
	// Only the first wake since the child's last poll wakes the parent: the
	// parent has not yet polled this child, so another wake adds nothing.
	if c.woken.CompareAndSwap(false, true) {
		c.j.mu.Lock()
		w := c.j.parent
		c.j.mu.Unlock()
		w.Wake()
	}
}

type joinAllFuture[T any] struct {
	st   joinAllState
	fs   []Future[T]
	out  []T
	left int
	kids []joinChild
}

func (j *joinAllFuture[T]) Poll(cx *Context) ([]T, bool, error) {
	j.st.mu.Lock()
	j.st.parent = cx.Waker()
	j.st.mu.Unlock()
	if j.kids == nil {
		j.kids = make([]joinChild, len(j.fs))
		for i := range j.kids {
			k := &j.kids[i]
			k.j, k.cx.waker = &j.st, k
			k.woken.Store(true)
		}
	}
	for i := range j.kids {
		k := &j.kids[i]
		if j.fs[i] == nil || !k.woken.Swap(false) {
			continue
		}
		// A child polls with the parent's driver and budget, and its own
		// waker; what it spends is charged to the parent's poll.
		k.cx.inherit(cx)
		v, ok, err := j.fs[i].Poll(&k.cx)
		cx.settle(&k.cx)
		if err != nil {
			j.fs[i] = nil
			j.Discard()
			return nil, true, err
		}
		if ok {
			j.out[i], j.fs[i] = v, nil
			j.left--
		}
	}
	if j.left > 0 {
		return nil, false, nil
	}
	return j.out, true, nil
}

// Discard forwards to the futures not yet ready.
func (j *joinAllFuture[T]) Discard() {
	for i, f := range j.fs {
		if f != nil {
			Discard(f)
			j.fs[i] = nil
		}
	}
}

// JoinAll returns a future that awaits every future in fs and is ready with
// their values in the order of fs. After the first poll, a wake re-polls
// only the futures that were woken. If one fails, JoinAll fails at once
// with its error and discards the others, as [Join] does.
func JoinAll[T any](fs []Future[T]) Future[[]T] {
	return &joinAllFuture[T]{fs: append([]Future[T](nil), fs...), out: make([]T, len(fs)), left: len(fs)}
}

// Winner is the result of [Race]: the index of the first future found ready
// and its value.
type Winner[T any] struct {
	Index int
	Value T
}

type raceFuture[T any] struct{ fs []Future[T] }

func (r *raceFuture[T]) Poll(cx *Context) (Winner[T], bool, error) {
	for i, f := range r.fs {
		if v, ok, err := f.Poll(cx); ok {
			r.fs[i] = nil
			r.Discard()
			return Winner[T]{i, v}, true, err
		}
	}
	return Winner[T]{}, false, nil
}

// Discard forwards to every future still racing.
func (r *raceFuture[T]) Discard() {
	for i, f := range r.fs {
		if f != nil {
			Discard(f)
			r.fs[i] = nil
		}
	}
}

// Race returns a future that polls fs in order and is ready with the first
// one found ready, whether it succeeded or failed: the Winner's Index says
// which, and the race's error is that future's error. Earlier futures win
// ties, so the outcome is reproducible. The losers are not polled again:
// those that are [Discarder]s are discarded, and tasks among them keep
// running (cancel them if that is wanted). Race of no futures is never
// ready.
func Race[T any](fs ...Future[T]) Future[Winner[T]] {
	return &raceFuture[T]{fs: append([]Future[T](nil), fs...)}
}

// Either is the result of [Select]: Index is 0 if a finished first, 1 if b
// did, and A or B holds its value.
type Either[A, B any] struct {
	Index int
	A     A
	B     B
}

type selectFuture[A, B any] struct {
	a Future[A]
	b Future[B]
}

func (s *selectFuture[A, B]) Poll(cx *Context) (Either[A, B], bool, error) {
	if v, ok, err := s.a.Poll(cx); ok {
		Discard(s.b)
		return Either[A, B]{Index: 0, A: v}, true, err
	}
	if v, ok, err := s.b.Poll(cx); ok {
		Discard(s.a)
		return Either[A, B]{Index: 1, B: v}, true, err
	}
	return Either[A, B]{}, false, nil
}

// Discard forwards to both futures.
func (s *selectFuture[A, B]) Discard() {
	Discard(s.a)
	Discard(s.b)
}

// Select returns a future that is ready with whichever of a and b is ready
// first, polling a first, and reports which one it was; the select's error
// is that future's error. The other future is not polled again, and is
// discarded if it is a [Discarder].
func Select[A, B any](a Future[A], b Future[B]) Future[Either[A, B]] {
	return &selectFuture[A, B]{a: a, b: b}
}
