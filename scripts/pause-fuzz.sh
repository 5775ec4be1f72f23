#!/usr/bin/env bash
# pause-fuzz.sh: runs one package's tests while freezing the test process (SIGSTOP) for part of every
# second, to find the tests and the code that a stalled machine breaks. A frozen process imitates what a
# CI machine under load does to a test (its goroutines run hundreds of milliseconds late) without loading
# the machine, and every SIGSTOP/SIGCONT also interrupts the process's blocking system calls, as Ctrl-Z,
# a debugger's attach or a container's freezer do. It found, among others, the uring engine's EINTR
# failures and a std engine Write accepted after a failed send (docs/testing.md).
#
# Only the test binary is frozen, not the processes it starts. A failure is a lead, not a verdict: read
# the test and decide whether it assumed a prompt goroutine (fix the test: docs/testing.md) or the code
# mishandled the stall (fix the code).
#
# Usage: scripts/pause-fuzz.sh PACKAGE [TEST-PATTERN]
#   RUNS=5         how many runs of the test binary
#   STOP=300       milliseconds frozen ...
#   RUN=700        ... then milliseconds running, in turn
#   RANDOM_MS=     "a:b:c:d": frozen a-b ms, then running c-d ms, at random (overrides STOP and RUN)
#   RACE=1         build with -race (0: without)
#   TIMEOUT=20m    each run's -test.timeout
# Example: RUNS=10 STOP=500 RUN=500 scripts/pause-fuzz.sh ./http1 'TestNativePipeline'
#
# Logs go to a temporary directory, named at the end; the script kills only the processes it started.
set -euo pipefail
(($# >= 1)) || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
pkg=$1
pattern=${2:-.}
RUNS=${RUNS:-5}
STOP=${STOP:-300}
RUN=${RUN:-700}
RANDOM_MS=${RANDOM_MS:-}
RACE=${RACE:-1}
TIMEOUT=${TIMEOUT:-20m}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/pause-fuzz.XXXXXX")
race=()
((RACE)) && race=(-race)
(cd "$root" && go test "${race[@]}" -c -o "$work/pkg.test" "$pkg")
dir=$(cd "$root" && go list -f '{{.Dir}}' "$pkg")

ms() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }
between() { echo $(($1 + RANDOM % ($2 - $1 + 1))); }

# pause PID: freezes PID in turns until it exits; prints how many times.
pause() {
	local pid=$1 n=0 stop run a b c d
	if [[ -n $RANDOM_MS ]]; then IFS=: read -r a b c d <<<"$RANDOM_MS"; fi
	while kill -0 "$pid" 2>/dev/null; do
		if [[ -n $RANDOM_MS ]]; then stop=$(between "$a" "$b"); run=$(between "$c" "$d"); else stop=$STOP; run=$RUN; fi
		ms "$run"
		kill -STOP "$pid" 2>/dev/null || break
		ms "$stop"
		kill -CONT "$pid" 2>/dev/null || break
		n=$((n + 1))
	done
	echo "$n"
}

tpid=
cleanup() { [[ -n $tpid ]] && kill -CONT "$tpid" 2>/dev/null && kill "$tpid" 2>/dev/null; true; }
trap cleanup EXIT

failed=0
for i in $(seq "$RUNS"); do
	log="$work/run$i.log"
	(cd "$dir" && exec "$work/pkg.test" -test.run "$pattern" -test.count 1 -test.timeout "$TIMEOUT" -test.v) >"$log" 2>&1 &
	tpid=$!
	pauses=$(pause "$tpid")
	rc=0
	wait "$tpid" || rc=$?
	tpid=
	if ((rc)); then
		failed=$((failed + 1))
		echo "run $i: FAILED (exit $rc, $pauses pauses): $log"
		grep -E '^\s*--- FAIL' "$log" | head -20 || true
	else
		echo "run $i: ok ($pauses pauses)"
	fi
done
echo "$failed of $RUNS runs failed; logs in $work"
trap - EXIT
((failed == 0))
