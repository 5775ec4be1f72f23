#!/usr/bin/env bash
# Interleaved A/B of plaintext servers under wrk, for comparing builds on a shared machine: each
# round runs every server once, in the same order, each in a fresh process pinned to core 0
# (GOMAXPROCS=1, one loop), wrk pinned to core 1 (one thread), after a 2 s warm-up. Per run it
# prints requests/s, p99, requests per server CPU-second (utime+stime from /proc/PID/stat), the
# server's CPU use, its user share, and "other", the share of core 0 that other processes took.
# Then the median and range of each server over the rounds, and its ratio to the first server.
#
#   SPECS="new=/tmp/plain:http1-nethttp:epoll old=/tmp/plain-old:http1-nethttp:epoll \
#          fasthttp=/tmp/plain:fasthttp" ROUNDS=5 bash bench/http/wrkab.sh
#
# SPECS holds label=binary:server[:engine] items; binary is a build of ./http/plaintext, or an eddy
# binary (cmd/eddy, its name ending in "eddy"), run as "eddy hello --style server --engine engine"
# (server "baseline": eddy hello --baseline) with HELLO_ARGS added, such as "--tls-cert F --tls-key
# F" together with SCHEME=https for an HTTPS A/B. LOAD_BIN=/path/to/eddy drives the servers with
# "eddy load --conns CONNS --loops 1 --engine epoll" (https with --insecure) instead of wrk. NICE=-20
# (as root) runs servers and wrk in sessions, and so scheduler autogroups, of their own at that
# niceness, so that other work on a shared machine takes less of their cores. Needs wrk, taskset.
set -uo pipefail

SPECS=${SPECS:?set SPECS to label=binary:server[:engine] items}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-100}
NICE=${NICE:-0}
ADDR=127.0.0.1:${PORT:-18181}
SCHEME=${SCHEME:-http}
LOAD_BIN=${LOAD_BIN:-}
HELLO_ARGS=${HELLO_ARGS:-}
OUT=${OUT:-$(mktemp)}

