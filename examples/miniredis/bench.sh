#!/usr/bin/env bash
# examples/miniredis/bench.sh: redis-benchmark against miniredis (smol state
# machines, and the coroutine variant), the goroutine-per-connection version
# on Go's net, and the real redis-server, each pinned to one core.
#
#   examples/miniredis/bench.sh            3 rounds, -t set,get,incr,mset, -P 1 and 16, -c 50 and 1000
#   examples/miniredis/bench.sh -quick     1 round, small -n: checks the script
#   examples/miniredis/bench.sh -h         options
#
# It installs redis-tools and redis-server (Debian) when missing. Servers run
# on core 0 (taskset; GOMAXPROCS=1 for the Go ones; redis-server with its
# default single I/O thread and no persistence), redis-benchmark on core 1.
# Each round goes through every -c/-P combination and runs every server in
# turn on it (a fresh server process each time; the order rotates between
# rounds). For each run it records requests/s per
# test, and the server's CPU time (user + system, from /proc/PID/stat) over
# the whole redis-benchmark invocation divided by its requests.
#
# Results: results/miniredis-<stamp>.csv (one line per test and run) and
# results/miniredis-<stamp>.md (medians over rounds, ratios within rounds),
# under examples/miniredis. The machine is shared: before each run the
# script waits until other work keeps the CPUs at most -max-busy percent
# busy, and records that figure and the load average.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

ROUNDS=3
TESTS=set,get,incr,mset
CONNS="50 1000"
PIPES="1 16"
SERVERS="smol coro net redis"
N1=100000   # requests per test at -P 1
N16=1000000 # requests per test at -P 16
SERVER_CORE=0
CLIENT_CORE=1
PORT=26379
MAX_BUSY=20
MAX_WAIT=1800
TLS=0

usage() {
	cat <<'USAGE'
usage: examples/miniredis/bench.sh [options]
  -quick            1 round, -n 20000 / 100000
  -rounds N         rounds (default 3)
  -servers "a b"    among smol coro net redis (default all)
  -conns "a b"      -c values (default "50 1000")
  -pipes "a b"      -P values (default "1 16")
  -tests LIST       redis-benchmark -t (default set,get,incr,mset)
  -n1 N, -n16 N     requests per test at -P 1 and at other -P (default 100000, 1000000)
  -max-busy P       before each run, wait while other work keeps the CPUs more
                    than P% busy (default 20)
  -max-wait S       give up waiting for the load after S seconds (default 1800)
  -tls              every server speaks TLS (a self-signed ECDSA certificate made
                    with openssl), redis-benchmark --tls --insecure
USAGE
}

while [ $# -gt 0 ]; do
	case "$1" in
	-quick) ROUNDS=1; N1=20000; N16=100000; shift ;;
	-rounds) ROUNDS="$2"; shift 2 ;;
	-servers) SERVERS="$2"; shift 2 ;;
	-conns) CONNS="$2"; shift 2 ;;
	-pipes) PIPES="$2"; shift 2 ;;
	-tests) TESTS="$2"; shift 2 ;;
	-n1) N1="$2"; shift 2 ;;
	-n16) N16="$2"; shift 2 ;;
	-max-busy) MAX_BUSY="$2"; shift 2 ;;
	-max-wait) MAX_WAIT="$2"; shift 2 ;;
	-tls) TLS=1; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done

# ---------------------------------------------------------------------------
# Tools.
if ! command -v redis-benchmark >/dev/null || ! command -v redis-server >/dev/null; then
	echo "== installing redis-tools and redis-server (Debian)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq redis-tools redis-server >/dev/null
	# The package may start a service on 6379; this script starts its own.
fi
for t in redis-benchmark redis-server redis-cli taskset go; do
	command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }
done

# 1,000 connections need more than the default 1,024 descriptors.
ulimit -n "$(ulimit -Hn)"
need=$(( $(echo "$CONNS" | tr ' ' '\n' | sort -n | tail -1) + 100 ))
if [ "$(ulimit -n)" -lt "$need" ]; then
	echo "open-file limit $(ulimit -n) is below the $need the largest -c needs" >&2
	exit 1
fi

BIN="$(mktemp -d)"
trap 'rm -rf "$BIN"' EXIT
echo "== building miniredis"
(cd "$ROOT" && go build -o "$BIN/miniredis" ./examples/miniredis && go build -o "$BIN/benchreport" ./examples/miniredis/benchreport)

TLSARGS=()
MRTLS=()
REDISTLS=()
if [ "$TLS" = 1 ]; then
	command -v openssl >/dev/null || { echo "-tls needs openssl (apt-get install -y openssl)" >&2; exit 1; }
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$BIN/key.pem" -out "$BIN/cert.pem" 2>/dev/null
	TLSARGS=(--tls --insecure)
	MRTLS=(-tls -cert "$BIN/cert.pem" -key "$BIN/key.pem")
	REDISTLS=(--port 0 --tls-port "$PORT" --tls-cert-file "$BIN/cert.pem" --tls-key-file "$BIN/key.pem"
		--tls-ca-cert-file "$BIN/cert.pem" --tls-auth-clients no)
