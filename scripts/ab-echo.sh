#!/usr/bin/env bash
# ab-echo.sh: an interleaved A/B of echo servers, in round trips per server CPU-second, reported as medians
# of per-round ratios to the first server, each with a 95 % interval that assumes nothing about the
# ratios' distribution (from 6 rounds: with 6 it is their range, with 12 the 3rd to the 10th).
#
# Each round runs every server once per connection count, in the order given (with ORDER=rotate, round r
# starts r-1 places along the list, so that over a multiple of the servers' count of rounds each has been
# first as often as the others: the first run of a round is favoured by a few per cent), each on a fresh
# process pinned to CPU $SERVER_CPU (GOMAXPROCS=1, one loop), with "eddy load" on a uring engine pinned to
# CPU $LOAD_CPU driving $SIZE-byte ping-pong for $DURATION (with RATE set: open loop at that many round
# trips a second). Server CPU time is read from /proc/PID/stat (utime + stime, every thread) when the load
# generator says it starts its window, and again $DURATION later less 100 ms (the load generator's window
# still open), so that neither connecting nor closing is counted; the load generator's round trips,
# counted over its own window, are scaled to that CPU window's length. The spread between rounds on a
# small VM is about ±10 % and mostly common to the servers of one round, so the per-round ratio is the
# figure to trust, not the absolute one.
#
# Servers: NAME or NAME:BINARY, where BINARY is an eddy binary (default: built from this checkout).
#   c           bench/c/epoll_echo.c (read/write), built with gcc -O2
#   csr         the same with -DSENDRECV (recv/send)
#   ct, csrt    c and csr with -DTHREAD: a second thread that only sleeps, so the descriptor table is shared
#               as in any Go process (each socket call then takes a reference on its file)
#   cu          bench/c/uring_echo.c (io_uring: multishot accept and recv, send), needs liburing-dev;
#               its receive buffers are $CU_BUFSZ bytes (default 2048: set 8192 for 4 KiB messages)
#   cuf         the same with -DFIXED (registered ring fd, sockets in the fixed-file table)
#   gou         internal/cmd/uringecho: the C io_uring server's loop in Go, on eddy's bindings
#   gouh        the same holding its P through the first 200 µs of a wait, as the uring engine does
#   epoll       eddy echo --engine epoll --loops 1
#   uring       eddy echo --engine uring --loops 1
#   std         eddy echo --engine std
#   net         eddy echo --baseline (a goroutine per connection on package net)
# A name may carry a suffix after a dash to tell two binaries apart: epoll-old:/tmp/eddy-old.
#
# Usage (Linux, needs taskset; gcc for c and csr):
#
#	scripts/ab-echo.sh c epoll net                       # 8 rounds at 100 and 1,000 connections
#	ROUNDS=6 scripts/ab-echo.sh epoll-old:/tmp/eddy-old epoll
#	RATE=100000 CONNS_LIST=1000 scripts/ab-echo.sh epoll uring
#	ORDER=rotate ROUNDS=8 scripts/ab-echo.sh c epoll uring cu    # each server first in 2 rounds
#	LOAD_BIN=/tmp/eddy-old scripts/ab-echo.sh uring-old:/tmp/eddy-old uring   # same load generator for both
#
# The script kills only the processes it started: each run's server and load generator when the run ends
# or fails, and, on an interrupt, those of the run in progress.
set -euo pipefail
export LC_NUMERIC=C # $EPOCHREALTIME and awk with a decimal point
ROUNDS=${ROUNDS:-8}
ORDER=${ORDER:-fixed} # fixed: the servers in the order given every round; rotate: a Latin square
CONNS_LIST=${CONNS_LIST:-"100 1000"}
SIZE=${SIZE:-64}
DURATION=${DURATION:-4s}
RATE=${RATE:-}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
NICE=${NICE:-0} # e.g. -20 (needs root)
CU_BUFSZ=${CU_BUFSZ:-2048} # the C io_uring server's receive buffers: 8192 for SIZE=4096, which 2048 splits in two
LOAD_BIN=${LOAD_BIN:-} # the eddy binary whose "load" drives the servers (default: built from this checkout)
(($# > 0)) || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ab-echo.XXXXXX")
# $work/live holds the PIDs of the run in progress (its server, then its load generator). Each run is
# the left side of a pipeline, a subshell, whose variables the trap below would not see.
: >"$work/live"
cleanup() {
	local p
	while read -r p; do kill "$p" 2>/dev/null || true; done <"$work/live"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
log() { printf '%s\n' "$*" >&2; }

# Build what the servers named (and the load generator, without LOAD_BIN) need from this checkout.
need_eddy=${LOAD_BIN:+no}
need_gou=no
for s in "$@"; do
	n=${s%%:*}
	case ${n%%-*} in
	epoll | uring | std | net) [[ $s == *:* ]] || need_eddy=yes ;;
	gou | gouh) need_gou=yes ;;
	esac
done
if [[ ${need_eddy:-yes} == yes ]]; then (cd "$root" && go build -o "$work/eddy" ./cmd/eddy); fi
if [[ $need_gou == yes ]]; then (cd "$root" && go build -o "$work/gou" ./internal/cmd/uringecho); fi
for s in "$@"; do
	case ${s%%:*} in
	c) gcc -O2 -o "$work/c" "$root/bench/c/epoll_echo.c" ;;
	csr) gcc -O2 -DSENDRECV -o "$work/csr" "$root/bench/c/epoll_echo.c" ;;
	ct) gcc -O2 -DTHREAD -pthread -o "$work/ct" "$root/bench/c/epoll_echo.c" ;;
	csrt) gcc -O2 -DSENDRECV -DTHREAD -pthread -o "$work/csrt" "$root/bench/c/epoll_echo.c" ;;
	cu) gcc -O2 -DBUFSZ="$CU_BUFSZ" -o "$work/cu" "$root/bench/c/uring_echo.c" -luring ;;
	cuf) gcc -O2 -DBUFSZ="$CU_BUFSZ" -DFIXED -o "$work/cuf" "$root/bench/c/uring_echo.c" -luring ;;
	esac
