#!/usr/bin/env bash
# examples/tlsecho/idlemem.sh: memory per idle connection, TLS and plain, of
# the servers on smol (state machines; TLS through smoltls) and on Go's net
# (a goroutine per connection; crypto/tls over net.Conn), and of miniredis's
# engines and redis-server for reference.
#
#   examples/tlsecho/idlemem.sh            10,000 connections
#   examples/tlsecho/idlemem.sh -n 2000    fewer
#
# For each server: start it on core 0 (GOMAXPROCS=1 for Go), read its
# resident memory (VmRSS) after a GC (SIGUSR1 for tlsecho; the Go miniredis
# has no such hook, so its baseline and end are plain VmRSS), open N
# connections from a client process on core 1 (tlsecho -dial: a TLS
# handshake where it applies, then one exchange on each: a line echoed, or
# PING), wait 2 s, and read VmRSS again, and after a GC where the server has
# the hook. The figure is (end - baseline) / N.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
N=10000
PORT=28443
while [ $# -gt 0 ]; do
	case "$1" in
	-n) N="$2"; shift 2 ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((N + 100)) ]; then
	echo "open-file limit $(ulimit -n) too low for $N connections (the hard limit here is 20,000)" >&2
	exit 1
fi
BIN="$(mktemp -d)"
SERVER=""
CLIENT=""
cleanup() {
	[ -n "$CLIENT" ] && kill "$CLIENT" 2>/dev/null; [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$BIN"
}
trap cleanup EXIT
(cd "$ROOT" && go build -o "$BIN/tlsecho" ./examples/tlsecho && go build -o "$BIN/miniredis" ./examples/miniredis)

rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }
gc_rss() { # pid: tlsecho prints RSS after a GC on SIGUSR1
	local before
	before=$(grep -c '^RSS bytes=' "$BIN/server.out" || true)
	kill -USR1 "$1"
	for _ in $(seq 50); do
		[ "$(grep -c '^RSS bytes=' "$BIN/server.out" || true)" -gt "$before" ] && break
		sleep 0.1
	done
	grep '^RSS bytes=' "$BIN/server.out" | tail -1 | cut -d= -f2
}

echo "connections: $N; load: $(cut -d' ' -f1-3 /proc/loadavg); $(go version)"
echo
echo "| server | TLS | B/conn (RSS growth) | B/conn after a GC |"
echo "|---|---|---:|---:|"
run() { # label kind tls
	local label=$1 kind=$2 tls=$3 proto=echo gc=yes
	case "$kind" in
	tlsecho-smol|tlsecho-net)
		GOMAXPROCS=1 taskset -c 0 "$BIN/tlsecho" -addr "127.0.0.1:$PORT" -mode "${kind#tlsecho-}" -tls="$tls" >"$BIN/server.out" 2>&1 &
		;;
	miniredis-*)
		GOMAXPROCS=1 taskset -c 0 "$BIN/miniredis" -addr "127.0.0.1:$PORT" -mode "${kind#miniredis-}" -tls="$tls" >"$BIN/server.out" 2>&1 &
		proto=redis gc=no
		;;
	redis)
		taskset -c 0 redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --maxclients 19000 --logfile "$BIN/server.out" &
		proto=redis gc=no
		;;
	esac
	SERVER=$!
	for _ in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
		sleep 0.1
	done
	sleep 0.5
	local base end endgc
	if [ $gc = yes ]; then base=$(gc_rss "$SERVER"); else base=$(rss "$SERVER"); fi
	tail -f /dev/null | taskset -c 1 "$BIN/tlsecho" -dial "$N" -addr "127.0.0.1:$PORT" -tls="$tls" -proto "$proto" >"$BIN/client.out" 2>&1 &
	CLIENT=$!
	for _ in $(seq 1200); do
		grep -q '^READY' "$BIN/client.out" && break
		if ! kill -0 "$CLIENT" 2>/dev/null; then cat "$BIN/client.out" >&2; exit 1; fi
		sleep 0.1
	done
	sleep 2
	end=$(rss "$SERVER")
	endgc="-"
	if [ $gc = yes ]; then endgc=$(( ($(gc_rss "$SERVER") - base) / N )); fi
	printf "| %s | %s | %s | %s |\n" "$label" "$tls" "$(( (end - base) / N ))" "$endgc"
	pkill -P $$ tail 2>/dev/null || true
	kill "$CLIENT" 2>/dev/null; wait "$CLIENT" 2>/dev/null || true
	kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true
	CLIENT="" SERVER=""
	sleep 0.5
}
run "tlsecho on smol (state machines)" tlsecho-smol true
run "tlsecho on net (goroutine per connection)" tlsecho-net true
run "tlsecho on smol (state machines)" tlsecho-smol false
run "tlsecho on net (goroutine per connection)" tlsecho-net false
run "miniredis, smol state machines" miniredis-smol true
run "miniredis, smol coroutines" miniredis-coro true
run "miniredis, net" miniredis-net true
run "miniredis, smol state machines" miniredis-smol false
run "miniredis, smol coroutines" miniredis-coro false
run "miniredis, net" miniredis-net false
if command -v redis-server >/dev/null; then run "redis-server 7 (reference)" redis false; fi
echo
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