fi

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
[ "$TLS" = 1 ] && STAMP="$STAMP-tls"
OUT="$HERE/results"
mkdir -p "$OUT"
CSV="$OUT/miniredis-$STAMP.csv"
MD="$OUT/miniredis-$STAMP.md"
META="$OUT/miniredis-$STAMP.meta"
{
	echo "date: $(date -u +%FT%TZ)"
	echo "commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "client: $(redis-benchmark --version)"
	echo "redis-server: $(redis-server --version)"
	echo "go: $(go version)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
	echo "kernel: $(uname -r)"
	echo "tls: $([ "$TLS" = 1 ] && echo "yes ($(openssl version))" || echo no)"
	echo "command: examples/miniredis/bench.sh$([ "$TLS" = 1 ] && echo " -tls") -rounds $ROUNDS -servers \"$SERVERS\" -conns \"$CONNS\" -pipes \"$PIPES\" -tests $TESTS -n1 $N1 -n16 $N16"
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$META"
echo "round,server,conns,pipeline,test,rps,p50_ms,server_cpu_ns_per_req,load1,busy_before" > "$CSV"

# ---------------------------------------------------------------------------
# Helpers.
SERVER_PID=""

start_server() { # name
	case "$1" in
	smol|coro|net)
		GOMAXPROCS=1 taskset -c "$SERVER_CORE" "$BIN/miniredis" -addr "127.0.0.1:$PORT" -mode "$1" "${MRTLS[@]}" >"$BIN/server.log" 2>&1 &
		;;
	redis)
		taskset -c "$SERVER_CORE" redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
			--daemonize no --maxclients 10000 --dir "$BIN" --logfile "$BIN/server.log" "${REDISTLS[@]}" &
		;;
	esac
	SERVER_PID=$!
	for _ in $(seq 100); do
		redis-cli "${TLSARGS[@]}" -p "$PORT" ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "server $1 did not start:" >&2
	cat "$BIN/server.log" >&2
	exit 1
}

stop_server() {
	kill "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}
trap 'stop_server; rm -rf "$BIN"' EXIT

cpu_ticks() { # pid: utime + stime in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# busy_percent: how busy the machine's CPUs were over the last 2 s, in
# percent of all of them, while no server of ours runs: other people's
# work. (The load average would count our own previous run for a minute.)
busy_percent() {
	local a b
	a=$(awk '/^cpu / { printf "%d %d\n", $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat)
	sleep 2
	b=$(awk '/^cpu / { printf "%d %d\n", $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat)
	echo "$a $b" | awk '{ d = $4 - $2; if (d <= 0) d = 1; printf "%d", ($3 - $1) * 100 / d }'
}

wait_for_quiet() {
	local waited=0 busy
	while busy=$(busy_percent); [ "$busy" -gt "$MAX_BUSY" ]; do
		if [ "$waited" -ge "$MAX_WAIT" ]; then
			echo "   the machine is still ${busy}% busy after ${MAX_WAIT}s; going on (the CSV notes it)" >&2
			break
		fi
		[ $((waited % 60)) -eq 0 ] && echo "   waiting: the machine is ${busy}% busy with other work (> ${MAX_BUSY}%)" >&2
		sleep 8
		waited=$((waited + 10))
	done
	BUSY=$busy
}

TICK=$(getconf CLK_TCK)
ntests=$(echo "$TESTS" | tr ',' '\n' | wc -l)

# ---------------------------------------------------------------------------
# The rounds.
read -r -a server_list <<< "$SERVERS"
for round in $(seq 1 "$ROUNDS"); do
	for c in $CONNS; do
		for p in $PIPES; do
			n=$N16
			[ "$p" = 1 ] && n=$N1
			# Every server in turn for this -c/-P, the order rotating with
			# the round, so that ratios within a round compare runs close
			# in time.
			order=()
			k=${#server_list[@]}
			for i in $(seq 0 $((k - 1))); do order+=("${server_list[$(( (i + round - 1) % k ))]}"); done
			for srv in "${order[@]}"; do
				wait_for_quiet
				start_server "$srv"
				load=$(cut -d' ' -f1 /proc/loadavg)
				before=$(cpu_ticks "$SERVER_PID")
				csv=$(taskset -c "$CLIENT_CORE" redis-benchmark "${TLSARGS[@]}" -h 127.0.0.1 -p "$PORT" -t "$TESTS" -n "$n" -c "$c" -P "$p" --csv 2>/dev/null)
				after=$(cpu_ticks "$SERVER_PID")
				stop_server
				ns=$(awk -v d=$((after - before)) -v t="$TICK" -v r=$((n * ntests)) 'BEGIN { printf "%.0f", d / t * 1e9 / r }')
				echo "$csv" | awk -F'","' -v pre="$round,$srv,$c,$p" -v ns="$ns" -v load="$load,$BUSY" \
					'NR > 1 { gsub(/"/, "", $1); gsub(/"/, "", $2); gsub(/"/, "", $5); print pre "," $1 "," $2 "," $5 "," ns "," load }' >> "$CSV"
				printf "round %d  -c %-4s -P %-2s %-5s  %s (server %s ns/req, load %s, busy before %s%%)\n" "$round" "$c" "$p" "$srv" \
					"$(echo "$csv" | awk -F'","' 'NR > 1 { gsub(/"/, "", $1); gsub(/"/, "", $2); printf "%s %.0f  ", $1, $2 }')" "$ns" "$load" "$BUSY"
			done
		done
	done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$META"

"$BIN/benchreport" -meta "$META" "$CSV" | tee "$MD"
echo "== raw: $CSV"
echo "== table: $MD"
