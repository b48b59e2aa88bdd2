#!/usr/bin/env bash
# bench/run.sh: build the echo servers and the load generator, run every
# scenario against every server with the server and the client pinned to
# different cores, interleave the servers within each round, and report the
# medians over rounds as a table, JSON and PNG plots.
#
#   bench/run.sh              full run: 3 rounds, all scenarios (about 15 min)
#   bench/run.sh -quick       CI smoke run: tiny sizes, 1 round (well under a minute once built)
#   bench/run.sh -h           all options
#
# See bench/README.md for the methodology.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

# ---------------------------------------------------------------------------
# The servers, in the order each round runs them: "name directory [rust |
# flags]" lines from servers.txt, which soak.sh reads too. A Go server's
# program is under cmd/<directory>, run with the line's flags if it has
# any (one program can so be two servers, such as smol on each backend);
# to add one, add its line there and its program
# here. A line whose directory does not exist yet is skipped with a note,
# so the smol servers light up as soon as their programs are written. A
# line marked "rust" is a Rust anchor: a cargo crate under rust/<directory>,
# built offline from Debian's packaged crates and skipped, with the
# one-line setup command, where those are missing.
SERVER_TABLE=$(sed -e 's/#.*//' servers.txt)

# The Rust anchors' setup, printed when they are skipped.
RUST_SETUP="apt-get install -y librust-tokio-dev librust-smol-dev"

# The scenarios: "name mode connections message-size".
FULL_SCENARIOS="
echo-64B-c100    echo 100   64
echo-64B-c1000   echo 1000  64
echo-64B-c10000  echo 10000 64
echo-4KiB-c1000  echo 1000  4096
idle-c10000      idle 10000 64
idle-c19000      idle 19000 64
"
QUICK_SCENARIOS="
echo-64B-c10     echo 10    64
echo-64B-c100    echo 100   64
echo-4KiB-c20    echo 20    4096
idle-c200        idle 200   64
idle-c500        idle 500   64
"

# ---------------------------------------------------------------------------
# Options.
QUICK=0
ROUNDS=3
WARMUP=2s
DURATION=10s
SETTLE=2s
ENGINE=epoll
SERVER_CORE=0
CLIENT_CORE=1
PORT_BASE=27000
ONLY_SERVERS=""
ONLY_SCENARIOS=""
NO_PLOT=0
CUSTOM=0

usage() {
	cat <<'EOF'
usage: bench/run.sh [options]
  -quick             CI smoke run: tiny sizes, 1 round, short windows
  -rounds N          rounds (default 3; quick 1)
  -warmup D          echo warm-up before measuring (default 2s; quick 300ms)
  -duration D        echo measured window (default 10s; quick 1s)
  -settle D          idle: wait before reading memory (default 2s; quick 300ms)
  -servers "a b"     only these servers (names from servers.txt)
  -scenarios "x y"   only these scenarios (names from the tables in this script)
  -engine E          load generator engine: epoll (default) or goroutine
  -server-core N     core for the server (default 0)
  -client-core N     core for the load generator (default 1)
  -port-base P       first TCP port to use (default 27000)
  -no-plot           skip the PNGs
EOF
}

while [ $# -gt 0 ]; do
	case "$1" in
	-quick | --quick) QUICK=1 ;;
	-rounds) ROUNDS=$2; [ "$2" -ge 3 ] 2>/dev/null || CUSTOM=1; shift ;; # more rounds of everything is still a full run
	-warmup) WARMUP=$2; shift ;;
	-duration) DURATION=$2; shift ;;
	-settle) SETTLE=$2; shift ;;
	-servers) ONLY_SERVERS=$2; CUSTOM=1; shift ;;
	-scenarios) ONLY_SCENARIOS=$2; CUSTOM=1; shift ;;
	-engine) ENGINE=$2; shift ;;
	-server-core) SERVER_CORE=$2; shift ;;
	-client-core) CLIENT_CORE=$2; shift ;;
	-port-base) PORT_BASE=$2; shift ;;
	-no-plot) NO_PLOT=1 ;;
	-h | -help | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

