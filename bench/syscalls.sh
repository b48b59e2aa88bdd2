#!/usr/bin/env bash
# bench/syscalls.sh: what one echo server asks of the kernel per request:
# its system calls by kind, its context switches, and the TCP segments
# sent (both sides, from /proc/net/snmp), each divided by the requests of
# the measured window. It runs the servers named, one after another and
# as many rounds as asked, each in a fresh process pinned to core 0 with
# the load generator on core 1, as run.sh does, and counts with perf stat
# tracepoints (no hardware counters needed). The segment count is the
# host's, so nothing else should use TCP meanwhile: run it alone.
#
#   bench/syscalls.sh -servers "smol smol-uring tokio-ct" -conns 100 -rounds 2
#
# The servers are bench/servers.txt's names; run.sh must have built them
# into bench/bin first (any run.sh run does, -quick too). On a shared
# machine wrap it in flock, as every timed run should be:
#   flock /tmp/bench.lock bench/syscalls.sh -servers "smol tokio-ct"
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVERS="smol tokio-ct"
CONNS=100
ROUNDS=1
WARMUP=2
WINDOW=4
PORT=29600

usage() {
	cat <<'EOF'
usage: bench/syscalls.sh [options]
  -servers "A B"  servers of bench/servers.txt (default "smol tokio-ct")
  -conns N        connections (default 100)
  -rounds N       rounds; each runs every server once (default 1)
  -warmup S       seconds before the counting window (default 2)
  -window S       seconds counted (default 4)
EOF
}

while [ $# -gt 0 ]; do
	case "$1" in
	-servers) SERVERS=$2; shift 2 ;;
	-conns) CONNS=$2; shift 2 ;;
	-rounds) ROUNDS=$2; shift 2 ;;
	-warmup) WARMUP=$2; shift 2 ;;
	-window) WINDOW=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
command -v perf >/dev/null || { echo "syscalls.sh: perf is not installed (apt-get install -y linux-perf)" >&2; exit 1; }
[[ "$WINDOW" =~ ^[0-9]+$ && "$WINDOW" -ge 2 ]] || { echo "syscalls.sh: -window must be a whole number of seconds, at least 2" >&2; exit 2; }
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { echo "syscalls.sh: -warmup must be a whole number of seconds" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 20000 2>/dev/null || true
WORK=$(mktemp -d /tmp/smol-syscalls.XXXXXX)
trap 'rm -rf "$WORK"; [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null; [ -n "${PP:-}" ] && kill "$PP" 2>/dev/null; true' EXIT

# The system calls an echo server makes on its hot path, under any of the
# names the servers here use.
EVENTS=raw_syscalls:sys_enter,context-switches
for s in read write readv writev recvfrom sendto recvmsg sendmsg epoll_wait epoll_pwait epoll_pwait2 epoll_ctl io_uring_enter futex nanosleep sched_yield; do
	# Only the tracepoints this kernel has (epoll_wait is absent on arm64,
	# epoll_pwait2 before 5.11).
	if [ -d "/sys/kernel/tracing/events/syscalls/sys_enter_$s" ] || [ -d "/sys/kernel/debug/tracing/events/syscalls/sys_enter_$s" ]; then
		EVENTS+=",syscalls:sys_enter_$s"
	fi
done

outsegs() { awk '/^Tcp:/ { if (++n == 2) print $12 }' /proc/net/snmp; }
field() { sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" <<<"$1"; }

run=0
one() {
	local name=$1 line dir flags bin port=$((PORT + 2 * run))
	run=$((run + 1))
	line=$(awk -v n="$name" '$1 == n' "$HERE/servers.txt")
	[ -n "$line" ] || { echo "syscalls.sh: no server $name in bench/servers.txt" >&2; exit 2; }
	dir=$(awk '{print $2}' <<<"$line")
	flags=$(awk '{ $1 = $2 = ""; print }' <<<"$line")
	[ "$flags" = "  rust" ] && flags=
	bin="$HERE/bin/$dir"
	[ -x "$bin" ] || { echo "syscalls.sh: $bin is missing: run bench/run.sh -quick first" >&2; exit 2; }
	# $flags is split into words on purpose: it holds flags.
	# shellcheck disable=SC2086
	GOMAXPROCS=1 taskset -c 0 "$bin" $flags -addr "127.0.0.1:$port" -ctl "127.0.0.1:$((port + 1))" >"$WORK/server.log" 2>&1 &
	SPID=$!
	for _ in $(seq 1 100); do
		grep -qs '^READY' "$WORK/server.log" && break
		kill -0 "$SPID" 2>/dev/null || { echo "syscalls.sh: server $name exited:" >&2; cat "$WORK/server.log" >&2; exit 1; }
		sleep 0.1
	done
	# Count over the window only: start after the warm-up, stop before
	# the load generator does.
	local count=$((WINDOW - 1))
	(sleep "$WARMUP"; sleep 0.5; a=$(outsegs)
		perf stat -x, -e "$EVENTS" -p "$SPID" -- sleep "$count" 2>"$WORK/perf.txt"
		echo $(($(outsegs) - a)) >"$WORK/segs.txt") &
	PP=$!
	local out
	out=$(GOMAXPROCS=1 taskset -c 1 "$HERE/bin/loadgen" -json -mode echo -addr "127.0.0.1:$port" -ctl "127.0.0.1:$((port + 1))" \
		-conns "$CONNS" -size 64 -warmup "${WARMUP}s" -duration "${WINDOW}s" -pid "$SPID") || true
	if ! wait "$PP"; then
		PP=
		echo "syscalls.sh: perf stat failed:" >&2; cat "$WORK/perf.txt" >&2; exit 1
	fi
	PP=
	kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
	local rps reqs
	rps=$(field "$out" rps)
	if [ -z "$rps" ] || ! awk "BEGIN{exit !($rps > 0)}"; then
		echo "round $2 $name: no requests measured; the load generator said: $out" >&2
		return
	fi
	reqs=$(awk "BEGIN{print $rps * $count}")
	printf 'round %d %-10s %7.0f req/s, per request:' "$2" "$name" "$rps"
	awk -F, -v r="$reqs" '$1 ~ /^[0-9]+$/ && $1 > 0 {
		n = $3; sub(/^syscalls:sys_enter_/, "", n); sub(/^raw_syscalls:sys_enter/, "syscalls", n)
		printf " %s %.3f", n, $1 / r }' "$WORK/perf.txt"
	awk -v r="$reqs" '{ printf " tcp-segments-out %.3f\n", $1 / r }' "$WORK/segs.txt"
}

for r in $(seq 1 "$ROUNDS"); do
	for s in $SERVERS; do one "$s" "$r"; done
done
