package core

// Client is what a Session needs of its engine's connection: a name for log
// lines (its address), and a way to be told that the session has output
// that did not come from its own requests (a published message), or must
// be closed (Session.Killed). Notify is called with the engine's
// serialization held (on the smol engine, from another connection's poll);
// it must only wake the connection, never write or block.
type Client interface {
	Notify()
	String() string
}

// Session is one client's protocol state: its unparsed request bytes, its
// unwritten replies and its subscriptions. An engine feeds it what it
// reads (Feed), writes what Output returns and reports it (Consume), and
// closes the connection when Closing or Killed says so.
//
// Back-pressure: once OutputPause reply bytes are unwritten, the session
// stops running requests and keeps the rest of what it was fed; the engine
// should stop reading too, write the output, and call Process while
// Pending. So a client that pipelines faster than it reads its replies
// makes the server hold at most about one read of requests and
// OutputPause of replies.
type Session struct {
	db      *DB
	c       Client
	in      []byte // request bytes not yet run: a partial request, or requests held back
	inOff   int    // in[:inOff] has been run
	p       parser
	out     []byte // replies: out[outOff:] is unwritten
	outOff  int
	shared  bool // out is the engine's scratch buffer (see UseScratch)
	subs    map[string]struct{}
	paused  bool // stopped for the output with requests perhaps left in in
	closing bool // close once the output is written: QUIT, protocol error
	killed  bool // close now: a limit was exceeded
	closed  bool
}

// NewSession returns a session on db for the engine's connection c.
func (db *DB) NewSession(c Client) *Session {
	s := new(Session)
	s.Init(db, c)
	return s
}

// Init initializes s, a Session embedded in a connection's state, for
// engines that want one allocation per connection.
func (s *Session) Init(db *DB, c Client) {
	*s = Session{db: db, c: c}
	s.p.bulk = -1
}

// Feed runs the complete requests in b and keeps the rest: a partial
// request, or, if the output reached OutputPause, everything not yet run.
// b may be a buffer the engine reuses after the call: what is kept is
// copied.
func (s *Session) Feed(b []byte) {
	if s.closing || s.killed || s.closed {
		return
	}
	if len(s.in) > s.inOff {
		s.in = append(s.in, b...)
		s.runBuffered()
		return
	}
	n := s.run(b)
	if n < len(b) && !s.closing && !s.killed {
		s.in = append(s.in[:0], b[n:]...)
		s.inOff = 0
		s.checkQuery()
	}
}

// Pending reports whether requests held back for the output may be
// waiting: once the output is written, call Process before reading more.
func (s *Session) Pending() bool { return s.paused && len(s.in) > s.inOff && !s.closing && !s.killed }

// Process runs requests held back by Feed, as far as the output allows.
func (s *Session) Process() {
	if len(s.in) > s.inOff && !s.closing && !s.killed && !s.closed {
		s.runBuffered()
	}
}

func (s *Session) runBuffered() {
	s.inOff += s.run(s.in[s.inOff:])
	switch {
	case s.closing || s.killed || s.inOff == len(s.in):
		s.in, s.inOff = nil, 0 // an idle client keeps no input buffer
	case s.inOff > 0:
		s.in = s.in[:copy(s.in, s.in[s.inOff:])]
		s.inOff = 0
	}
	s.checkQuery()
}

func (s *Session) checkQuery() {
	if n := len(s.in) - s.inOff; n > s.db.lim.MaxQueryBuffer {
		s.db.logf("miniredis: closing client %s: query buffer of %d bytes over the limit (%d)", s.c, n, s.db.lim.MaxQueryBuffer)
		s.kill()
	}
}

// run runs the requests at the start of b and returns how many bytes it
// used: up to a partial request, or to where the output made it pause, or
// all of b after a protocol error or QUIT (the rest is dropped).
func (s *Session) run(b []byte) int {
	now := s.db.now().UnixNano()
	pos := 0
	for pos < len(b) {
		if s.closing || s.killed {
			return len(b)
		}
		if len(s.out)-s.outOff >= s.db.lim.OutputPause {
			s.paused = true
			return pos
		}
		st, n := s.p.parse(b[pos:], &s.db.lim, &s.db.scratch)
		switch st {
		case needMore:
			s.paused = false
			return pos
		case protoErr:
			s.out = appendError(s.out, s.p.err)
			s.closing = true
			return len(b)
		case empty:
			pos += n
		case complete:
			pos += n
			s.exec(s.p.args, now)
		}
	}
	s.paused = false
	return pos
}

// Output returns the unwritten replies. The slice is valid until the next
// call into the session or its DB.
func (s *Session) Output() []byte { return s.out[s.outOff:] }

// Consume marks the first n bytes of Output as written.
func (s *Session) Consume(n int) {
	s.outOff += n
	if s.outOff == len(s.out) {
		s.out, s.outOff = s.out[:0], 0
	}
}