SCENARIOS="$FULL_SCENARIOS"
if [ "$QUICK" = 1 ]; then
	SCENARIOS="$QUICK_SCENARIOS"
	# Quick defaults, unless given explicitly above.
	[ "$ROUNDS" = 3 ] && ROUNDS=1
	[ "$WARMUP" = 2s ] && WARMUP=300ms
	[ "$DURATION" = 10s ] && DURATION=1s
	[ "$SETTLE" = 2s ] && SETTLE=300ms
fi

# Where results go: quick runs and partial runs in their own directories,
# so that only a full run replaces results/latest.json and the plots.
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
if [ "$QUICK" = 1 ]; then
	OUT="$HERE/results/quick"; RAW="$OUT/raw.jsonl"; SUMMARY="$OUT/summary.json"; PLOTDIR="$OUT"
	LOGDIR="$OUT/logs"; KIND=quick
elif [ "$CUSTOM" = 1 ]; then
	OUT="$HERE/results/custom-$STAMP"; RAW="$OUT/raw.jsonl"; SUMMARY="$OUT/summary.json"; PLOTDIR="$OUT"
	LOGDIR="$OUT/logs"; KIND=custom
else
	OUT="$HERE/results"; RAW="$OUT/raw-$STAMP.jsonl"; SUMMARY="$OUT/summary-$STAMP.json"; PLOTDIR="$OUT"
	LOGDIR="$OUT/logs/$STAMP"; KIND=full
fi
mkdir -p "$OUT" "$LOGDIR"
: >"$RAW"

say() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# Machine checks: cores for pinning, the open-file limit, and how busy the
# machine is.
command -v taskset >/dev/null || { say "run.sh: taskset not found (util-linux)"; exit 1; }
NCPU=$(nproc)
if [ "$NCPU" -lt 2 ]; then
	say "run.sh: only $NCPU core: server and client share core 0, numbers are not comparable to the anchors"
	SERVER_CORE=0; CLIENT_CORE=0
fi

# Each process holds one descriptor per connection (the server and the load
# generator are separate processes), so one process's limit bounds a run.
HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=1048576
ulimit -n "$HARD"
FD_RESERVE=100
MAX_CONNS=$((HARD - FD_RESERVE))
say "open-file hard limit $HARD: at most $MAX_CONNS connections per run ($FD_RESERVE descriptors kept for the process itself)"

LOAD=$(cut -d' ' -f1 /proc/loadavg)
say "load average $LOAD on $NCPU cores$(awk -v l="$LOAD" 'BEGIN{ if (l > 0.5) print ": the machine is busy, numbers will be noisy" }')"

# ---------------------------------------------------------------------------
# Build everything into bin/.
BIN="$HERE/bin"
mkdir -p "$BIN"
SERVERS=()   # "name dir" pairs that will run
NOTES=()     # notes recorded in the summary's meta
PKGS=(./cmd/loadgen ./cmd/report)
[ "$NO_PLOT" = 1 ] || PKGS+=(./cmd/plot)
RUST=()      # "name dir" pairs of the Rust anchors asked for
while read -r name dir kind; do  # kind: "rust", or the Go server's extra flags
	[ -n "$name" ] || continue
	if [ -n "$ONLY_SERVERS" ] && ! [[ " $ONLY_SERVERS " == *" $name "* ]]; then
		continue
	fi
	if [ "$kind" = rust ]; then
		RUST+=("$name $dir")
		SERVERS+=("$name $dir")
		continue
	fi
	if [ ! -d "cmd/$dir" ]; then
		say "server $name: skipped, bench/cmd/$dir does not exist yet"
		continue
	fi
	# A server on an io_uring backend (smol-uring) is skipped, with the
	# reason, where the kernel refuses io_uring, as the tests are.
	if [[ " $kind " =~ \ -backend\ (uring[^ ]*) ]]; then
		if ! why=$(cd "$HERE/.." && SMOL_BACKEND=${BASH_REMATCH[1]} go run ./internal/uringcheck 2>&1); then
			note="server $name: skipped, io_uring is unavailable here: $why"
			say "$note"
			NOTES+=("$note")
			continue
		fi
	fi
	SERVERS+=("$name $dir $kind")
	[[ " ${PKGS[*]} " == *" ./cmd/$dir "* ]] || PKGS+=("./cmd/$dir")
