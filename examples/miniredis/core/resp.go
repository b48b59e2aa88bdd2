package core

import (
	"bytes"
	"strconv"
)

// The request parser. A request is either a multibulk ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
// or an inline command ("GET k\r\n"), told apart by its first byte, as
// redis-server does (networking.c, processMultibulkBuffer and
// processInlineBuffer). The parser is incremental: on a partial request it
// keeps how far it got (the position, the argument count, the spans of the
// arguments read so far, the length of a bulk whose header it has read), so
// that a large request arriving in many reads is parsed once, not once per
// read. Positions are relative to the start of the request, so the caller
// may move the request's bytes (copy them out of a shared buffer) between
// calls.
//
// The checks and their messages are redis-server 7's, in its order:
//
//	*<count>   no '\r' within MaxInlineLen   "too big mbulk count string"
//	           not an integer, or too big     "invalid multibulk length"
//	           <= 0                           an empty request, skipped
//	$<len>     no '\r' within MaxInlineLen   "too big bulk count string"
//	           first byte not '$'            "expected '$', got 'x'"
//	           not an integer, < 0, too big   "invalid bulk length"
//	inline     no '\n' within MaxInlineLen   "too big inline request"
//	           unterminated quotes           "unbalanced quotes in request"
//
// Like redis-server it does not check the two bytes after a bulk's payload.
//
// Memory. A request's argument spans and its argument slices go to a
// scratch that every session of a DB shares (the engine serializes them),
// so a pipeline of many-argument requests (MSET of 10 keys: 21 spans) runs
// without allocating; only a request that has to wait for more bytes
// copies its spans so far into a slice of its own session, dropped once it
// completes. An idle session holds neither.

type parseStatus int

const (
	needMore parseStatus = iota // the request is incomplete
	complete                    // a request of n bytes, arguments in p.args
	empty                       // an empty request of n bytes: nothing to run
	protoErr                    // malformed: reply p.err and close
)

type span struct{ off, n int32 }

type parser struct {
	pos    int    // bytes of the current request parsed so far
	argc   int    // the multibulk count, or 0 before its header is read
	bulk   int    // the length of the bulk whose header was read, or -1
	spans  []span // the arguments read so far: in the scratch, or owned
	own    bool   // spans is the parser's own (a partial request waits)
	inline []byte // the unescaped arguments of an inline request
	args   [][]byte
	err    string // the message of a protocol error
}

// scratch is what the parsers of one DB's sessions share: the spans of
// the request being parsed, unless it waits for more bytes, and the
// arguments of the latest complete one (valid until the next parse).
type scratch struct {
	spans []span
	args  [][]byte
}

// reset readies the parser for the next request. Spans in the scratch
// give it back whatever capacity they grew to; a partial request's own
// spans are dropped.
func (p *parser) reset(sc *scratch) {
	p.pos, p.argc, p.bulk = 0, 0, -1
	if !p.own && p.spans != nil {
		sc.spans = p.spans[:0]
	}
	p.spans, p.own = nil, false
	if cap(p.inline) > 256 {
		p.inline = nil
	}
}

// hold makes a request that needs more bytes keep its spans so far in a
// slice of its own: other sessions will use the scratch meanwhile.
func (p *parser) hold(sc *scratch) (parseStatus, int) {
	if !p.own && p.spans != nil {
		sc.spans = p.spans[:0]
		p.spans, p.own = append([]span(nil), p.spans...), true
	}
	return needMore, 0
}

// parse parses the request at the start of b, which holds the bytes seen
// so far from the request's first byte on. On complete or empty, n is the
// request's length and the parser is reset for the next one; args (for
// complete) point into b or into p.inline and are valid until the next
// call. sc is the DB's scratch.
func (p *parser) parse(b []byte, lim *Limits, sc *scratch) (st parseStatus, n int) {
	if p.argc == 0 {
		if b[0] != '*' {
			return p.parseInline(b, lim, sc)
		}
		i := bytes.IndexByte(b, '\r')
		if i < 0 {
			if len(b) > lim.MaxInlineLen {
				return p.fail("too big mbulk count string")
			}
			return needMore, 0
		}
		if i+1 >= len(b) {
			return needMore, 0 // the '\n' has not arrived
		}
		ll, ok := parseInt(b[1:i])
		if !ok || ll > int64(lim.MaxMultibulkLen) {
			return p.fail("invalid multibulk length")
		}
		if ll <= 0 {
			n = i + 2
			p.reset(sc)
			return empty, n
		}
		p.pos = i + 2
		p.argc = int(ll)
		p.bulk = -1
		p.spans = sc.spans[:0]
	}
	for len(p.spans) < p.argc {
		if p.bulk < 0 {
			rest := b[p.pos:]
			i := bytes.IndexByte(rest, '\r')
			if i < 0 {
				if len(rest) > lim.MaxInlineLen {
					return p.fail("too big bulk count string")
				}
				return p.hold(sc)
			}
			if i+1 >= len(rest) {
				return p.hold(sc)
			}
			if rest[0] != '$' {
				return p.fail("expected '$', got '" + string(rest[0]) + "'")
			}
			ll, ok := parseInt(rest[1:i])
			if !ok || ll < 0 || ll > int64(lim.MaxBulkLen) {
				return p.fail("invalid bulk length")
			}
			p.pos += i + 2
			p.bulk = int(ll)
		}
		if len(b)-p.pos < p.bulk+2 {
			return p.hold(sc)
		}
		p.spans = append(p.spans, span{int32(p.pos), int32(p.bulk)})
		p.pos += p.bulk + 2
		p.bulk = -1
	}
	args := sc.args[:0]
	for _, s := range p.spans {
		args = append(args, b[s.off:s.off+s.n:s.off+s.n])
	}
	sc.args, p.args = args, args
	n = p.pos
	p.reset(sc)
	return complete, n
}

