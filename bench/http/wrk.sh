#!/usr/bin/env bash
# Plaintext HTTP comparison with wrk: each server pinned to core 0 with GOMAXPROCS=1 (one loop for
# eddy), wrk pinned to core 1, one thread. For each server and connection count it prints
# requests/s, p99 latency and requests per second of server CPU time (utime+stime from
# /proc/PID/stat), and "other load", the share of core 0 that other processes took meanwhile (the
# figures are only worth much when it is near 0%). Then, unless IDLE=0, the server's RSS per idle keep-alive connection at IDLE
# connections (10000 by default). CONNS=0 skips the throughput part.
#
#   bash bench/http/wrk.sh                       # everything
#   SERVERS="http1-native fasthttp" CONNS=100 DURATION=5s IDLE=0 bash bench/http/wrk.sh
#
# Needs wrk (Debian package wrk) and taskset (util-linux) and 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVERS=${SERVERS:-"http1-native:epoll http1-nethttp:epoll http1-native:std http1-nethttp:std nethttp fasthttp nbhttp"}
CONNS=${CONNS:-"100 1000"}
DURATION=${DURATION:-10s}
IDLE=${IDLE:-10000}
PORT=${PORT:-18080}
ADDR=127.0.0.1:$PORT

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)"; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/plaintext" ./http/plaintext
go build -o "$bin/idleconns" ./http/idleconns
tck=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# core0 prints the process ticks (user, nice, system) and all ticks of core 0, the server's: what
# other processes ran there shows. Interrupt time is left out: loopback traffic makes plenty.
core0() { awk '$1 == "cpu0" {print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

start_server() { # kind engine -> sets pid
	local kind=$1 engine=$2
	GOMAXPROCS=1 taskset -c 0 "$bin/plaintext" -server "$kind" -engine "$engine" -loops 1 -addr "$ADDR" >"$bin/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		grep -q listening "$bin/server.log" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "server $kind did not start:"; cat "$bin/server.log"; exit 1
}

stop_server() {
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

[[ $CONNS == 0 ]] && SERVERS_TP="" || SERVERS_TP=$SERVERS
[[ -n $SERVERS_TP ]] && printf '%-22s %6s %12s %10s %16s %12s\n' server conns "requests/s" p99 "req/CPU-second" "other load"
for spec in $SERVERS_TP; do
	kind=${spec%%:*}
	engine=auto
	[[ $spec == *:* ]] && engine=${spec##*:}
	for c in $CONNS; do
		start_server "$kind" "$engine"
		taskset -c 1 wrk -t1 -c"$c" -d2s http://$ADDR/ >/dev/null # warm-up
		t0=$(cpu_ticks "$pid")
		read -r b0 all0 <<<"$(core0)"
		out=$(taskset -c 1 wrk -t1 -c"$c" -d"$DURATION" --latency http://$ADDR/)
		t1=$(cpu_ticks "$pid")
		read -r b1 all1 <<<"$(core0)"
		other=$(awk -v b="$((b1 - b0 - (t1 - t0)))" -v a="$((all1 - all0))" 'BEGIN { printf "%.0f%%", (b > 0 ? b : 0) * 100 / a }')
		stop_server
		rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
		p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
		total=$(awk '/requests in/ {print $1}' <<<"$out")
		errs=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr '\n' ' ' || true)
		per_cpu=$(awk -v n="$total" -v d="$((t1 - t0))" -v hz="$tck" 'BEGIN { if (d > 0) printf "%.0f", n / (d / hz); else print "n/a" }')
		printf '%-22s %6s %12s %10s %16s %12s %s\n' "$spec" "$c" "$rps" "$p99" "$per_cpu" "$other" "$errs"
	done
done

[[ $IDLE == 0 ]] && exit 0
echo
echo "RSS per idle keep-alive connection at $IDLE connections (one request each, then idle)"
printf '%-22s %12s %12s %14s\n' server "RSS before" "RSS after" "bytes/conn"
for spec in $SERVERS; do
	kind=${spec%%:*}
	engine=auto
	[[ $spec == *:* ]] && engine=${spec##*:}
	start_server "$kind" "$engine"
	sleep 0.5
	before=$(rss_kib "$pid")
	"$bin/idleconns" -addr "$ADDR" -n "$IDLE" >"$bin/idle.log" 2>&1 &
	cpid=$!
	for _ in $(seq 600); do
		grep -q ready "$bin/idle.log" 2>/dev/null && break
		kill -0 "$cpid" 2>/dev/null || { echo "idleconns failed:"; cat "$bin/idle.log"; exit 1; }
		sleep 0.1
	done
	sleep 2
	after=$(rss_kib "$pid")
	kill -TERM "$cpid"; wait "$cpid" 2>/dev/null || true
	stop_server
	printf '%-22s %9s KiB %9s KiB %14s\n' "$spec" "$before" "$after" "$(((after - before) * 1024 / IDLE))"
done
