package smol

import (
	"sync"
	"sync/atomic"
)

// Future is a value that becomes ready later. Poll reports the value with
// ok == true once it is ready; until then it returns ok == false and
// arranges for cx.Waker() to be woken when polling again can make progress.
// See the package documentation for the whole contract.
type Future[T any] interface {
	Poll(cx *Context) (value T, ok bool)
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

// Context is what a future is polled with: for now, the waker of the task
// being polled. It is valid only during the Poll call that received it.
type Context struct {
	waker Waker
}

// NewContext returns a Context whose Waker is w, for polling a future by
// hand, as a test or a custom executor does.
func NewContext(w Waker) *Context { return &Context{waker: w} }

// Waker returns the waker of the task being polled. Keep it, not cx, to wake
// the task after Poll returns.
func (cx *Context) Waker() Waker { return cx.waker }

// Discarder is implemented by futures that hold a registration, such as a
// place in a wait queue or a wake owed to another waiter, which must be
// given up when the future is dropped before it is ready. Go has no
// destructors, so the runtime calls Discard for them: a task calls it on its
// future when the task is canceled or its executor closed, and the
// combinators forward it to the futures they hold and call it on the losers
// of a race. Discard is called at most once, never concurrently with Poll,
// and never after Poll returned ready.
type Discarder interface {
	Discard()
}

// discard calls f.Discard if f is a Discarder.
func discard(f any) {
	if d, ok := f.(Discarder); ok {
		d.Discard()
	}
}

// PollFn is a closure used as a future: each Poll calls the function.
type PollFn[T any] func(cx *Context) (T, bool)

// Poll calls f(cx).
func (f PollFn[T]) Poll(cx *Context) (T, bool) { return f(cx) }

type readyFuture[T any] struct{ v T }

func (r readyFuture[T]) Poll(*Context) (T, bool) { return r.v, true }

// Ready returns a future that is ready at once with v.
func Ready[T any](v T) Future[T] { return readyFuture[T]{v} }

type neverFuture[T any] struct{}

func (neverFuture[T]) Poll(*Context) (T, bool) { var z T; return z, false }

// Never returns a future that is never ready and never wakes its task.
// Awaiting it parks a task until its executor is closed.
func Never[T any]() Future[T] { return neverFuture[T]{} }

type yieldFuture struct{ yielded bool }

func (y *yieldFuture) Poll(cx *Context) (struct{}, bool) {
	if y.yielded {
		return struct{}{}, true
	}
	y.yielded = true
	cx.Waker().Wake()
	return struct{}{}, false
}

// YieldNow returns a future that is pending once, waking itself, and then
// ready: awaiting it lets the executor run every other runnable task first.
func YieldNow() Future[struct{}] { return &yieldFuture{} }

type mapFuture[A, B any] struct {
	f  Future[A]
	fn func(A) B
}

func (m *mapFuture[A, B]) Poll(cx *Context) (B, bool) {
	a, ok := m.f.Poll(cx)
	if !ok {
		var z B
		return z, false
	}
	return m.fn(a), true
}

// Discard forwards to the mapped future.
func (m *mapFuture[A, B]) Discard() { discard(m.f) }

// Map returns a future that awaits f and then applies fn to its value.
func Map[A, B any](f Future[A], fn func(A) B) Future[B] {
	return &mapFuture[A, B]{f: f, fn: fn}
}

type thenFuture[A, B any] struct {
	first  Future[A]
	fn     func(A) Future[B]
	second Future[B]
}

func (t *thenFuture[A, B]) Poll(cx *Context) (B, bool) {
	if t.second == nil {
		a, ok := t.first.Poll(cx)
		if !ok {
			var z B
			return z, false
		}
		t.second, t.first = t.fn(a), nil
	}
	return t.second.Poll(cx)
}

// Discard forwards to whichever future is pending.
func (t *thenFuture[A, B]) Discard() {
	if t.second != nil {
		discard(t.second)
	} else {
		discard(t.first)
	}
}

// Then returns a future that awaits f, passes its value to fn, and then
// awaits the future fn returned: a sequence of two asynchronous steps.
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

func (j *joinFuture[A, B]) Poll(cx *Context) (Pair[A, B], bool) {
	if !j.aDone {
		j.out.A, j.aDone = j.a.Poll(cx)
	}
	if !j.bDone {
		j.out.B, j.bDone = j.b.Poll(cx)
	}
	if j.aDone && j.bDone {
		return j.out, true
	}
	return Pair[A, B]{}, false
}

// Discard forwards to the futures not yet ready.
func (j *joinFuture[A, B]) Discard() {
	if !j.aDone {
		discard(j.a)
	}
	if !j.bDone {
		discard(j.b)
	}
}

// Join returns a future that awaits both a and b, polling a first, and is
// ready with both values once both are ready.
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

func (j *joinAllFuture[T]) Poll(cx *Context) ([]T, bool) {
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
		if v, ok := j.fs[i].Poll(&k.cx); ok {
			j.out[i], j.fs[i] = v, nil
			j.left--
		}
	}
	if j.left > 0 {
		return nil, false
	}
	return j.out, true
}

// Discard forwards to the futures not yet ready.
func (j *joinAllFuture[T]) Discard() {
	for _, f := range j.fs {
		if f != nil {
			discard(f)
		}
	}
}

// JoinAll returns a future that awaits every future in fs and is ready with
// their values in the order of fs. After the first poll, a wake re-polls
// only the futures that were woken.
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

func (r *raceFuture[T]) Poll(cx *Context) (Winner[T], bool) {
	for i, f := range r.fs {
		if v, ok := f.Poll(cx); ok {
			r.fs[i] = nil
			r.Discard()
			return Winner[T]{i, v}, true
		}
	}
	return Winner[T]{}, false
}

// Discard forwards to every future still racing.
func (r *raceFuture[T]) Discard() {
	for i, f := range r.fs {
		if f != nil {
			discard(f)
			r.fs[i] = nil
		}
	}
}

// Race returns a future that polls fs in order and is ready with the first
// one found ready; earlier futures win ties, so the outcome is reproducible.
// The losers are not polled again: those that are [Discarder]s are
// discarded, and tasks among them keep running (cancel them if that is
// wanted). Race of no futures is never ready.
func Race[T any](fs ...Future[T]) Future[Winner[T]] {
	return &raceFuture[T]{fs: append([]Future[T](nil), fs...)}
}

// Either is the result of [Select]: Index is 0 if A is set, 1 if B is set.
type Either[A, B any] struct {
	Index int
	A     A
	B     B
}

type selectFuture[A, B any] struct {
	a Future[A]
	b Future[B]
}

func (s *selectFuture[A, B]) Poll(cx *Context) (Either[A, B], bool) {
	if v, ok := s.a.Poll(cx); ok {
		discard(s.b)
		return Either[A, B]{Index: 0, A: v}, true
	}
	if v, ok := s.b.Poll(cx); ok {
		discard(s.a)
		return Either[A, B]{Index: 1, B: v}, true
	}
	return Either[A, B]{}, false
}

// Discard forwards to both futures.
func (s *selectFuture[A, B]) Discard() {
	discard(s.a)
	discard(s.b)
}

// Select returns a future that is ready with whichever of a and b is ready
// first, polling a first, and reports which one it was. The other future is
// not polled again, and is discarded if it is a [Discarder].
func Select[A, B any](a Future[A], b Future[B]) Future[Either[A, B]] {
	return &selectFuture[A, B]{a: a, b: b}
}