// UseScratch lets the session write replies into buf, a buffer that the
// engine shares between the connections it polls on one goroutine, if its
// output is empty now. Before the engine leaves the connection (its poll
// returns), it must call Retain, which copies what is still unwritten out
// of buf. So a connection whose replies the kernel takes at once holds no
// output buffer between requests.
func (s *Session) UseScratch(buf []byte) {
	if s.outOff == len(s.out) {
		s.out, s.outOff, s.shared = buf[:0], 0, true
	}
}

// Retain makes the session stop using the engine's scratch buffer,
// copying what is unwritten in it.
func (s *Session) Retain() {
	if !s.shared {
		return
	}
	s.shared = false
	if rest := s.out[s.outOff:]; len(rest) > 0 {
		s.out = append([]byte(nil), rest...)
	} else {
		s.out = nil
	}
	s.outOff = 0
}

// Closing reports whether the connection is to be closed once Output is
// written: after QUIT or a protocol error.
func (s *Session) Closing() bool { return s.closing }

// Killed reports whether the connection is to be closed at once, its
// output dropped: a limit was exceeded (the log line says which).
func (s *Session) Killed() bool { return s.killed }

// Idle reports whether the session has nothing in progress: no buffered
// request bytes and no unwritten output. A draining server closes idle
// connections.
func (s *Session) Idle() bool { return len(s.in) == s.inOff && s.outOff == len(s.out) }

// Close ends the session: it leaves every channel and drops its buffers.
// Call it once the connection is closed.
func (s *Session) Close() {
	if s.closed {
		return
	}
	s.unsubscribeAll(false)
	s.closed = true
	s.in, s.out, s.inOff, s.outOff = nil, nil, 0, 0
}

func (s *Session) kill() {
	if s.killed {
		return
	}
	s.killed = true
	s.unsubscribeAll(false)
	s.in, s.inOff = nil, 0
	if !s.shared {
		s.out = nil
	}
	s.out, s.outOff = s.out[:0], 0
}

// checkOutput disconnects the client if its unwritten output is over its
// limit.
func (s *Session) checkOutput() {
	lim, kind := s.db.lim.MaxOutput, "normal"
	if len(s.subs) > 0 {
		lim, kind = s.db.lim.MaxPubSubOutput, "pubsub"
	}
	if n := len(s.out) - s.outOff; n > lim {
		s.db.logf("miniredis: closing client %s (%s): output buffer of %d bytes over the limit (%d)", s.c, kind, n, lim)
		s.kill()
		s.c.Notify()
	}
}

// push appends a published message to a subscriber's output.
func (s *Session) push(msg []byte) {
	if s.killed || s.closed {
		return
	}
	s.out = append(s.out, msg...)
	s.checkOutput()
	if !s.killed {
		s.c.Notify()
	}
}

func (s *Session) unsubscribeAll(reply bool) {
	if len(s.subs) == 0 {
		if reply {
			s.out = appendArray(s.out, 3)
			s.out = appendBulkString(s.out, "unsubscribe")
			s.out = appendNull(s.out)
			s.out = appendInt(s.out, 0)
		}
		return
	}
	for ch := range s.subs {
		s.unsubscribe(ch, reply)
	}
}

func (s *Session) unsubscribe(ch string, reply bool) {
	if _, ok := s.subs[ch]; ok {
		delete(s.subs, ch)
		m := s.db.chans[ch]
		delete(m, s)
		if len(m) == 0 {
			delete(s.db.chans, ch)
		}
	}
	if reply {
		s.out = appendArray(s.out, 3)
		s.out = appendBulkString(s.out, "unsubscribe")
		s.out = appendBulkString(s.out, ch)
		s.out = appendInt(s.out, int64(len(s.subs)))
	}
}

func (s *Session) subscribe(ch string) {
	if s.subs == nil {
		s.subs = make(map[string]struct{})
	}
	if _, ok := s.subs[ch]; !ok {
		s.subs[ch] = struct{}{}
		m := s.db.chans[ch]
		if m == nil {
			m = make(map[*Session]struct{})
			s.db.chans[ch] = m
		}
		m[s] = struct{}{}
	}
	s.out = appendArray(s.out, 3)
	s.out = appendBulkString(s.out, "subscribe")
	s.out = appendBulkString(s.out, ch)
	s.out = appendInt(s.out, int64(len(s.subs)))
}

// publish sends msg to ch's subscribers and returns how many there were.
func (db *DB) publish(ch, msg []byte) int {
	m := db.chans[string(ch)]
	if len(m) == 0 {
		return 0
	}
	b := appendArray(nil, 3)
	b = appendBulkString(b, "message")
	b = appendBulk(b, ch)
	b = appendBulk(b, msg)
	n := len(m)
	for s := range m {
		s.push(b) // may disconnect s, deleting it from m: allowed in a range
	}
	return n
}
