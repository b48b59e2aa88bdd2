#!/usr/bin/env bash
# bench/ab.sh: an A/B comparison of echo-smol as built from two commits (or
# the working tree, "."), interleaved so that drift in the machine's state
# affects both alike. Each round runs A then B, or B then A on odd rounds,
# each in a fresh server process pinned to one core with the load generator
# on the other, as run.sh does. It prints one line per run and the medians
# of requests/s and of the server's CPU time per request, with B/A ratios.
#
#   bench/ab.sh -a HEAD~1 -b . -conns 1000 -rounds 5
#   bench/ab.sh -a HEAD~1 -b . -mode idle -conns 19000 -rounds 3
#   bench/ab.sh -h
#
# In idle mode it reports the server's memory per idle connection instead:
# resident growth over the connections, and the same after a forced GC.
#
# On a shared machine wrap it in flock, as every timed run should be:
#   flock /tmp/bench.lock bench/ab.sh -a main -b .
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"

A=HEAD
B=.
ARGS_A=
ARGS_B=
CONNS=1000
SIZE=64
ROUNDS=5
WARMUP=2s
DURATION=5s
PORT=29000
MODE=echo
PERF=0

usage() {
	cat <<'EOF'
usage: bench/ab.sh [options]
  -a REV         first build: a commit, or "." for the working tree (default HEAD)
  -b REV         second build (default ".")
  -args-a "..."  extra flags for A's server (for example "-budget 1000000000",
                 to compare the same build with and without forced yields)
  -args-b "..."  extra flags for B's server
  -conns N       connections (default 1000)
  -size N        message size in bytes (default 64)
  -rounds N      rounds, one run of each build per round (default 5)
  -warmup D      warm-up before the window (default 2s)
  -duration D    measured window (default 5s)
  -port P        first TCP port (default 29000; two per run)
  -mode M        echo (default) or idle (memory per idle connection)
  -perf          echo: also count the server's system calls and context
                 switches per request over the window (perf stat tracepoints,
                 which need no hardware counters)
EOF
}

while [ $# -gt 0 ]; do
	case "$1" in
	-a) A=$2; shift 2 ;;
	-b) B=$2; shift 2 ;;
	-args-a) ARGS_A=$2; shift 2 ;;
	-args-b) ARGS_B=$2; shift 2 ;;
	-conns) CONNS=$2; shift 2 ;;
	-size) SIZE=$2; shift 2 ;;
	-rounds) ROUNDS=$2; shift 2 ;;
	-warmup) WARMUP=$2; shift 2 ;;
	-duration) DURATION=$2; shift 2 ;;
	-port) PORT=$2; shift 2 ;;
	-mode) MODE=$2; shift 2 ;;
	-perf) PERF=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

WORK=$(mktemp -d /tmp/smol-ab.XXXXXX)
trap 'rm -rf "$WORK"; [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null; true' EXIT
ulimit -n "$(ulimit -Hn)"

# build REV NAME: echo-smol of REV (a commit, or "." for the working tree)
# into $WORK/NAME.
build() {
	local rev=$1 name=$2 src
	if [ "$rev" = . ]; then
		src=$REPO
	else
		src=$WORK/src-$name
		mkdir -p "$src"
		git -C "$REPO" archive "$rev" | tar -x -C "$src"
	fi
	(cd "$src/bench" && go build -o "$WORK/$name" ./cmd/echo-smol)
	echo "ab: $name = $rev ($(git -C "$REPO" rev-parse --short "$([ "$rev" = . ] && echo HEAD || echo "$rev")")$([ "$rev" = . ] && echo ' + working tree'))"
}
build "$A" A
build "$B" B
[ -z "$ARGS_A" ] || echo "ab: A's server flags: $ARGS_A"
[ -z "$ARGS_B" ] || echo "ab: B's server flags: $ARGS_B"
(cd "$HERE" && go build -o "$WORK/loadgen" ./cmd/loadgen)

field() { sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" <<<"$1"; }

run=0
declare -A RPS NS SC P99
one() {
	local name=$1 port=$((PORT + 2 * run)) log=$WORK/server.log
	run=$((run + 1))
	local extra=$ARGS_A
	[ "$name" = B ] && extra=$ARGS_B
	# $extra is split into words on purpose: it holds flags.
	# shellcheck disable=SC2086
	GOMAXPROCS=1 taskset -c 0 "$WORK/$name" $extra -addr "127.0.0.1:$port" -ctl "127.0.0.1:$((port + 1))" >"$log" 2>&1 &
	SPID=$!
	for _ in $(seq 1 100); do grep -qs '^READY' "$log" && break; sleep 0.1; done
	local out pf=$WORK/perf.txt
	rm -f "$pf"
	if [ "$PERF" = 1 ] && [ "$MODE" = echo ]; then
		# Count over the measured window: start after the warm-up (and
		# the connections, which take well under a second here).
		(sleep "${WARMUP%s}"; sleep 1; perf stat -x, -e raw_syscalls:sys_enter,context-switches \
			-p "$SPID" -- sleep "$(awk "BEGIN{print ${DURATION%s} - 1.5}")" 2>"$pf") &
	fi
	out=$(GOMAXPROCS=1 taskset -c 1 "$WORK/loadgen" -json -mode "$MODE" -addr "127.0.0.1:$port" -ctl "127.0.0.1:$((port + 1))" \
		-conns "$CONNS" -size "$SIZE" -warmup "$WARMUP" -duration "$DURATION" -pid "$SPID")
	kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
	local rps ns
	if [ "$MODE" = idle ]; then
		# The two columns: B/conn of resident growth, and after a GC.
		rps=$(field "$out" bytes_per_conn); ns=$(field "$out" bytes_per_conn_gc)
		printf 'ab: round %d %s B/conn %.0f after a GC %.0f\n' "$2" "$name" "$rps" "$ns"
	else
		rps=$(field "$out" rps); ns=$(field "$out" server_cpu_ns_req)
		local extra=""
		if [ "$PERF" = 1 ]; then
			wait
			local sc cs win
			win=$(awk "BEGIN{print ${DURATION%s} - 1.5}")
			sc=$(awk -F, '/raw_syscalls/ {print $1}' "$pf"); cs=$(awk -F, '/context-switches/ {print $1}' "$pf")
			extra=$(awk "BEGIN{printf \" syscalls/req %.3f ctxsw/req %.4f\", $sc/($rps*$win), $cs/($rps*$win)}")
			SC[$name]+="$(awk "BEGIN{print $sc/($rps*$win)}") "
		fi
		local p99
		p99=$(field "$out" p99_us)
		P99[$name]+="$p99 "
		printf 'ab: round %d %s rps %.0f server ns/req %.0f p99 %.0f us%s\n' "$2" "$name" "$rps" "$ns" "$p99" "$extra"
	fi
	RPS[$name]+="$rps "; NS[$name]+="$ns "
}

for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then one A "$r"; one B "$r"; else one B "$r"; one A "$r"; fi
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ra=$(median <<<"${RPS[A]}"); rb=$(median <<<"${RPS[B]}")
na=$(median <<<"${NS[A]}"); nb=$(median <<<"${NS[B]}")
if [ "$MODE" = idle ]; then
	printf 'ab: medians over %d rounds, %d idle conns: A %.0f B/conn (%.0f after a GC); B %.0f B/conn (%.0f after a GC); B/A %.3f (%.3f)\n' \
		"$ROUNDS" "$CONNS" "$ra" "$na" "$rb" "$nb" "$(awk "BEGIN{print $rb/$ra}")" "$(awk "BEGIN{print $nb/$na}")"
	exit 0
fi
if [ "$PERF" = 1 ]; then
	printf 'ab: median syscalls/req: A %.3f B %.3f\n' "$(median <<<"${SC[A]}")" "$(median <<<"${SC[B]}")"
fi
pa=$(median <<<"${P99[A]}"); pb=$(median <<<"${P99[B]}")
printf 'ab: medians over %d rounds, %d conns, %d B: A %.0f req/s %.0f ns/req p99 %.0f us; B %.0f req/s %.0f ns/req p99 %.0f us; B/A req/s %.3f, ns/req %.3f, p99 %.3f\n' \
	"$ROUNDS" "$CONNS" "$SIZE" "$ra" "$na" "$pa" "$rb" "$nb" "$pb" "$(awk "BEGIN{print $rb/$ra}")" "$(awk "BEGIN{print $nb/$na}")" "$(awk "BEGIN{print $pb/$pa}")"
