#!/usr/bin/env bash
# bench/soak.sh: a soak run. Builds one echo server and the soak client,
# runs them pinned to different cores (like run.sh), drives the server with
# 1,000 connections of random-size messages (1 B to 64 KiB), every byte
# verified, for 10 minutes, samples the server's resident memory, open
# descriptors and goroutines every 10 s, and fails on any wrong or stalled
# echo or if any of the three trends upward (the rule is in
# bench/internal/trend and bench/README.md).
#
#   bench/soak.sh                         smol for 10 minutes
#   bench/soak.sh -server net -duration 1m
#   bench/soak.sh -h                      all options
#
# Output: a table of samples as it goes, then the verdicts; the samples
# (samples.json, samples.md), a plot (soak.png) and the logs in
# bench/results/soak-<stamp>-<server>/. Exit status 0 on PASS, 1 on FAIL,
# 2 on bad options.
set -euo pipefail

CALLER_DIR=$PWD
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
ARGS="$*"

SERVER=smol
DURATION=10m
INTERVAL=10s
CONNS=1000
MIN_SIZE=1
MAX_SIZE=65536
DIST=log
STALL=10s
SEED=1
SERVER_CORE=0
CLIENT_CORE=1
PORT=28000
NO_PLOT=0
OUT=""

usage() {
	cat <<'EOF'
usage: bench/soak.sh [options]
  -server NAME       echo server, a name from bench/servers.txt (default smol)
  -duration D        how long to run (default 10m)
  -interval D        time between samples (default 10s)
  -conns N           connections (default 1000)
  -min-size B        smallest message in bytes (default 1)
  -max-size B        largest message in bytes (default 65536)
  -dist log|uniform  message sizes: log-uniform (default) or uniform
  -stall D           fail when no byte moves on a connection for this long (default 10s)
  -seed N            seed of the message sizes and contents (default 1)
  -server-core N     core for the server (default 0)
  -client-core N     core for the soak client (default 1)
  -port P            server port; P+1 is its control port (default 28000)
  -out DIR           results directory (default results/soak-<stamp>-<server>)
  -no-plot           skip soak.png
EOF
}

die() { # status message...
	local code=$1
	shift
	printf 'soak.sh: %s\n' "$*" >&2
	exit "$code"
}
need_arg() { [ $# -ge 2 ] || die 2 "option $1 needs a value (see -h)"; }

while [ $# -gt 0 ]; do
	case "$1" in
	-server) need_arg "$@"; SERVER=$2; shift ;;
	-duration) need_arg "$@"; DURATION=$2; shift ;;
	-interval) need_arg "$@"; INTERVAL=$2; shift ;;
	-conns) need_arg "$@"; CONNS=$2; shift ;;
	-min-size) need_arg "$@"; MIN_SIZE=$2; shift ;;
	-max-size) need_arg "$@"; MAX_SIZE=$2; shift ;;
	-dist) need_arg "$@"; DIST=$2; shift ;;
	-stall) need_arg "$@"; STALL=$2; shift ;;
	-seed) need_arg "$@"; SEED=$2; shift ;;
	-server-core) need_arg "$@"; SERVER_CORE=$2; shift ;;
	-client-core) need_arg "$@"; CLIENT_CORE=$2; shift ;;
	-port) need_arg "$@"; PORT=$2; shift ;;
	-out) need_arg "$@"; OUT=$2; shift ;;
	-no-plot) NO_PLOT=1 ;;
	-h | -help | --help) usage; exit 0 ;;
	*) usage >&2; die 2 "unknown option $1" ;;
	esac
	shift
done
[[ "$CONNS" =~ ^[0-9]+$ ]] || die 2 "-conns $CONNS: not a number"
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -lt 65535 ] || die 2 "-port $PORT: not a port number below 65535"

say() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# The server: its directory from the table that run.sh uses.
DIR=""
KIND=""
NAMES=""
while read -r name dir kind; do
	[ -n "$name" ] || continue
	NAMES="$NAMES $name"
	[ "$name" = "$SERVER" ] && DIR=$dir && KIND=$kind
done < <(sed -e 's/#.*//' servers.txt)
[ -n "$DIR" ] || die 2 "unknown server '$SERVER'; bench/servers.txt lists:$NAMES"
[ "$KIND" != rust ] || die 2 "server $SERVER is a Rust anchor: soak.sh runs the Go servers (their -ctl stats reply gives the goroutine count)"
[ -d "cmd/$DIR" ] || die 1 "server $SERVER: bench/cmd/$DIR does not exist yet"

