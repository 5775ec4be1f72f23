#!/usr/bin/env bash
# measure-echo.sh measures eddy's echo server against package net on one server core.
#
# Servers ($SERVERS): eddy's epoll engine with one loop, eddy's uring engine with one loop, eddy's portable
# std engine, and the goroutine-per-connection net baseline ("eddy echo --baseline"). Each runs pinned to
# CPU $SERVER_CPU with GOMAXPROCS=1; the load generator ("eddy load", on one loop of an eddy epoll engine)
# runs pinned to CPU $LOAD_CPU.
#
#  1. Throughput: ping-pong with $SIZE-byte messages on 100 and 1000 connections for $DURATION each. The
#     server's user+system CPU time is read from /proc/PID/stat (fields 14 and 15, in clock ticks) when the
#     load generator starts its measured window and when it ends; reported are round trips/s, round trips
#     per server CPU-second and the server's CPU use over the window. With SYSCALLS=1 (needs perf and the
#     raw_syscalls tracepoint) also the server's system calls per round trip, counted by
#     "perf stat -e raw_syscalls:sys_enter -p PID" over the same window (all threads: the Go runtime's
#     calls count too).
#  2. Idle memory: the server's VmRSS before and after $IDLE_CONNS connections are open and have echoed
#     once each ("eddy load --hold"); RSS per idle connection = (after - before) / $IDLE_CONNS.
#     IDLE_CONNS=0 skips it.
#
# The servers are interleaved (A B C A B C ...) for $REPS repetitions, each measurement on a fresh server
# process, and the tables report medians. The script kills only the processes it started.
#
# Usage (from anywhere in the repository; Linux only, needs taskset and getconf):
#
#	scripts/measure-echo.sh                      # the full run, about 5 minutes
#	REPS=5 scripts/measure-echo.sh               # more repetitions on a noisy machine
#	REPS=1 DURATION=2s IDLE_CONNS=1000 scripts/measure-echo.sh   # a quick check
#	SERVERS="eddy-epoll eddy-uring net-baseline" SIZE=4096 IDLE_CONNS=0 SYSCALLS=1 scripts/measure-echo.sh
#	CONNS_LIST= SERVERS=eddy-epoll scripts/measure-echo.sh       # idle memory of one server only
set -euo pipefail

DURATION=${DURATION:-10s}
REPS=${REPS:-3}
CONNS_LIST=${CONNS_LIST-"100 1000"}
SIZE=${SIZE:-64}
IDLE_CONNS=${IDLE_CONNS:-10000}
HOLD=${HOLD:-5s}
SYSCALLS=${SYSCALLS:-0}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

# The servers, in the order they are interleaved: a name and the flags of "eddy echo".
read -r -a SERVER_NAMES <<<"${SERVERS:-eddy-epoll eddy-uring eddy-std net-baseline}"
declare -A SERVER_FLAGS=(
	[eddy-epoll]="--engine epoll --loops 1"
	[eddy-uring]="--engine uring --loops 1"
	[eddy-std]="--engine std"
	[net-baseline]="--baseline"
)
for name in "${SERVER_NAMES[@]}"; do
	[[ -n "${SERVER_FLAGS[$name]:-}" ]] || { printf 'measure-echo: unknown server %s (know: %s)\n' "$name" "${!SERVER_FLAGS[*]}" >&2; exit 2; }
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/measure-echo.XXXXXX")
pids=() # every process this script started

cleanup() {
	local p
	for p in "${pids[@]}"; do
		if kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p" 2>/dev/null || true
		fi
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }
die() { log "measure-echo: $*"; exit 1; }

for tool in taskset getconf go; do
	command -v "$tool" >/dev/null || die "$tool not found"
done
if ((SYSCALLS)); then command -v perf >/dev/null || die "perf not found (SYSCALLS=1)"; fi
[[ -r /proc/self/stat ]] || die "/proc is needed (Linux only)"
CLK_TCK=$(getconf CLK_TCK)