[[ -n $LOAD_BIN ]] || command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)"; exit 1; }
tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
user_ticks() { awk '{print $14}' "/proc/$1/stat"; }
core0() { awk '$1 == "cpu0" {print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
# boost is a command prefix that runs a command in a session of its own at niceness NICE, exec'ing
# all the way so that $! of a command started in the background is the command's PID.
boost=(setsid bash -c 'echo "$0" > /proc/self/autogroup 2>/dev/null; exec nice -n "$0" "$@"' "$NICE")

: >"$OUT"
for round in $(seq "$ROUNDS"); do
	for spec in $SPECS; do
		label=${spec%%=*} rest=${spec#*=}
		bin=${rest%%:*} kind=${rest#*:} engine=auto
		if [[ $kind == *:* ]]; then engine=${kind#*:} kind=${kind%%:*}; fi
		log=$(mktemp)
		if [[ $bin == *eddy ]]; then
			args=(hello --style "$kind" --engine "$engine" --loops 1)
			[[ $kind == baseline ]] && args=(hello --baseline) # (which refuses --loops)
			# shellcheck disable=SC2086 # HELLO_ARGS is a list of words
			GOMAXPROCS=1 "${boost[@]}" taskset -c 0 "$bin" "${args[@]}" --addr "$ADDR" $HELLO_ARGS >"$log" 2>&1 &
		else
			GOMAXPROCS=1 "${boost[@]}" taskset -c 0 "$bin" -server "$kind" -engine "$engine" -loops 1 -addr "$ADDR" >"$log" 2>&1 &
		fi
		pid=$!
		for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.05; done
		if ! grep -q listening "$log"; then # measuring a server that is not there would give figures of nothing
			echo "$label did not start:"; cat "$log"
			kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"
			exit 1
		fi
		loader=(wrk -t1 -c"$CONNS" --latency)
		[[ -n $LOAD_BIN ]] && loader=("$LOAD_BIN" load --insecure --conns "$CONNS" --loops 1 --engine epoll --url)
		if [[ -n $LOAD_BIN ]]; then # warm-up
			"${boost[@]}" taskset -c 1 "${loader[@]}" "$SCHEME://$ADDR/" --duration 2s >/dev/null 2>&1
		else
			"${boost[@]}" taskset -c 1 "${loader[@]}" -d2s "$SCHEME://$ADDR/" >/dev/null
		fi
		t0=$(cpu_ticks $pid) u0=$(user_ticks $pid)
		read -r b0 a0 <<<"$(core0)"
		if [[ -n $LOAD_BIN ]]; then
			res=$("${boost[@]}" taskset -c 1 "${loader[@]}" "$SCHEME://$ADDR/" --duration "$DURATION" 2>&1)
		else
			res=$("${boost[@]}" taskset -c 1 "${loader[@]}" -d"$DURATION" "$SCHEME://$ADDR/")
		fi
		t1=$(cpu_ticks $pid) u1=$(user_ticks $pid)
		read -r b1 a1 <<<"$(core0)"
		kill -TERM $pid
		wait $pid 2>/dev/null
		rm -f "$log"
		if [[ -n $LOAD_BIN ]]; then # "round trips  312513 (104171/s), ...", "latency  p50 447µs  p90 ...  p99 986µs ..."
			total=$(awk '$1 == "round" {print $3}' <<<"$res")
			rps=$(awk -v n="$total" -v d="${DURATION%s}" 'BEGIN {print n / d}')
			p99=$(awk '$1 == "latency" {for (i = 2; i < NF; i++) if ($i == "p99") print $(i + 1)}' <<<"$res")
			errs=$(awk '$1 == "errors" && $2 != 0' <<<"$res")
		else
			rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$res")
			p99=$(awk '$1 == "99%" {print $2}' <<<"$res")
			total=$(awk '/requests in/ {print $1}' <<<"$res")
			errs=$(grep -E 'Socket errors|Non-2xx' <<<"$res" | tr '\n' ' ')
		fi
		d=$((t1 - t0)) # 0 when the server got no tick of CPU (wrk failed): no per-CPU figure then
		awk -v r="$round" -v l="$label" -v rps="$rps" -v p99="${p99:--}" -v n="$total" -v d="$d" -v u="$((u1 - u0))" \
			-v hz="$tck" -v s="${DURATION%s}" -v b="$((b1 - b0 - d))" -v a="$((a1 - a0))" -v e="$errs" 'BEGIN {
			per = d > 0 ? sprintf("%7.0f", n / (d / hz)) : "    n/a"
			printf "%d %-14s req/s %9.0f  p99 %-8s  req/CPU-s %s  cpu %.2f  user %.2f  other %3.0f%%  %s\n",
				r, l, rps, p99, per, d / hz / s, (d > 0 ? u / d : 0), (b > 0 ? b : 0) * 100 / a, e }' | tee -a "$OUT"
	done
done

echo
echo "median [min-max] over $ROUNDS rounds ($OUT); ratio of req/CPU-s medians to the first server"
ref=""
for spec in $SPECS; do
	label=${spec%%=*}
	# The runs without a per-CPU figure (n/a) count in no median.
	stats() { awk -v l="$label" -v f="$1" '$2 == l && $8 != "n/a" {print $f}' "$OUT" | sort -n | awk '{v[NR] = $1} END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f [%.0f-%.0f]", m, v[1], v[NR] }'; }
	rps=$(stats 4) per=$(stats 8)
	p99s=$(awk -v l="$label" '$2 == l {printf "%s ", $6}' "$OUT")
	med=${per%% *}
	[[ -z $ref ]] && ref=$med
	printf '%-14s req/s %-24s req/CPU-s %-24s x%s  p99 %s\n' "$label" "$rps" "$per" "$(awk -v a="$med" -v b="$ref" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')" "$p99s"
done