done

hz=$(getconf CLK_TCK)
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# seconds DURATION: a Go duration (4s, 2500ms, 1m30s) in seconds.
seconds() {
	awk -v d="$1" 'BEGIN {
		u["h"] = 3600; u["m"] = 60; u["s"] = 1; u["ms"] = 1e-3; u["us"] = 1e-6; u["µs"] = 1e-6; u["ns"] = 1e-9
		s = 0; rest = d
		while (match(rest, /^[0-9.]+/)) {
			v = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1)
			match(rest, /^[^0-9.]+/); k = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1)
			if (!(k in u)) exit 1
			s += v * u[k]
		}
		if (rest != "" || s <= 0) exit 1
		printf "%.6f\n", s
	}'
}
window=$(seconds "$DURATION") || { log "ab-echo: DURATION=$DURATION: want a Go duration such as 4s"; exit 2; }
awk -v w="$window" 'BEGIN { exit !(w > 0.5) }' || { log "ab-echo: DURATION=$DURATION: want more than 500ms"; exit 2; }
# The CPU window closes this long before the load generator's (which opened a moment before its line was
# read, polled every 10 ms): the load generator still runs then.
margin=0.1
port=$((20000 + RANDOM % 10000)) # below the ephemeral range (32768-); run takes the next free one

# run NAME[:BINARY] CONNS ROUND SEQ: one measurement (the SEQth of the A/B); prints "name conns round
# rt/cpu-s cpu-s".
run() {
	local spec=$1 conns=$2 round=$3 seq=$4 name bin kind spid lpid t0 t1 w0 w1 rt errs secs
	name=${spec%%:*}
	bin=$work/eddy
	[[ $spec == *:* ]] && bin=${spec#*:}
	kind=${name%%-*}
	# run is called in a pipeline, a subshell: the port comes from the round and the server's place, so
	# that every run listens on a port no earlier run used (none of its connections linger there).
	port=$((port + seq))
	while [[ -n $(ss -Htan "sport = :$port") ]]; do port=$((port + 1)); done
	local cmd
	case $kind in
	c | csr | ct | csrt | cu | cuf) cmd=("$work/$kind" 127.0.0.1 "$port") ;;
	gou) cmd=(env GOMAXPROCS=1 "$work/gou" -port "$port") ;;
	gouh) cmd=(env GOMAXPROCS=1 "$work/gou" -port "$port" -held 200us) ;;
	epoll | uring) cmd=(env GOMAXPROCS=1 "$bin" echo --addr "tcp://127.0.0.1:$port" --engine "$kind" --loops 1) ;;
	std) cmd=(env GOMAXPROCS=1 "$bin" echo --addr "tcp://127.0.0.1:$port" --engine std) ;; # no loops: it warns of --loops
	net) cmd=(env GOMAXPROCS=1 "$bin" echo --addr "tcp://127.0.0.1:$port" --baseline) ;;
	*) log "ab-echo: unknown server $name"; exit 2 ;;
	esac
	# The server's standard output goes to its log too: left on the pipeline's, it would keep tee, and so
	# the script, waiting for as long as the server lives.
	nice -n "$NICE" taskset -c "$SERVER_CPU" "${cmd[@]}" >"$work/server.log" 2>&1 &
	spid=$!
	echo "$spid" >"$work/live"
	# fail MESSAGE LOG: stop this run's processes, show the message and the log, and end the script.
	fail() {
		local p
		for p in ${lpid:-} "$spid"; do { kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; } || true; done
		: >"$work/live"
		log "ab-echo: $1"
		cat "$2" >&2
		exit 1
	}
	until [[ -n $(ss -Hltn "sport = :$port") ]]; do
		kill -0 "$spid" 2>/dev/null || fail "$name exited" "$work/server.log"
		sleep 0.05
	done
	nice -n "$NICE" taskset -c "$LOAD_CPU" "${LOAD_BIN:-$work/eddy}" load --engine uring --addr "127.0.0.1:$port" --conns "$conns" \
		--size "$SIZE" --duration "$DURATION" ${RATE:+--rate "$RATE"} --json >"$work/load.json" 2>"$work/load.log" </dev/null &
	lpid=$!
	echo "$lpid" >>"$work/live"
	until grep -q 'eddy load: running' "$work/load.log" 2>/dev/null; do
		kill -0 "$lpid" 2>/dev/null || fail "$name c$conns: the load generator ended before its window" "$work/load.log"
		sleep 0.01
	done
	# The CPU window: from the load generator's start line to $DURATION less $margin later, inside the
	# load generator's own window (connecting before it and closing after it are not counted).
	w0=$EPOCHREALTIME
	t0=$(cpu_ticks "$spid")
	sleep "$(awk -v w0="$w0" -v now="$EPOCHREALTIME" -v d="$window" -v m="$margin" 'BEGIN { s = w0 + d - m - now; printf "%.3f", (s > 0 ? s : 0) }')"
	t1=$(cpu_ticks "$spid")
	w1=$EPOCHREALTIME
	wait "$lpid" || true
	kill "$spid"
	wait "$spid" 2>/dev/null || true
	: >"$work/live"
	rt=$(sed -n 's/^ *"round_trips": \([0-9]*\),/\1/p' "$work/load.json")
	errs=$(sed -n 's/^ *"errors": \([0-9]*\),/\1/p' "$work/load.json")
	secs=$(sed -n 's/^ *"seconds": \([0-9.e+-]*\),/\1/p' "$work/load.json")
	[[ -n $rt && -n $secs && $errs == 0 ]] ||
		fail "$name c$conns: round trips '$rt', window '$secs' s, errors '$errs'" "$work/load.log"
	# Round trips counted over the load generator's window (secs), scaled to the CPU window (w1 - w0).
	awk -v n="$name" -v c="$conns" -v r="$round" -v rt="$rt" -v secs="$secs" -v w0="$w0" -v w1="$w1" -v a="$t0" -v b="$t1" -v hz="$hz" \
		'BEGIN { cpu = (b - a) / hz; rt *= (w1 - w0) / (secs > 0 ? secs : 1); printf "%s\t%s\t%s\t%.0f\t%.2f\n", n, c, r, (cpu > 0 ? rt / cpu : 0), cpu }'
}