# wait_for_line FILE REGEX PID: waits until FILE has a line matching REGEX, or fails when PID exits first
# or after 60 s. It prints the line.
wait_for_line() {
	local file=$1 re=$2 pid=$3 i line
	for ((i = 0; i < 6000; i++)); do
		if line=$(grep -m1 -E "$re" "$file" 2>/dev/null); then
			printf '%s\n' "$line"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; die "process $pid exited before printing /$re/"; }
		sleep 0.01
	done
	die "timed out waiting for /$re/ in $file"
}

# cpu_ticks PID: user+system clock ticks used by PID (fields 14 and 15 of /proc/PID/stat; the fields are
# counted after the command name, which may contain spaces, hence the sed).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# rss_kib PID: resident set size of PID in KiB.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# json_field FILE KEY: a number from the load generator's JSON report (one key per line).
json_field() { sed -n "s/^ *\"$2\": \\([0-9.e+-]*\\),\\{0,1\\}$/\\1/p" "$1" | head -n1; }

# new_run: starts a new measurement: each gets its own log files, so that a line a previous process
# printed can never be mistaken for one of the next (the child truncates a reused file only after the fork,
# when the parent may already be reading it).
run_id=0
new_run() {
	run_id=$((run_id + 1))
	SERVER_LOG=$work/server.$run_id.log
	LOAD_LOG=$work/load.$run_id.log
	LOAD_JSON=$work/load.$run_id.json
	: >"$SERVER_LOG"
	: >"$LOAD_LOG"
	: >"$LOAD_JSON"
}

# start_server NAME: starts the named server pinned to SERVER_CPU and sets SERVER_PID and SERVER_ADDR.
start_server() {
	local name=$1 line
	# shellcheck disable=SC2086 # the flags are meant to be split
	GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$work/eddy" echo --addr tcp://127.0.0.1:0 ${SERVER_FLAGS[$name]} \
		2>"$SERVER_LOG" &
	SERVER_PID=$!
	pids+=("$SERVER_PID")
	line=$(wait_for_line "$SERVER_LOG" 'listening on' "$SERVER_PID")
	SERVER_ADDR=$(sed -E 's/.*listening on ([^ ]+).*/\1/' <<<"$line")
}

# stop_server: stops the server gracefully and waits for it.
stop_server() {
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || log "measure-echo: server exited with status $?"
}

# measure_throughput NAME CONNS REP: one ping-pong measurement; appends a row to $work/throughput.tsv.
measure_throughput() {
	local name=$1 conns=$2 rep=$3 lpid t0 t1 rc=0
	new_run
	start_server "$name"
	taskset -c "$LOAD_CPU" "$work/eddy" load --engine epoll --addr "$SERVER_ADDR" --conns "$conns" --size "$SIZE" \
		--duration "$DURATION" --json >"$LOAD_JSON" 2>"$LOAD_LOG" &
	lpid=$!
	pids+=("$lpid")
	wait_for_line "$LOAD_LOG" 'eddy load: running' "$lpid" >/dev/null
	local perf_pid="" perf_out=$work/perf.$run_id calls=0
	if ((SYSCALLS)); then
		perf stat -x, -e raw_syscalls:sys_enter -p "$SERVER_PID" -o "$perf_out" &
		perf_pid=$!
		pids+=("$perf_pid")
	fi
	t0=$(cpu_ticks "$SERVER_PID")
	wait "$lpid" || rc=$?
	t1=$(cpu_ticks "$SERVER_PID")
	if [[ -n "$perf_pid" ]]; then
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
		calls=$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$perf_out")
	fi
	stop_server
	[[ -s "$LOAD_JSON" ]] || { cat "$LOAD_LOG" >&2; die "load generator failed (status $rc)"; }

	local rt rps secs errs p50 p99 cpu
	rt=$(json_field "$LOAD_JSON" round_trips)
	rps=$(json_field "$LOAD_JSON" round_trips_per_sec)
	secs=$(json_field "$LOAD_JSON" seconds)
	errs=$(json_field "$LOAD_JSON" errors)
	p50=$(json_field "$LOAD_JSON" p50_ns)
	p99=$(json_field "$LOAD_JSON" p99_ns)
	cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / hz}')
	awk -v OFS='\t' -v n="$name" -v c="$conns" -v r="$rep" -v rt="$rt" -v rps="$rps" -v cpu="$cpu" \
		-v secs="$secs" -v e="$errs" -v p50="$p50" -v p99="$p99" -v la="$(cut -d' ' -f1 /proc/loadavg)" \
		-v calls="${calls:-0}" 'BEGIN {
			per = cpu > 0 ? rt / cpu : 0
			sys = calls > 0 && rt > 0 ? sprintf("%.3f", calls / rt) : "-"
			print n, c, r, sprintf("%.0f", rps), sprintf("%.0f", per), sprintf("%.0f", 100 * cpu / secs),
				sprintf("%.0f", p50 / 1000), sprintf("%.0f", p99 / 1000), e, la, sys
		}' | tee -a "$work/throughput.tsv" >&2
	((errs == 0)) || log "measure-echo: $name with $conns connections: $errs errors: $(cat "$LOAD_LOG")"
}