# ---------------------------------------------------------------------------
# Machine checks: taskset, two cores, the open-file limit.
command -v taskset >/dev/null || die 1 "taskset not found (util-linux)"
NCPU=$(nproc)
if [ "$NCPU" -lt 2 ]; then
	say "soak.sh: only $NCPU core: server and client share core 0"
	SERVER_CORE=0
	CLIENT_CORE=0
fi
HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=1048576
ulimit -n "$HARD"
[ $((CONNS + 100)) -le "$HARD" ] ||
	die 1 "$CONNS connections do not fit the open-file hard limit of $HARD (each process needs one descriptor per connection and about 100 more)"
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average $LOAD on $NCPU cores$(awk -v l="${LOAD%% *}" 'BEGIN{ if (l > 0.5) print ": the machine is busy" }')"

# ---------------------------------------------------------------------------
# Build, and make the results directory.
BIN="$HERE/bin"
mkdir -p "$BIN"
PKGS=("./cmd/$DIR" ./cmd/soak)
[ "$NO_PLOT" = 1 ] || PKGS+=(./cmd/soakplot)
say "building ${PKGS[*]}"
go build -o "$BIN/" "${PKGS[@]}"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$OUT" ] || OUT="$HERE/results/soak-$STAMP-$SERVER"
[[ "$OUT" == /* ]] || OUT="$CALLER_DIR/$OUT" # relative to where the script was started
mkdir -p "$OUT/logs"
SLOG="$OUT/logs/server.log"
CLOG="$OUT/logs/soak.log"
COMMIT=$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$COMMIT" != unknown ] && [ -n "$(git -C "$HERE/.." status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	COMMIT="$COMMIT+changes"
fi

# ---------------------------------------------------------------------------
# Start the server on its core, one P, and wait for its ready line.
SPID=""
cleanup() {
	if [ -n "$SPID" ]; then kill -KILL "$SPID" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# shellcheck disable=SC2086 # KIND: the server's extra flags from servers.txt, split into words
GOMAXPROCS=1 taskset -c "$SERVER_CORE" "$BIN/$DIR" $KIND \
	-addr "127.0.0.1:$PORT" -ctl "127.0.0.1:$((PORT + 1))" >"$SLOG" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do
	grep -qs '^READY' "$SLOG" && break
	kill -0 "$SPID" 2>/dev/null || break
	sleep 0.1
done
grep -qs '^READY' "$SLOG" ||
	die 1 "server $SERVER did not become ready (it exited, or printed no READY line in 10 s): $(tail -c 300 "$SLOG" | tr '\n' ' ')"
say "$(grep '^READY' "$SLOG")"

# ---------------------------------------------------------------------------
# The soak client on the other core, one P.
say "soak: $SERVER, $CONNS connections, $DURATION, results in $OUT"
RC=0
GOMAXPROCS=1 taskset -c "$CLIENT_CORE" "$BIN/soak" \
	-addr "127.0.0.1:$PORT" -ctl "127.0.0.1:$((PORT + 1))" -pid "$SPID" -label-server "$SERVER" \
	-conns "$CONNS" -duration "$DURATION" -interval "$INTERVAL" \
	-min-size "$MIN_SIZE" -max-size "$MAX_SIZE" -dist "$DIST" -stall "$STALL" -seed "$SEED" \
	-out "$OUT" -meta "commit=$COMMIT" -meta "server_core=$SERVER_CORE" -meta "client_core=$CLIENT_CORE" \
	-meta "gomaxprocs=1" -meta "cores=$NCPU" -meta "script=bench/soak.sh $ARGS" \
	2>&1 | tee "$CLOG" || RC=$?

# ---------------------------------------------------------------------------
# The server must still be running; then stop it: SIGTERM, SIGKILL after 5 s.
if ! kill -0 "$SPID" 2>/dev/null; then
	say "soak.sh: the server exited during the run; the end of its log ($SLOG):"
	tail -n 20 "$SLOG" >&2
	RC=1
fi
kill -TERM "$SPID" 2>/dev/null || true
for _ in $(seq 1 50); do
	kill -0 "$SPID" 2>/dev/null || break
	sleep 0.1
done
kill -KILL "$SPID" 2>/dev/null || true
wait "$SPID" 2>/dev/null || true
SPID=""

if [ "$NO_PLOT" = 0 ] && [ -s "$OUT/samples.json" ]; then
	"$BIN/soakplot" -in "$OUT/samples.json" -out "$OUT/soak.png" || RC=1
fi
say "results: $OUT"
exit "$RC"
