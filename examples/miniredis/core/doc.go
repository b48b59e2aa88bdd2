// Package core is miniredis's engine-independent part: the RESP2 request
// parser, the keyspace with its expiry, publish/subscribe, and a Session per
// client that turns request bytes into reply bytes. It does no I/O and
// takes no locks: the engines that serve sockets (package server on the
// smol runtime, package netserver with a goroutine per connection) feed it
// what they read, write what it produced, and serialize access to a DB and
// its sessions (server runs everything on one LocalExecutor goroutine;
// netserver holds a mutex).
//
// # Expiry
//
// A key with a time to live is deleted lazily, when a command touches it
// after its deadline, and actively: the DB keeps a heap of deadlines, and
// the engine arms one timer for the earliest (DB.NextExpiry), calls
// DB.ExpireDue when it fires, and re-arms when a new deadline comes first
// (DB.OnEarlier). Time is whatever the engine's clock says (DB.Now), so on
// the smol engine a test drives expiry with a clock.Manual, without
// sleeping.
//
// # Bounds
//
// Limits caps what one client can make the server hold: a bulk's length
// (redis-server's proto-max-bulk-len), a multibulk's count, an inline
// request or a count line without its newline, the unparsed bytes of one
// request (client-query-buffer-limit), and the unwritten replies
// (client-output-buffer-limit). A client over a limit gets a protocol error
// and is closed, or, for the output, is closed with a log line: a
// subscriber that does not read is disconnected, never buffered without
// bound.
package core
