#!/usr/bin/env bash
# scripts/fuzz.sh: run every fuzz target of the module (the Fuzz functions
# that `go test -list` finds), one after another, each for a while:
#
#   go test -run '^$' -fuzz '^FuzzX$' -fuzztime D -parallel 1 ./pkg
#
# Each target drives a type of the library and a model of it through the
# same operations and compares them after every step (see the targets'
# comments). The script ends with a summary (pass or fail, executions, new
# inputs, time, and for a failure the input go test wrote under the
# package's testdata/fuzz) and exits 1 if any target failed.
#
#   scripts/fuzz.sh                    every target for 10m (about 50m)
#   scripts/fuzz.sh -short             every target for 10s (about 1m)
#   scripts/fuzz.sh -time 1h -run Chan FuzzChannel for an hour
#   scripts/fuzz.sh -h                 all options
#
# One target at a time and -parallel 1 by default: the machine is shared.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TIME=10m
SHORT=0
PARALLEL=1
RUN=""
MINIMIZE=""
LOGDIR=""
LIST=0

usage() {
	cat <<'EOF'
usage: scripts/fuzz.sh [options]
  -time D        how long to fuzz each target (go test -fuzztime; default 10m)
  -short         10s a target, minimizing for at most 5s: the CI setting
  -parallel N    fuzzing workers per target (default 1)
  -run REGEXP    only the targets whose name matches
  -minimize D    go test -fuzzminimizetime (default: go's, 60s; 5s with -short)
  -logdir DIR    where each target's output goes (default: a new directory
                 under /tmp)
  -list          list the targets (package and name) and exit
EOF
}

die() { # status message...
	local code=$1
	shift
	printf 'fuzz.sh: %s\n' "$*" >&2
	exit "$code"
}
need_arg() { [ $# -ge 2 ] || die 2 "option $1 needs a value (see -h)"; }

while [ $# -gt 0 ]; do
	case "$1" in
	-time) need_arg "$@"; TIME=$2; shift ;;
	-short) SHORT=1 ;;
	-parallel) need_arg "$@"; PARALLEL=$2; shift ;;
	-run) need_arg "$@"; RUN=$2; shift ;;
	-minimize) need_arg "$@"; MINIMIZE=$2; shift ;;
	-logdir) need_arg "$@"; LOGDIR=$2; shift ;;
	-list) LIST=1 ;;
	-h | -help | --help) usage; exit 0 ;;
	*) usage >&2; die 2 "unknown argument $1" ;;
	esac
	shift
done
if [ "$SHORT" -eq 1 ]; then
	TIME=10s
	MINIMIZE=${MINIMIZE:-5s}
fi
[[ "$PARALLEL" =~ ^[1-9][0-9]*$ ]] || die 2 "-parallel $PARALLEL: want a positive whole number"
command -v go >/dev/null || die 1 "go not found in PATH"

# The targets, as "package name" lines: go test -list prints a package's
# matching functions, then "ok  <import path>  <time>".
TARGETS=()
while read -r line; do
	TARGETS+=("$line")
done < <(go test -list '^Fuzz' ./... | awk '
	/^Fuzz/ { names[n++] = $1; next }
	/^ok/ { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }')
[ ${#TARGETS[@]} -gt 0 ] || die 1 "no fuzz targets found"

if [ "$LIST" -eq 1 ]; then
	printf '%s\n' "${TARGETS[@]}"
	exit 0
fi

if [ -z "$LOGDIR" ]; then
	LOGDIR=$(mktemp -d /tmp/fuzz.XXXXXX)
else
	mkdir -p "$LOGDIR"
fi
MINARGS=()
[ -z "$MINIMIZE" ] || MINARGS=(-fuzzminimizetime "$MINIMIZE")
MODULE=$(go list -m)

SUMMARY=()
FAILED=0
RAN=0
T0=$(date +%s)
for target in "${TARGETS[@]}"; do
	pkg=${target% *}
	name=${target#* }
	if [ -n "$RUN" ] && ! [[ "$name" =~ $RUN ]]; then
		continue
	fi
	RAN=$((RAN + 1))
	# The package as a path relative to the module root.
	dir=.${pkg#"$MODULE"}
	log="$LOGDIR/$name.log"
	cmd=(go test -run '^$' -fuzz "^$name\$" -fuzztime "$TIME" -parallel "$PARALLEL" "${MINARGS[@]}" "$dir")
	printf '\n== fuzz: %s\n' "${cmd[*]}" >&2
	t0=$(date +%s)
	rc=0
	"${cmd[@]}" 2>&1 | tee "$log" || rc=$?
	secs=$(($(date +%s) - t0))
	took=$(printf '%dm%02ds' $((secs / 60)) $((secs % 60)))
	# go test's last progress line: "fuzz: elapsed: 10m0s, execs: 123 (...), new interesting: 4 (total: 9)".
	last=$(grep '^fuzz: elapsed:' "$log" | tail -n 1 || true)
	execs=$(sed -n 's/.*execs: \([0-9]*\).*/\1/p' <<<"$last")
	new=$(sed -n 's/.*new interesting: \([0-9]*\).*/\1/p' <<<"$last")
	if [ "$rc" -eq 0 ]; then
		SUMMARY+=("PASS  $name ($dir)  ${execs:-?} execs, ${new:-0} new inputs, $took")
		continue
	fi
	FAILED=1
	SUMMARY+=("FAIL  $name ($dir)  after ${execs:-?} execs, $took, exit status $rc")
	input=$(sed -n 's/.*Failing input written to \(.*\)/\1/p' "$log" | head -n 1)
	[ -z "$input" ] || SUMMARY+=("        input: $dir/$input (SMOL_FUZZ_TRACE=1 go test -run $name/${input##*/} -v $dir)")
	SUMMARY+=("        full output: $log")
done
[ "$RAN" -gt 0 ] || die 2 "-run $RUN matches no target (see -list)"
SECS=$(($(date +%s) - T0))

printf '\n== fuzz summary (%s a target%s; %dm%02ds in all; output in %s)\n' \
	"$TIME" "${RUN:+, -run $RUN}" $((SECS / 60)) $((SECS % 60)) "$LOGDIR"
printf '%s\n' "${SUMMARY[@]}"
if [ "$FAILED" -ne 0 ]; then
	echo "fuzz: FAIL"
	exit 1
fi
echo "fuzz: PASS"
