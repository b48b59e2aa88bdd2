package core

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

// command is an entry of the command table. arity is redis-server's: n > 0
// exactly n arguments counting the name, n < 0 at least -n.
type command struct {
	name  string
	arity int
	subOK bool // allowed in subscribed mode (RESP2)
	run   func(s *Session, args [][]byte, now int64)
}

var commands map[string]*command

func init() {
	commands = make(map[string]*command)
	for _, c := range []*command{
		{"ping", -1, true, cmdPing},
		{"echo", 2, false, cmdEcho},
		{"get", 2, false, cmdGet},
		{"set", -3, false, cmdSet},
		{"del", -2, false, cmdDel},
		{"exists", -2, false, cmdExists},
		{"incr", 2, false, func(s *Session, a [][]byte, now int64) { incrBy(s, a[1], 1, now) }},
		{"decr", 2, false, func(s *Session, a [][]byte, now int64) { incrBy(s, a[1], -1, now) }},
		{"expire", -3, false, cmdExpire},
		{"ttl", 2, false, func(s *Session, a [][]byte, now int64) { ttl(s, a[1], now, false) }},
		{"pttl", 2, false, func(s *Session, a [][]byte, now int64) { ttl(s, a[1], now, true) }},
		{"mget", -2, false, cmdMget},
		{"mset", -3, false, cmdMset},
		{"publish", 3, false, cmdPublish},
		{"subscribe", -2, true, cmdSubscribe},
		{"unsubscribe", -1, true, cmdUnsubscribe},
		{"quit", -1, true, cmdQuit},
		{"dbsize", 1, false, func(s *Session, a [][]byte, now int64) { s.out = appendInt(s.out, int64(len(s.db.keys))) }},
		{"flushall", -1, false, cmdFlush},
		{"flushdb", -1, false, cmdFlush},
		{"select", 2, false, cmdSelect},
		{"config", -2, false, cmdConfig},
		{"command", -1, false, func(s *Session, a [][]byte, now int64) { s.out = appendArray(s.out, 0) }},
	} {
		commands[c.name] = c
	}
}

const (
	errSyntax   = "ERR syntax error"
	errNotInt   = "ERR value is not an integer or out of range"
	errOverflow = "ERR increment or decrement would overflow"
)

// exec runs one request.
func (s *Session) exec(args [][]byte, now int64) {
	var lower [24]byte
	name := args[0]
	var c *command
	if len(name) <= len(lower) {
		for i, b := range name {
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			lower[i] = b
		}
		c = commands[string(lower[:len(name)])]
	}
	switch {
	case c == nil:
		s.out = appendError(s.out, unknownCommand(args))
	case c.arity > 0 && len(args) != c.arity || c.arity < 0 && len(args) < -c.arity:
		s.out = appendError(s.out, "ERR wrong number of arguments for '"+c.name+"' command")
	case len(s.subs) > 0 && !c.subOK:
		s.out = appendError(s.out, "ERR Can't execute '"+c.name+"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
	default:
		c.run(s, args, now)
	}
	s.checkOutput()
}

// unknownCommand is redis-server's message: the name and the first
// arguments, each as C's %.128s prints it (up to a NUL byte).
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.Write(cstr(args[0], 128))
	b.WriteString("', with args beginning with: ")
	n := 0
	for _, a := range args[1:] {
		if n >= 128 {
			break
		}
		a = cstr(a, 128-n)
		b.WriteByte('\'')
		b.Write(a)
		b.WriteString("' ")
		n += len(a) + 3
	}
	return b.String()
}

func cstr(b []byte, max int) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > max {
		b = b[:max]
	}
	return b
}

func cmdPing(s *Session, a [][]byte, now int64) {
	if len(a) > 2 {
		s.out = appendError(s.out, "ERR wrong number of arguments for 'ping' command")
		return
	}
	if len(s.subs) > 0 {
		s.out = appendArray(s.out, 2)
		s.out = appendBulkString(s.out, "pong")
		if len(a) == 2 {
			s.out = appendBulk(s.out, a[1])
		} else {
			s.out = appendBulkString(s.out, "")
		}
		return
	}
	if len(a) == 2 {
		s.out = appendBulk(s.out, a[1])
		return
	}
	s.out = append(s.out, "+PONG\r\n"...)
}

func cmdEcho(s *Session, a [][]byte, now int64) { s.out = appendBulk(s.out, a[1]) }

func cmdGet(s *Session, a [][]byte, now int64) {
	if e := s.db.lookup(a[1], now); e != nil {
		s.out = appendBulk(s.out, e.val)
		return
	}
	s.out = appendNull(s.out)
}

