#!/usr/bin/env bash
# scripts/stress.sh: run the library's tests under the race detector many
# times and at several GOMAXPROCS, to shake out rare interleavings. Two
# phases, one after the other; the second runs even if the first failed:
#
#   1. go test -race -count=N ./...        (N = 20 by default)
#   2. go test -race -cpu 1,2,4 -count=1 ./...
#
# It ends with a summary of both (pass or fail, time, the failing packages
# and tests, where the full output is) and exits 1 if either failed.
#
#   scripts/stress.sh                          both phases, all packages
#   scripts/stress.sh -count 5 ./event ./lock  fewer repetitions, two packages
#   scripts/stress.sh -run 'Close|Cancel' .    only some tests
#   scripts/stress.sh -h                       all options
#
# The full run takes tens of minutes on a 2-core machine: see README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

COUNT=20
CPU=1,2,4
RUN=""
TIMEOUT=""
ONLY=""
LOGDIR=""

usage() {
	cat <<'EOF'
usage: scripts/stress.sh [options] [packages]
  -count N       repetitions in the first phase (default 20)
  -cpu LIST      GOMAXPROCS values of the second phase (default 1,2,4)
  -run REGEXP    only the tests that match (go test -run)
  -timeout D     go test -timeout of each phase (default: 2m per repetition
                 in the first phase and per -cpu value in the second, at
                 least 10m)
  -only PHASE    run one phase only: count or cpu
  -logdir DIR    where the full output goes (default: a new directory under /tmp)
  packages       go test package patterns, relative to the repository root
                 (default ./...)
EOF
}

die() { # status message...
	local code=$1
	shift
	printf 'stress.sh: %s\n' "$*" >&2
	exit "$code"
}
need_arg() { [ $# -ge 2 ] || die 2 "option $1 needs a value (see -h)"; }

PKGS=()
while [ $# -gt 0 ]; do
	case "$1" in
	-count) need_arg "$@"; COUNT=$2; shift ;;
	-cpu) need_arg "$@"; CPU=$2; shift ;;
	-run) need_arg "$@"; RUN=$2; shift ;;
	-timeout) need_arg "$@"; TIMEOUT=$2; shift ;;
	-only) need_arg "$@"; ONLY=$2; shift ;;
	-logdir) need_arg "$@"; LOGDIR=$2; shift ;;
	-h | -help | --help) usage; exit 0 ;;
	-*) usage >&2; die 2 "unknown option $1" ;;
	*) PKGS+=("$1") ;;
	esac
	shift
done
[ ${#PKGS[@]} -gt 0 ] || PKGS=(./...)
[[ "$COUNT" =~ ^[1-9][0-9]*$ ]] || die 2 "-count $COUNT: want a positive whole number"
[[ "$CPU" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die 2 "-cpu $CPU: want a comma-separated list of positive numbers, such as 1,2,4"
case "$ONLY" in "" | count | cpu) ;; *) die 2 "-only $ONLY: want count or cpu" ;; esac
command -v go >/dev/null || die 1 "go not found in PATH"

# go test's default timeout (10m) is for one run of a package's tests; the
# phases run them several times in one binary: allow 2m a run (the slowest
# package takes about 25 s a run under -race here), at least 10m, so that a
# hang is still caught.
NCPU=$(awk -F, '{ print NF }' <<<"$CPU")
T_COUNT=${TIMEOUT:-$((COUNT * 2 > 10 ? COUNT * 2 : 10))m}
T_CPU=${TIMEOUT:-$((NCPU * 2 > 10 ? NCPU * 2 : 10))m}

if [ -z "$LOGDIR" ]; then
	LOGDIR=$(mktemp -d /tmp/stress.XXXXXX)
else
	mkdir -p "$LOGDIR"
fi
RUNARGS=()
[ -z "$RUN" ] || RUNARGS=(-run "$RUN")

SUMMARY=()
FAILED=0

# phase NAME LOG ARGS...: run go test with ARGS, teeing its output to LOG,
# and add a line to the summary.
phase() {
	local name=$1 log=$2
	shift 2
	local cmd=(go test -race "$@" "${RUNARGS[@]}" "${PKGS[@]}")
	printf '\n== stress: %s\n== %s\n' "$name" "${cmd[*]}" >&2
	local t0 rc=0
	t0=$(date +%s)
	"${cmd[@]}" 2>&1 | tee "$log" || rc=$?
	local secs=$(($(date +%s) - t0))
	local took
	took=$(printf '%dm%02ds' $((secs / 60)) $((secs % 60)))
	if [ "$rc" -eq 0 ]; then
		SUMMARY+=("PASS  $name  ($took)")
		return
	fi
	FAILED=1
	# The packages and tests that failed, from go test's own lines.
	local pkgs tests
	pkgs=$(sed -n 's/^FAIL[[:space:]]\{1,\}\([^[:space:]]\{1,\}\).*/\1/p' "$log" | sort -u | tr '\n' ' ' | sed 's/ $//')
	tests=$(sed -n 's/^[[:space:]]*--- FAIL: \([^[:space:]]\{1,\}\).*/\1/p' "$log" | sort -u | tr '\n' ' ' | sed 's/ $//')
	SUMMARY+=("FAIL  $name  ($took, exit status $rc)")
	SUMMARY+=("        failing packages: ${pkgs:-none named (a build error, a panic or a timeout?)}")
	[ -z "$tests" ] || SUMMARY+=("        failing tests: $tests")
	SUMMARY+=("        full output: $log")
}

T0=$(date +%s)
if [ "$ONLY" != cpu ]; then
	phase "-race -count=$COUNT" "$LOGDIR/count.log" -count="$COUNT" -timeout "$T_COUNT"
fi
if [ "$ONLY" != count ]; then
	# -count=1: never a cached result.
	phase "-race -cpu $CPU" "$LOGDIR/cpu.log" -cpu "$CPU" -count=1 -timeout "$T_CPU"
fi
SECS=$(($(date +%s) - T0))

printf '\n== stress summary (packages: %s%s; %dm%02ds in all; output in %s)\n' \
	"${PKGS[*]}" "${RUN:+; -run $RUN}" $((SECS / 60)) $((SECS % 60)) "$LOGDIR"
printf '%s\n' "${SUMMARY[@]}"
if [ "$FAILED" -ne 0 ]; then
	echo "stress: FAIL"
	exit 1
fi
echo "stress: PASS"