log "ab-echo: $ROUNDS rounds of $DURATION, $SIZE-byte messages${RATE:+, $RATE round trips/s}; servers: $*"
: >"$work/rows.tsv"
seq=0
servers=("$@")
n=${#servers[@]}
for ((round = 1; round <= ROUNDS; round++)); do
	for conns in $CONNS_LIST; do
		# ORDER=rotate: round r starts with the server r-1 places along the list (a Latin square over n
		# rounds), so that none is always first, the place a few per cent favour.
		shift_by=0
		[[ $ORDER == rotate ]] && shift_by=$(((round - 1) % n))
		for ((k = 0; k < n; k++)); do
			s=${servers[$(((k + shift_by) % n))]}
			seq=$((seq + 1))
			run "$s" "$conns" "$round" "$seq" | tee -a "$work/rows.tsv" >&2
		done
	done
done

ref=${1%%:*}
printf '\nround trips per server CPU-second, medians of %d rounds; ratio = median of the per-round ratios to %s,\nwith its 95 %% interval (from the order statistics; 6 rounds or more)\n\n' "$ROUNDS" "$ref"
printf '%-14s %6s %12s %9s %13s %16s\n' server conns rt/cpu-s ratio '95% interval' 'rounds above'
for conns in $CONNS_LIST; do
	for s in "$@"; do
		name=${s%%:*}
		awk -F'\t' -v n="$name" -v c="$conns" -v ref="$ref" '
			$2 == c { v[$1, $3] = $4; if ($1 == n) rounds[$3] = 1 }
			function median(a, k,   i, j, t) {
				for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
				return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
			}
			END {
				k = 0; above = 0
				for (r in rounds) { k++; abs[k] = v[n, r]; rat[k] = v[n, r] / v[ref, r]; if (rat[k] > 1) above++ }
				ci = "-"
				if (n != ref) {
					# A distribution-free 95 % interval of the median: order statistics lo and k-lo+1, lo the
					# largest with P(Binomial(k, 1/2) < lo) <= 0.025 (12 rounds: the 3rd and the 10th).
					lo = 0; p = 0.5 ^ k; cum = 0
					for (i = 0; cum + p <= 0.025; i++) { cum += p; lo = i + 1; p = p * (k - i) / (i + 1) }
				}
				m = median(rat, k) # sorts rat
				if (n != ref && lo >= 1) ci = sprintf("%.3f-%.3f", rat[lo], rat[k - lo + 1])
				printf "%-14s %6s %12.0f %9.3f %13s %11d of %d\n", n, c, median(abs, k), m, ci, above, k
			}' "$work/rows.tsv"
	done
done