func (p *parser) fail(msg string) (parseStatus, int) {
	p.err = "ERR Protocol error: " + msg
	p.spans, p.own = nil, false // the request is dropped; leave the scratch alone
	return protoErr, 0
}

// parseInline parses a request of space-separated words ending in '\n'
// (an optional '\r' before it is dropped), with quoting as redis-cli and
// sdssplitargs have it.
func (p *parser) parseInline(b []byte, lim *Limits, sc *scratch) (parseStatus, int) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		if len(b) > lim.MaxInlineLen {
			return p.fail("too big inline request")
		}
		return needMore, 0
	}
	line := b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if !p.splitArgs(line) {
		return p.fail("unbalanced quotes in request")
	}
	p.reset(sc)
	if len(p.args) == 0 {
		return empty, i + 1
	}
	return complete, i + 1
}

// splitArgs is sdssplitargs: words separated by white space; "double
// quotes" with \n \r \t \b \a \\ \" and \xHH escapes; 'single quotes' with
// \' only; a closing quote must be followed by a space or the end. A NUL
// byte ends the line, as it ends the C string redis-server parses.
func (p *parser) splitArgs(line []byte) bool {
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	p.inline = p.inline[:0]
	var ends []int
	isSpace := func(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' }
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		inq, insq := false, false
		for done := false; !done; {
			switch {
			case inq:
				switch {
				case i >= len(line):
					return false
				case line[i] == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					p.inline = append(p.inline, unhex(line[i+2])<<4|unhex(line[i+3]))
					i += 3
				case line[i] == '\\' && i+1 < len(line):
					i++
					c := line[i]
					switch c {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'b':
						c = '\b'
					case 'a':
						c = '\a'
					}
					p.inline = append(p.inline, c)
				case line[i] == '"':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return false
					}
					done = true
				default:
					p.inline = append(p.inline, line[i])
				}
			case insq:
				switch {
				case i >= len(line):
					return false
				case line[i] == '\\' && i+1 < len(line) && line[i+1] == '\'':
					i++
					p.inline = append(p.inline, '\'')
				case line[i] == '\'':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return false
					}
					done = true
				default:
					p.inline = append(p.inline, line[i])
				}
			default:
				if i >= len(line) {
					done = true
					break
				}
				switch line[i] {
				case ' ', '\n', '\r', '\t':
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					p.inline = append(p.inline, line[i])
				}
			}
			if i < len(line) {
				i++
			}
		}
		ends = append(ends, len(p.inline))
	}
	p.args = p.args[:0]
	start := 0
	for _, e := range ends {
		p.args = append(p.args, p.inline[start:e:e])
		start = e
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// parseInt is redis-server's string2ll: an optional '-', then decimal
// digits with no leading zero (except "0" itself), no sign on zero, and no
// overflow.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	if b[0] == '-' {
		neg = true
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] < '1' || b[0] > '9' || len(b) > 19 {
		return 0, false
	}
	var v uint64 // at most 19 digits: no overflow
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// Reply encoding.

func appendSimple(b []byte, s string) []byte {
	b = append(b, '+')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// appendError appends an error reply; like redis-server it turns '\r' and
// '\n' in the message into spaces, so that the reply stays one line.
func appendError(b []byte, msg string) []byte {
	b = append(b, '-')
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, '\r', '\n')
}

func appendInt(b []byte, v int64) []byte {
	b = append(b, ':')
	b = strconv.AppendInt(b, v, 10)
	return append(b, '\r', '\n')
}

func appendBulk(b []byte, v []byte) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

func appendBulkString(b []byte, v string) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

func appendNull(b []byte) []byte { return append(b, "$-1\r\n"...) }

func appendArray(b []byte, n int) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}
