#!/usr/bin/env bash
# bench/burst.sh: a fresh connection's first echo while the server is
# flooded (issue 16, item 3), for several Go echo servers, interleaved.
#
#   bench/burst.sh                              3 rounds: smol gnet nbio net
#   bench/burst.sh -servers "smol net" -rounds 5
#   bench/burst.sh -a-rev 92c9a1f               also smol as built from that commit ("smol@REV")
#
# Each round runs every server in turn (a fresh process on core 0; the
# load generator on core 1), and loadgen -mode burst makes 3 bursts per
# run: 1,000 connections each write 1 MiB at once and stop reading, and
# 20 ms later a probe process of its own dials a fresh connection and
# times its first 64-byte echo, from the write of the request to the
# reply (the dial is reported apart); the server's CPU time over the next
# 100 ms shows whether the burst was still being served. It prints one
# line per run and, per server, the median, least and worst first echo
# over every burst of every round.
#
# On a shared machine wrap it in flock, as every timed run should be:
#   flock /tmp/bench.lock bench/burst.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SERVERS="smol gnet nbio net"
ROUNDS=3
CONNS=1000
REV=""
PORT=29100

while [ $# -gt 0 ]; do
	case $1 in
	-servers) SERVERS=$2; shift ;;
	-rounds) ROUNDS=$2; shift ;;
	-conns) CONNS=$2; shift ;;
	-a-rev) REV=$2; shift ;;
	-h | -help | --help) sed -n '2,19p' "$0"; exit 0 ;;
	*) echo "burst.sh: unknown flag $1 (-h for help)" >&2; exit 2 ;;
	esac
	shift
done
command -v taskset >/dev/null || { echo "burst.sh: taskset not found (util-linux)" >&2; exit 1; }

# Build the load generator and the servers into a scratch directory.
BIN=$(mktemp -d)
trap 'rm -rf "$BIN"' EXIT
cd "$HERE"
go build -o "$BIN/loadgen" ./cmd/loadgen
LIST=()
for s in $SERVERS; do
	dir=$(awk -v n="$s" '$1 == n && $3 != "rust" { print $2 }' servers.txt)
	[ -n "$dir" ] || { echo "burst.sh: no Go server $s in servers.txt" >&2; exit 2; }
	go build -o "$BIN/$s" "./cmd/$dir"
	LIST+=("$s")
done
if [ -n "$REV" ]; then
	# smol at another commit, from a temporary worktree.
	WT="$BIN/wt"
	git -C "$REPO" worktree add -q --detach "$WT" "$REV"
	(cd "$WT/bench" && go build -o "$BIN/smol@$REV" ./cmd/echo-smol)
	git -C "$REPO" worktree remove --force "$WT"
	LIST+=("smol@$REV")
fi

RES="$BIN/results"
for round in $(seq "$ROUNDS"); do
	for s in "${LIST[@]}"; do
		taskset -c 0 "$BIN/$s" -addr "127.0.0.1:$PORT" >/dev/null 2>&1 &
		pid=$!
		sleep 0.5
		out=$(taskset -c 1 "$BIN/loadgen" -mode burst -addr "127.0.0.1:$PORT" -conns "$CONNS" \
			-bursts 3 -pid "$pid" -json) || true
		kill "$pid"; wait "$pid" 2>/dev/null || true
		echo "round $round $s: $out"
		# One line per burst: server, first echo in ms.
		echo "$out" | sed -n 's/.*"first_echo_ms":\[\([^]]*\)\].*/\1/p' | tr ',' '\n' |
			sed "s/^/$s /" >>"$RES"
	done
done

echo
echo "first echo of a fresh connection during the burst, ms, over $((ROUNDS * 3)) bursts:"
printf '%-16s %8s %8s %8s\n' server median least worst
for s in "${LIST[@]}"; do
	awk -v s="$s" '$1 == s { print $2 }' "$RES" | sort -g | awk -v s="$s" '
		{ v[NR] = $1 }
		END { if (NR == 0) { printf "%-16s no result\n", s; exit }
		      printf "%-16s %8.1f %8.1f %8.1f\n", s, v[int((NR + 1) / 2)], v[1], v[NR] }'
done