# gc_server: has the server collect garbage and return free memory to the system (SIGUSR1, see
# "eddy help echo"), and waits for its report.
gc_server() {
	local n
	n=$(grep -c 'after GC' "$SERVER_LOG" || true)
	kill -USR1 "$SERVER_PID"
	for _ in $(seq 100); do
		(($(grep -c 'after GC' "$SERVER_LOG" || true) > n)) && return 0
		sleep 0.05
	done
	die "the server did not answer SIGUSR1"
}

# measure_idle NAME REP: one idle-memory measurement; appends a row to $work/idle.tsv. Two figures: the
# RSS difference as it is (the heap holds whatever garbage the connection burst left until the collector
# runs, which on an idle server may be never), and the difference between RSS readings each taken after
# the server collected garbage and returned free memory (gc_server), the first on a fresh server of
# the same kind: what the connections hold.
measure_idle() {
	local name=$1 rep=$2 lpid before after before_gc after_gc rc=0
	new_run
	start_server "$name"
	sleep 0.5 # let the runtime settle after start
	before=$(rss_kib "$SERVER_PID")
	taskset -c "$LOAD_CPU" "$work/eddy" load --engine epoll --addr "$SERVER_ADDR" --conns "$IDLE_CONNS" --size "$SIZE" \
		--hold "$HOLD" --json >"$LOAD_JSON" 2>"$LOAD_LOG" &
	lpid=$!
	pids+=("$lpid")
	wait_for_line "$LOAD_LOG" 'eddy load: holding' "$lpid" >/dev/null
	sleep 1 # the connections are idle now; give the server a moment to finish with the last echoes
	after=$(rss_kib "$SERVER_PID")
	gc_server
	after_gc=$(rss_kib "$SERVER_PID")
	wait "$lpid" || rc=$?
	stop_server
	# The baseline of the figure after GC comes from a fresh server, so that the first figure's
	# process sees no collection it would not have had.
	start_server "$name"
	sleep 0.5
	gc_server
	before_gc=$(rss_kib "$SERVER_PID")
	stop_server
	[[ -s "$LOAD_JSON" ]] || { cat "$LOAD_LOG" >&2; die "load generator failed (status $rc)"; }
	local open errs
	open=$(json_field "$LOAD_JSON" open)
	errs=$(json_field "$LOAD_JSON" errors)
	awk -v OFS='\t' -v n="$name" -v r="$rep" -v b="$before" -v a="$after" -v o="$open" -v e="$errs" \
		-v bg="$before_gc" -v ag="$after_gc" 'BEGIN {
			print n, r, b, a, o, sprintf("%.0f", (a - b) * 1024 / o), e, sprintf("%.0f", (ag - bg) * 1024 / o)
		}' | tee -a "$work/idle.tsv" >&2
	((errs == 0)) || log "measure-echo: $name idle: $errs errors: $(cat "$LOAD_LOG")"
}

# median: the median of the numbers on stdin, one per line.
median() {
	sort -n | awk '{v[NR] = $1} END {
		if (NR == 0) { print "-"; exit }
		if (NR % 2) { print v[(NR + 1) / 2]; exit }
		m = (v[NR / 2] + v[NR / 2 + 1]) / 2
		if (m == int(m) || m >= 100) printf "%.0f\n", m; else printf "%.3f\n", m
	}'
}