// cmdSet is SET key value [NX | XX] [GET] [EX seconds | PX milliseconds |
// KEEPTTL], with redis-server's option rules and messages.
func cmdSet(s *Session, a [][]byte, now int64) {
	var nx, xx, get, keep bool
	var unit int64 // 0: no expire; 1e9 for EX, 1e6 for PX
	var expArg []byte
	for j := 3; j < len(a); j++ {
		opt := strings.ToLower(string(a[j]))
		hasNext := j+1 < len(a)
		switch {
		case opt == "nx" && !xx:
			nx = true
		case opt == "xx" && !nx:
			xx = true
		case opt == "get":
			get = true
		case opt == "keepttl" && unit == 0:
			keep = true
		case opt == "ex" && !keep && unit == 0 && hasNext:
			unit, expArg = 1e9, a[j+1]
			j++
		case opt == "px" && !keep && unit == 0 && hasNext:
			unit, expArg = 1e6, a[j+1]
			j++
		default:
			s.out = appendError(s.out, errSyntax)
			return
		}
	}
	var exp int64
	if unit != 0 {
		v, ok := parseInt(expArg)
		if !ok {
			s.out = appendError(s.out, errNotInt)
			return
		}
		d, ok := expireDelta(v, unit, now)
		if !ok || v <= 0 {
			s.out = appendError(s.out, "ERR invalid expire time in 'set' command")
			return
		}
		exp = now + d
	}
	old := s.db.lookup(a[1], now)
	if get {
		if old != nil {
			s.out = appendBulk(s.out, old.val)
		} else {
			s.out = appendNull(s.out)
		}
	}
	if nx && old != nil || xx && old == nil {
		if !get {
			s.out = appendNull(s.out)
		}
		return
	}
	s.db.set(a[1], a[2], exp, keep)
	if !get {
		s.out = append(s.out, "+OK\r\n"...)
	}
}

// expireDelta converts v units (1e9 for seconds, 1e6 for milliseconds) to
// nanoseconds, failing where redis-server's millisecond arithmetic would
// overflow.
func expireDelta(v, unit, now int64) (int64, bool) {
	ms := v
	if unit == 1e9 {
		if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
			return 0, false
		}
		ms = v * 1000
	}
	// redis-server adds the deadline to the time in milliseconds; here the
	// clock is in nanoseconds, so the bound is a thousand times lower.
	if ms > (math.MaxInt64-now)/1e6 {
		return 0, false
	}
	return ms * 1e6, true
}

func cmdDel(s *Session, a [][]byte, now int64) {
	n := 0
	for _, k := range a[1:] {
		if e := s.db.lookup(k, now); e != nil {
			s.db.remove(string(k), e)
			n++
		}
	}
	s.out = appendInt(s.out, int64(n))
}

func cmdExists(s *Session, a [][]byte, now int64) {
	n := 0
	for _, k := range a[1:] {
		if s.db.lookup(k, now) != nil {
			n++
		}
	}
	s.out = appendInt(s.out, int64(n))
}

func incrBy(s *Session, key []byte, by int64, now int64) {
	e := s.db.lookup(key, now)
	var v int64
	if e != nil {
		var ok bool
		if v, ok = parseInt(e.val); !ok {
			s.out = appendError(s.out, errNotInt)
			return
		}
	}
	if by > 0 && v > math.MaxInt64-by || by < 0 && v < math.MinInt64-by {
		s.out = appendError(s.out, errOverflow)
		return
	}
	v += by
	var buf [20]byte
	num := appendIntDigits(buf[:0], v)
	if e != nil {
		e.val = append(e.val[:0], num...) // keeps the deadline, as INCR does
	} else {
		s.db.set(key, num, 0, false)
	}
	s.out = appendInt(s.out, v)
}

