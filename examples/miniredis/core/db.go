package core

import (
	"container/heap"
	"time"
)

// Limits bounds what one client can make the server hold. The zero value
// of a field means its default.
type Limits struct {
	// MaxBulkLen is the longest bulk string accepted in a request
	// (redis-server's proto-max-bulk-len; default 64 MiB, redis-server's is
	// 512 MiB).
	MaxBulkLen int
	// MaxMultibulkLen is the largest argument count of a request
	// (default 1,048,576).
	MaxMultibulkLen int
	// MaxInlineLen is the longest inline request, and the longest count
	// line, accepted without its newline (default 64 KiB, redis-server's
	// PROTO_INLINE_MAX_SIZE).
	MaxInlineLen int
	// MaxQueryBuffer is the most unparsed request bytes a client may have
	// buffered (redis-server's client-query-buffer-limit; default 128 MiB).
	MaxQueryBuffer int
	// MaxOutput is the most reply bytes a client may have unwritten before
	// it is disconnected (default 64 MiB). A client that sends requests is
	// not read while it has more than OutputPause unwritten, so it reaches
	// this only with large replies.
	MaxOutput int
	// MaxPubSubOutput is MaxOutput for a client in subscribed mode, whose
	// output grows with other clients' PUBLISH however little it reads
	// (default 8 MiB, redis-server's soft pubsub limit).
	MaxPubSubOutput int
	// OutputPause is the unwritten reply size at which a client's further
	// requests wait until the replies are written (default 64 KiB).
	OutputPause int
}

func (l *Limits) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxBulkLen, 64<<20)
	def(&l.MaxMultibulkLen, 1<<20)
	def(&l.MaxInlineLen, 64<<10)
	def(&l.MaxQueryBuffer, 128<<20)
	def(&l.MaxOutput, 64<<20)
	def(&l.MaxPubSubOutput, 8<<20)
	def(&l.OutputPause, 64<<10)
}

// entry is a key's value and its deadline in Unix nanoseconds (0: none).
type entry struct {
	val []byte
	exp int64
}

// DB is the keyspace and the pub/sub registry. It is not safe for
// concurrent use: the engine serializes every call into it and into its
// sessions.
type DB struct {
	lim   Limits
	logf  func(format string, args ...any)
	now   func() time.Time
	keys  map[string]*entry
	exps  expHeap
	nexp  int // keys with a deadline
	chans map[string]map[*Session]struct{}
	// scratch is the request parsers' shared working memory (see parser).
	scratch scratch

	// OnEarlier, if set, is called when a deadline is set that comes
	// before every other pending one, with that deadline: the engine
	// re-arms its expiry timer.
	OnEarlier func(t time.Time)
}

// NewDB returns an empty keyspace whose time is now() and whose sessions
// have the given limits. logf receives the log lines (a client
// disconnected for its output, a query buffer over its limit); nil means
// none.
func NewDB(lim Limits, now func() time.Time, logf func(format string, args ...any)) *DB {
	lim.defaults()
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &DB{lim: lim, now: now, logf: logf, keys: make(map[string]*entry), chans: make(map[string]map[*Session]struct{})}
}

// Limits returns the limits in force, defaults filled in.
func (db *DB) Limits() Limits { return db.lim }

// Now returns the DB's time.
func (db *DB) Now() time.Time { return db.now() }

// Len returns the number of keys, expired ones not yet deleted included.
func (db *DB) Len() int { return len(db.keys) }

// lookup returns the live entry of key, deleting it if its deadline has
// passed (lazy expiry).
func (db *DB) lookup(key []byte, now int64) *entry {
	e := db.keys[string(key)]
	if e != nil && e.exp != 0 && now >= e.exp {
		db.remove(string(key), e)
		return nil
	}
	return e
}

func (db *DB) remove(key string, e *entry) {
	if e.exp != 0 {
		db.nexp--
	}
	delete(db.keys, key)
}

// set stores val (copied) under key, with deadline exp (0: none), or
// keeping the key's deadline if keepTTL; it reuses the entry and its buffer
// if the key exists.
func (db *DB) set(key, val []byte, exp int64, keepTTL bool) {
	e := db.keys[string(key)]
	if e == nil {
		k := string(key) // one copy, shared by the map and the heap
		e = &entry{val: append([]byte(nil), val...)}
		db.keys[k] = e
		if exp != 0 {
			db.setExp(k, e, exp)
		}
		return
	}
	e.val = append(e.val[:0], val...)
	if keepTTL || exp == 0 && e.exp == 0 {
		return
	}
	db.setExp(string(key), e, exp)
}

// setExp sets e's deadline and records it in the heap.
func (db *DB) setExp(key string, e *entry, exp int64) {
	if (e.exp != 0) != (exp != 0) {
		if exp != 0 {
			db.nexp++
		} else {
			db.nexp--
		}
	}
	e.exp = exp
	if exp == 0 {
		return
	}
	earliest := len(db.exps) == 0 || exp < db.exps[0].when
	heap.Push(&db.exps, expItem{when: exp, key: key, e: e})
	// Stale items (keys deleted, overwritten or given a new deadline) stay
	// in the heap until they come due; rebuild it when they are most of it.
	if len(db.exps) > 1024 && len(db.exps) > 2*db.nexp {
		db.rebuildExps()
	}
	if earliest && db.OnEarlier != nil {
		db.OnEarlier(time.Unix(0, exp))
	}
}

func (db *DB) rebuildExps() {
	db.exps = db.exps[:0]
	for k, e := range db.keys {
		if e.exp != 0 {
			db.exps = append(db.exps, expItem{when: e.exp, key: k, e: e})
		}
	}
	heap.Init(&db.exps)
}

// NextExpiry returns the earliest pending deadline, if any. It may belong
// to a key since deleted or given another deadline: ExpireDue then finds
// nothing to do, and the next call returns the next deadline.
func (db *DB) NextExpiry() (time.Time, bool) {
	if len(db.exps) == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, db.exps[0].when), true
}

// ExpireDue deletes keys whose deadline is at or before now, at most max
// of them (so one call stays short), and reports whether more are due.
func (db *DB) ExpireDue(now time.Time, max int) (more bool) {
	t := now.UnixNano()
	for n := 0; len(db.exps) > 0 && db.exps[0].when <= t; {
		if n == max {
			return true
		}
		it := heap.Pop(&db.exps).(expItem)
		if e := db.keys[it.key]; e == it.e && e.exp == it.when {
			db.remove(it.key, e)
			n++
		}
	}
	return false
}

type expItem struct {
	when int64
	key  string
	e    *entry
}

type expHeap []expItem

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, j int) bool { return h[i].when < h[j].when }
func (h expHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expHeap) Push(x any)        { *h = append(*h, x.(expItem)) }
func (h *expHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = expItem{}
	*h = old[:len(old)-1]
	return it
}