# column_median FILE COLUMN KEY...: the median of COLUMN over the rows of FILE whose first columns are KEY...
column_median() {
	local file=$1 col=$2
	shift 2
	awk -F'\t' -v col="$col" -v keys="$*" 'BEGIN {n = split(keys, k, " ")}
		{for (i = 1; i <= n; i++) if ($i != k[i]) next; print $col}' "$file" | median
}

log "measure-echo: building eddy"
(cd "$root" && go build -o "$work/eddy" ./cmd/eddy)
log "measure-echo: servers on CPU $SERVER_CPU (GOMAXPROCS=1), load on CPU $LOAD_CPU; $REPS repetitions;" \
	"$SIZE-byte messages for $DURATION; idle: $IDLE_CONNS connections held $HOLD; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/throughput.tsv"
: >"$work/idle.tsv"

log "server	conns	rep	rt/s	rt/cpu-s	cpu%	p50us	p99us	errors	loadavg	syscalls/rt"
for ((rep = 1; rep <= REPS; rep++)); do
	for conns in $CONNS_LIST; do
		for name in "${SERVER_NAMES[@]}"; do
			measure_throughput "$name" "$conns" "$rep"
		done
	done
done
log "server	rep	rss-before-KiB	rss-after-KiB	conns	bytes/conn	errors	bytes/conn-after-GC"
for ((rep = 1; rep <= REPS && IDLE_CONNS > 0; rep++)); do
	for name in "${SERVER_NAMES[@]}"; do
		measure_idle "$name" "$rep"
	done
done

echo "Raw rows (throughput: server conns rep rt/s rt/cpu-s cpu% p50us p99us errors loadavg-1min syscalls/rt):"
cat "$work/throughput.tsv"
echo "Raw rows (idle: server rep rss-before-KiB rss-after-KiB conns bytes/conn errors bytes/conn-after-GC):"
cat "$work/idle.tsv"
echo
echo "Echo, $SIZE-byte messages, server on 1 CPU (GOMAXPROCS=1), load generator on another; medians of $REPS runs of $DURATION"
echo "(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
printf '%-13s %6s %12s %18s %10s %9s %9s %7s %12s\n' server conns 'round-trips/s' 'rt/server-CPU-s' 'server-CPU' 'p50(us)' 'p99(us)' errors 'syscalls/rt'
for conns in $CONNS_LIST; do
	for name in "${SERVER_NAMES[@]}"; do
		printf '%-13s %6s %12s %18s %9s%% %9s %9s %7s %12s\n' "$name" "$conns" \
			"$(column_median "$work/throughput.tsv" 4 "$name" "$conns")" \
			"$(column_median "$work/throughput.tsv" 5 "$name" "$conns")" \
			"$(column_median "$work/throughput.tsv" 6 "$name" "$conns")" \
			"$(column_median "$work/throughput.tsv" 7 "$name" "$conns")" \
			"$(column_median "$work/throughput.tsv" 8 "$name" "$conns")" \
			"$(awk -F'\t' -v n="$name" -v c="$conns" '$1 == n && $2 == c {s += $9} END {print s + 0}' "$work/throughput.tsv")" \
			"$(if ((SYSCALLS)); then column_median "$work/throughput.tsv" 11 "$name" "$conns"; else echo -; fi)"
	done
done
((IDLE_CONNS > 0)) || exit 0
echo
echo "Idle connections: server RSS before and after $IDLE_CONNS connections opened and echoed once; medians of $REPS runs"
echo
printf '%-13s %16s %16s %16s %20s %7s\n' server 'RSS before(KiB)' 'RSS after(KiB)' 'bytes/idle-conn' 'after GC (bytes)' errors
for name in "${SERVER_NAMES[@]}"; do
	printf '%-13s %16s %16s %16s %20s %7s\n' "$name" \
		"$(column_median "$work/idle.tsv" 3 "$name")" \
		"$(column_median "$work/idle.tsv" 4 "$name")" \
		"$(column_median "$work/idle.tsv" 6 "$name")" \
		"$(column_median "$work/idle.tsv" 8 "$name")" \
		"$(awk -F'\t' -v n="$name" '$1 == n {s += $7} END {print s + 0}' "$work/idle.tsv")"
done
