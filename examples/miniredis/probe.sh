#!/usr/bin/env bash
# examples/miniredis/probe.sh: where the time goes in one redis-benchmark
# run, on both sides: the server's and the client's CPU per request and
# how much of the run each was busy, the server's context switches, and
# (with -perf) the system calls each side made per pipelined batch.
#
#   examples/miniredis/probe.sh -server smol -t get -c 1000 -P 16
#   examples/miniredis/probe.sh -server redis -t set -c 50 -P 16 -perf
#   examples/miniredis/probe.sh -bin /tmp/old-miniredis -server smol -t mset
#
# -server is smol, coro, net (miniredis built from this tree, or -bin) or
# redis (redis-server). The server runs on core 0 (GOMAXPROCS=1 for Go), the
# client on core 1, as in bench.sh. The client's CPU comes from
# /usr/bin/time (its whole life, connection set-up included); the server's
# from /proc/PID/stat over the client's life; "busy" divides either by the
# benchmark's own duration (requests / requests per second), so set-up
# makes it read a few percent high. The system calls come from perf stat
# on the syscalls:* tracepoints (run as root), the client's over its whole
# life. A side busy about 100% of the run is the bottleneck.
#
# On a shared machine wrap it in flock, as every timed run should be:
#   flock /tmp/bench.lock examples/miniredis/probe.sh ...
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SERVER=smol
BIN=
TEST=get
N=1000000
C=1000
P=16
PORT=26390
PERF=0

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
	cat <<'EOF'
options:
  -server S   smol, coro, net or redis (default smol)
  -bin PATH   a miniredis binary to run instead of building this tree
  -t TEST     one redis-benchmark test (default get)
  -n N, -c C, -P P   requests, connections, pipeline (default 1000000, 1000, 16)
  -perf       also count system calls per batch on both sides
  -port P     TCP port (default 26390)
EOF
}

while [ $# -gt 0 ]; do
	case "$1" in
	-server) SERVER=$2; shift 2 ;;
	-bin) BIN=$2; shift 2 ;;
	-t) TEST=$2; shift 2 ;;
	-n) N=$2; shift 2 ;;
	-c) C=$2; shift 2 ;;
	-P) P=$2; shift 2 ;;
	-perf) PERF=1; shift ;;
	-port) PORT=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done

for t in redis-benchmark redis-cli taskset /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }
done
[ "$PERF" = 0 ] || command -v perf >/dev/null || { echo "-perf needs perf (apt-get install -y linux-perf)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

TMP="$(mktemp -d)"
PID=""
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

case "$SERVER" in
smol|coro|net)
	if [ -z "$BIN" ]; then
		BIN="$TMP/miniredis"
		(cd "$ROOT" && go build -o "$BIN" ./examples/miniredis)
	fi
	GOMAXPROCS=1 taskset -c 0 "$BIN" -addr "127.0.0.1:$PORT" -mode "$SERVER" >"$TMP/server.log" 2>&1 &
	;;
redis)
	taskset -c 0 redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
		--maxclients 10000 --dir "$TMP" --logfile "$TMP/server.log" &
	;;
*) echo "unknown -server $SERVER" >&2; exit 2 ;;
esac
PID=$!
for _ in $(seq 100); do
	redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
	sleep 0.1
done
redis-cli -p "$PORT" ping >/dev/null 2>&1 || { echo "the server did not start:" >&2; cat "$TMP/server.log" >&2; exit 1; }

# snap: the server's CPU ticks, then its voluntary and involuntary context
# switches summed over its threads.
snap() {
	awk '{ printf "%d ", $14 + $15 }' "/proc/$PID/stat"
	cat /proc/"$PID"/task/*/status | awk '/^voluntary_ctxt/ { v += $2 } /^nonvoluntary_ctxt/ { n += $2 } END { print v, n }'
}

EV=syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto
EV=$EV,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_pwait2,syscalls:sys_enter_epoll_ctl
EV=$EV,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,syscalls:sys_enter_accept4
CLIENT=(taskset -c 1 redis-benchmark -p "$PORT" -t "$TEST" -n "$N" -c "$C" -P "$P" --csv)
before=$(snap)
if [ "$PERF" = 1 ]; then
	# Waits that returned nothing (timeouts, or a look that found no event).
	perf stat -x, -o "$TMP/perf.server" -e "$EV" \
		-e syscalls:sys_exit_epoll_pwait --filter 'ret == 0' -e syscalls:sys_exit_epoll_wait --filter 'ret == 0' -p "$PID" &
	PP=$!
	sleep 0.5
	out=$(/usr/bin/time -f "CLIENT %U %S" perf stat -x, -o "$TMP/perf.client" -e "$EV" -- "${CLIENT[@]}" 2>&1)
	kill -INT "$PP"
	wait "$PP" || true
else
	out=$(/usr/bin/time -f "CLIENT %U %S" "${CLIENT[@]}" 2>&1)
fi
after=$(snap)

rps=$(echo "$out" | awk -F'","' 'NR == 2 { gsub(/"/, "", $2); print $2 }')
cli=$(echo "$out" | awk '/^CLIENT/ { print $2 + $3 }')
tick=$(getconf CLK_TCK)
echo "$before $after" | awk -v n="$N" -v p="$P" -v rps="$rps" -v cli="$cli" -v tick="$tick" -v s="$SERVER" -v t="$TEST" -v c="$C" '{
	cpu = ($4 - $1) / tick; dur = n / rps
	printf "%s %s -c %d -P %d: %.0f req/s\n", s, t, c, p, rps
	printf "  server: %.0f ns CPU/req, busy %.0f%% of the run, %.3f voluntary and %.3f involuntary context switches per batch\n", cpu * 1e9 / n, cpu / dur * 100, ($5 - $2) / n * p, ($6 - $3) / n * p
	printf "  client: %.0f ns CPU/req, busy %.0f%% of the run\n", cli * 1e9 / n, cli / dur * 100
}'
if [ "$PERF" = 1 ]; then
	for side in server client; do
		echo "  $side system calls per batch of $P (filtered: epoll waits that returned no event):"
		awk -F, -v n="$N" -v p="$P" '$1 ~ /^[0-9]+$/ && $1 > 0 {
			name = $3; sub(/^syscalls:sys_(enter|exit)_/, "", name)
			if ($3 ~ /exit/) name = name " (empty)"
			printf "    %-22s %8.3f\n", name, $1 / n * p }' "$TMP/perf.$side"
	done
fi