done <<<"$SERVER_TABLE"

# The Rust anchors: each is its own cargo crate under rust/, built with
# --release --offline from the crates Debian packages under
# /usr/share/cargo/registry (source replacement in rust/.cargo/config.toml;
# cargo reads that file from the directory it runs in). Without cargo, or
# when cargo cannot resolve a crate's dependencies from there, the anchors
# are skipped with one message and the run goes on. A crate that resolves
# but does not compile is an error, like a Go build failure.
RUST_META=()
if [ ${#RUST[@]} -gt 0 ]; then
	rust_names="$(printf '%s ' "${RUST[@]%% *}")"
	rust_skip=""
	if ! command -v cargo >/dev/null; then
		rust_skip="cargo is not installed; setup, one line: apt-get install -y cargo librust-tokio-dev librust-smol-dev"
	else
		for sv in "${RUST[@]}"; do
			read -r name dir <<<"$sv"
			# Resolve afresh from what the registry holds now (the lockfile is
			# not kept in git, and this also replaces one written by a newer
			# cargo in a format an older cargo cannot read).
			if ! err=$(cd "rust/$dir" && cargo generate-lockfile --offline 2>&1); then
				rust_skip="cargo cannot find their crates in /usr/share/cargo/registry ($(grep -m1 -i 'error' <<<"$err" | cut -c1-160)); setup, one line: $RUST_SETUP"
				break
			fi
		done
	fi
	if [ -n "$rust_skip" ]; then
		note="Rust anchors (${rust_names% }) skipped: $rust_skip"
		say "$note"
		NOTES+=("$note")
		for sv in "${RUST[@]}"; do
			for i in "${!SERVERS[@]}"; do
				[ "${SERVERS[$i]}" = "$sv" ] && unset 'SERVERS[i]'
			done
		done
		SERVERS=("${SERVERS[@]}")
	else
		for sv in "${RUST[@]}"; do
			read -r name dir <<<"$sv"
			say "building rust/$dir (cargo build --release --offline)"
			(cd "rust/$dir" && cargo build --release --offline --quiet) ||
				{ say "run.sh: cargo build of bench/rust/$dir failed (output above)"; exit 1; }
			cp "rust/target/release/$dir" "$BIN/$dir"
			# Record the versions that Debian's crates gave this build.
			vers=$(awk '/^name = /{n=$3} /^version = /{print n, $3}' "rust/$dir/Cargo.lock" |
				tr -d '"' | grep -E '^(tokio|mio|smol|async-executor|async-io|async-net|polling) ' |
				sort | paste -sd, - | sed 's/,/, /g')
			RUST_META+=(-meta "$name=$vers; $(rustc --version)")
			say "  $name: $vers"
		done
	fi
fi
[ ${#SERVERS[@]} -gt 0 ] || { say "run.sh: no server to run"; exit 1; }
say "building ${PKGS[*]}"
go build -o "$BIN/" "${PKGS[@]}"

# ---------------------------------------------------------------------------
# Scenarios to run, with the connection count capped by the fd limit.
SCEN=()
while read -r name mode conns size; do
	[ -n "$name" ] || continue
	if [ -n "$ONLY_SCENARIOS" ] && ! [[ " $ONLY_SCENARIOS " == *" $name "* ]]; then
		continue
	fi
	if [ "$conns" -gt "$MAX_CONNS" ]; then
		note="$name: $conns connections do not fit the open-file hard limit of $HARD; running the largest count it allows, $MAX_CONNS"
		say "$note"
		NOTES+=("$note")
		conns=$MAX_CONNS
	elif [ "$mode" = idle ]; then
		say "$name: $conns connections fit the open-file hard limit of $HARD (at most $MAX_CONNS)"
	fi
	SCEN+=("$name $mode $conns $size")
done <<<"$SCENARIOS"
[ ${#SCEN[@]} -gt 0 ] || { say "run.sh: no scenario to run"; exit 1; }

# ---------------------------------------------------------------------------
# One run: start the server on its core, wait for its ready line, run the
# load generator on the other core, append its JSON line, stop the server.
CUR_PID=""
cleanup() {
	if [ -n "$CUR_PID" ]; then kill -KILL "$CUR_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

RUN_NO=0
json_error() { # server scenario round mode conns size message
	local msg=${7//\"/\'}
	printf '{"server":"%s","scenario":"%s","round":%d,"mode":"%s","addr":"","conns":%d,"size":%d,"sources":0,"fd_limit":0,"connect_s":0,"error":"%s"}\n' \
		"$1" "$2" "$3" "$4" "$5" "$6" "$msg"
}
field() { # json key -> number (good enough for our own flat JSON)
	sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" <<<"$1"
}

run_one() {
	local name=$1 dir=$2 scen=$3 mode=$4 conns=$5 size=$6 round=$7 sargs=$8
	local port=$((PORT_BASE + 2 * RUN_NO)) ctl=$((PORT_BASE + 2 * RUN_NO + 1))
	RUN_NO=$((RUN_NO + 1))
	local slog="$LOGDIR/$scen.$name.r$round.server.log"
	local clog="$LOGDIR/$scen.$name.r$round.loadgen.log"

	# Start the server pinned to its core, one P.
	# shellcheck disable=SC2086 # sargs: the server's extra flags, split into words
	GOMAXPROCS=1 taskset -c "$SERVER_CORE" "$BIN/$dir" $sargs \
		-addr "127.0.0.1:$port" -ctl "127.0.0.1:$ctl" >"$slog" 2>&1 &
	CUR_PID=$!
	local i
	for i in $(seq 1 100); do
		grep -qs '^READY' "$slog" && break
		kill -0 "$CUR_PID" 2>/dev/null || break
		sleep 0.1
	done
	local out
	if ! grep -qs '^READY' "$slog"; then
		out=$(json_error "$name" "$scen" "$round" "$mode" "$conns" "$size" \
			"server did not become ready (it exited, or printed no READY line in 10 s): $(tail -c 300 "$slog" | tr '\n' ' ')")
	else
		local spid
		spid=$(sed -n 's/^READY.* pid=\([0-9]*\).*/\1/p' "$slog")
		# Run the load generator pinned to the other core, one P.
		out=$(GOMAXPROCS=1 taskset -c "$CLIENT_CORE" "$BIN/loadgen" -json -v \
			-mode "$mode" -engine "$ENGINE" -addr "127.0.0.1:$port" -ctl "127.0.0.1:$ctl" \
			-conns "$conns" -size "$size" -warmup "$WARMUP" -duration "$DURATION" -settle "$SETTLE" \
			-pid "$spid" -label-server "$name" -label-scenario "$scen" -label-round "$round" \
			2>"$clog") || true
		[ -n "$out" ] || out=$(json_error "$name" "$scen" "$round" "$mode" "$conns" "$size" \
			"loadgen printed nothing: $(tail -c 300 "$clog" | tr '\n' ' ')")
	fi
	printf '%s\n' "$out" >>"$RAW"

	# Stop the server: SIGTERM, then SIGKILL after 5 s.
	kill -TERM "$CUR_PID" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$CUR_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$CUR_PID" 2>/dev/null || true
	wait "$CUR_PID" 2>/dev/null || true
	CUR_PID=""

	# One progress line.
	local err
	err=$(sed -n 's/.*"error":"\(.*\)".*/\1/p' <<<"$out")
	if [ -n "$err" ] && [ "$QUICK" = 1 ] && [ -z "${RETRYING:-}" ]; then
		# The quick run's 1 s windows are short enough for a loaded machine
		# to starve a server: run a failed run once more before counting it.
		# A real defect (a wrong byte, a crash) fails the second run too.
		say "  $(printf '%-8s' "$name") failed ($err); quick mode runs it once more"
		sed -i '$d' "$RAW"
		RETRYING=1 run_one "$@"
		return
	fi
	if [ -n "$err" ]; then
		say "  $(printf '%-8s' "$name") FAILED: $err"
	elif [ "$mode" = echo ]; then
		say "  $(printf '%-8s' "$name") $(printf '%8.0f' "$(field "$out" rps)") req/s  p99 $(printf '%8.0f' "$(field "$out" p99_us)") us  server $(printf '%6.0f' "$(field "$out" server_cpu_ns_req)") ns/req  jain $(printf '%.4f' "$(field "$out" jain)")"
	else
		say "  $(printf '%-8s' "$name") $(printf '%6.0f' "$(field "$out" bytes_per_conn)") B/conn  ($(printf '%.0f' "$(field "$out" bytes_per_conn_gc)") B/conn after GC)"
	fi
}

# ---------------------------------------------------------------------------
# Rounds: every round runs every scenario, and within a scenario every
# server one after the other, so slow drifts of the machine hit all servers
# alike. A fresh server process per run gives each a clean memory baseline.
say "servers: $(printf '%s ' "${SERVERS[@]%% *}")| rounds $ROUNDS | warm-up $WARMUP, window $DURATION | server core $SERVER_CORE, client core $CLIENT_CORE | engine $ENGINE"
T0=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
	for s in "${SCEN[@]}"; do
		read -r scen mode conns size <<<"$s"
		say "[round $round/$ROUNDS] $scen ($mode, $conns connections, $size B)"
		for sv in "${SERVERS[@]}"; do
			read -r name dir sargs <<<"$sv"
			run_one "$name" "$dir" "$scen" "$mode" "$conns" "$size" "$round" "$sargs"
		done
	done
done
say "runs took $(($(date +%s) - T0))s"

# ---------------------------------------------------------------------------
# Report: medians table and summary JSON; then plots.
META=(-meta "kind=$KIND" -meta "rounds=$ROUNDS" -meta "warmup=$WARMUP" -meta "duration=$DURATION"
	-meta "settle=$SETTLE" -meta "engine=$ENGINE" -meta "server_core=$SERVER_CORE"
	-meta "client_core=$CLIENT_CORE" -meta "gomaxprocs=1" -meta "load_at_start=$LOAD"
	-meta "raw=$(basename "$RAW")")
for i in "${!NOTES[@]}"; do META+=(-meta "note$i=${NOTES[$i]}"); done
META+=(${RUST_META[@]+"${RUST_META[@]}"})
"$BIN/report" -in "$RAW" -out "$SUMMARY" "${META[@]}"
if [ "$KIND" = full ]; then
	cp "$SUMMARY" "$OUT/latest.json"
fi
if [ "$NO_PLOT" = 0 ]; then
	"$BIN/plot" -in "$SUMMARY" -outdir "$PLOTDIR"
fi
say "results: $RAW, $SUMMARY"
# Every run is a check too (each echoed byte was verified): close with the
# plain count that CI reads.
FAILED=$(grep -c '"error"' "$RAW" || true)
TOTAL=$(grep -c . "$RAW" || true)
echo "bench: $((TOTAL - FAILED)) passed, $FAILED failed"
if [ "$FAILED" -gt 0 ]; then
	say "run.sh: some runs failed (see the FAILED lines above and $LOGDIR)"
	exit 1
fi
