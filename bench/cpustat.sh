#!/usr/bin/env bash
# bench/cpustat.sh: where the two cores' time goes over an interval, from
# /proc/stat: user, system calls, softirq and idle per CPU. Run it while a
# benchmark runs, to see whether a side is saturated and by what; for
# example, during the window of
#   bench/run.sh -servers smol -scenarios echo-64B-c10000 -rounds 1 -no-plot
# run, from another shell,
#   bench/cpustat.sh 3
# (the server is on cpu0, the load generator on cpu1).
set -euo pipefail
secs=${1:-3}
a=$(grep -E '^cpu[0-9]+ ' /proc/stat)
sleep "$secs"
b=$(grep -E '^cpu[0-9]+ ' /proc/stat)
# Fields: name user nice system idle iowait irq softirq steal ...
paste -d' ' <(echo "$a") <(echo "$b") | awk '{
	n = NF / 2; tot = 0
	for (i = 2; i <= n; i++) { d[i] = $(i + n) - $i; tot += d[i] }
	if (tot == 0) tot = 1
	printf "%s user %.0f%% system %.0f%% softirq %.0f%% irq %.0f%% idle %.0f%% steal %.0f%%\n", $1,
		100 * (d[2] + d[3]) / tot, 100 * d[4] / tot, 100 * d[8] / tot, 100 * d[7] / tot,
		100 * (d[5] + d[6]) / tot, 100 * d[9] / tot
}'