func appendIntDigits(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// cmdExpire is EXPIRE key seconds [NX | XX | GT | LT].
func cmdExpire(s *Session, a [][]byte, now int64) {
	var nx, xx, gt, lt bool
	for _, o := range a[3:] {
		switch strings.ToLower(string(o)) {
		case "nx":
			nx = true
		case "xx":
			xx = true
		case "gt":
			gt = true
		case "lt":
			lt = true
		default:
			s.out = appendError(s.out, "ERR Unsupported option "+string(o))
			return
		}
	}
	if nx && (xx || gt || lt) {
		s.out = appendError(s.out, "ERR NX and XX, GT or LT options at the same time are not compatible")
		return
	}
	if gt && lt {
		s.out = appendError(s.out, "ERR GT and LT options at the same time are not compatible")
		return
	}
	v, ok := parseInt(a[2])
	if !ok {
		s.out = appendError(s.out, errNotInt)
		return
	}
	d, ok := expireDelta(v, 1e9, now)
	if !ok {
		s.out = appendError(s.out, "ERR invalid expire time in 'expire' command")
		return
	}
	e := s.db.lookup(a[1], now)
	if e == nil {
		s.out = appendInt(s.out, 0)
		return
	}
	when := now + d
	if nx && e.exp != 0 || xx && e.exp == 0 || gt && (e.exp == 0 || when <= e.exp) || lt && e.exp != 0 && when >= e.exp {
		s.out = appendInt(s.out, 0)
		return
	}
	if when <= now {
		s.db.remove(string(a[1]), e)
	} else {
		s.db.setExp(string(a[1]), e, when)
	}
	s.out = appendInt(s.out, 1)
}

func ttl(s *Session, key []byte, now int64, ms bool) {
	e := s.db.lookup(key, now)
	switch {
	case e == nil:
		s.out = appendInt(s.out, -2)
	case e.exp == 0:
		s.out = appendInt(s.out, -1)
	default:
		left := (e.exp - now) / 1e6 // milliseconds, as redis-server counts
		if left < 0 {
			left = 0
		}
		if !ms {
			left = (left + 500) / 1000
		}
		s.out = appendInt(s.out, left)
	}
}

func cmdMget(s *Session, a [][]byte, now int64) {
	s.out = appendArray(s.out, len(a)-1)
	for _, k := range a[1:] {
		if e := s.db.lookup(k, now); e != nil {
			s.out = appendBulk(s.out, e.val)
		} else {
			s.out = appendNull(s.out)
		}
	}
}

func cmdMset(s *Session, a [][]byte, now int64) {
	if len(a)%2 == 0 {
		s.out = appendError(s.out, "ERR wrong number of arguments for 'mset' command")
		return
	}
	for j := 1; j < len(a); j += 2 {
		s.db.set(a[j], a[j+1], 0, false)
	}
	s.out = append(s.out, "+OK\r\n"...)
}

func cmdPublish(s *Session, a [][]byte, now int64) {
	s.out = appendInt(s.out, int64(s.db.publish(a[1], a[2])))
}

func cmdSubscribe(s *Session, a [][]byte, now int64) {
	for _, ch := range a[1:] {
		s.subscribe(string(ch))
	}
}

func cmdUnsubscribe(s *Session, a [][]byte, now int64) {
	if len(a) == 1 {
		s.unsubscribeAll(true)
		return
	}
	for _, ch := range a[1:] {
		s.unsubscribe(string(ch), true)
	}
}

func cmdQuit(s *Session, a [][]byte, now int64) {
	s.out = append(s.out, "+OK\r\n"...)
	s.closing = true
}

func cmdFlush(s *Session, a [][]byte, now int64) {
	if len(a) > 2 || len(a) == 2 && !strings.EqualFold(string(a[1]), "sync") && !strings.EqualFold(string(a[1]), "async") {
		s.out = appendError(s.out, errSyntax)
		return
	}
	clear(s.db.keys)
	s.db.exps, s.db.nexp = nil, 0
	s.out = append(s.out, "+OK\r\n"...)
}

func cmdSelect(s *Session, a [][]byte, now int64) {
	v, ok := parseInt(a[1])
	switch {
	case !ok:
		s.out = appendError(s.out, "ERR value is not an integer or out of range")
	case v != 0:
		s.out = appendError(s.out, "ERR DB index is out of range")
	default:
		s.out = append(s.out, "+OK\r\n"...)
	}
}

// cmdConfig answers CONFIG GET for the two parameters redis-benchmark asks
// for ("save" and "appendonly": no persistence) and with an empty list for
// the others; it has no other subcommand.
func cmdConfig(s *Session, a [][]byte, now int64) {
	if !strings.EqualFold(string(a[1]), "get") {
		s.out = appendError(s.out, "ERR unknown subcommand '"+string(cstr(a[1], 128))+"'. Try CONFIG HELP.")
		return
	}
	if len(a) < 3 {
		s.out = appendError(s.out, "ERR wrong number of arguments for 'config|get' command")
		return
	}
	var pairs [][2]string
	for _, p := range a[2:] {
		switch strings.ToLower(string(p)) {
		case "save":
			pairs = append(pairs, [2]string{"save", ""})
		case "appendonly":
			pairs = append(pairs, [2]string{"appendonly", "no"})
		}
	}
	s.out = appendArray(s.out, 2*len(pairs))
	for _, p := range pairs {
		s.out = appendBulkString(s.out, p[0])
		s.out = appendBulkString(s.out, p[1])
	}
}
