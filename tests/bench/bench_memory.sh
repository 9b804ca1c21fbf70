#!/usr/bin/env bash
# Bounded memory: perf_analyzer's resident set size against the number of
# requests it has completed, over a long high-rate level.
#
#   tests/bench/bench_memory.sh [build_dir] [window_ms] [trials]
#
# One level at concurrency 8 (async, PA_BENCH_PROTO=http|grpc, default
# http) against the reference server with no compute delay, run for
# `trials` windows of `window_ms` (-s 0 so it never stabilizes early: about
# trials x 1.2 x window_ms, 16 x 4.8 s by default; some two million
# requests here, the count of a long run at an ordinary rate). Every second
# it samples VmRSS of perf_analyzer (/proc/PID/status) and the server's
# success count for the model. Memory legitimately grows with the size of
# a window (the profiler keeps the last three windows' latencies and the
# records of the window being collected), so the warm-up is the first four
# windows; after it, RSS is fitted against requests and the slope printed
# in MB per million requests, with the RSS at the end of the warm-up and
# the peak.
#
# Two runs: "default" (no profile export: RSS must stay flat once the
# windows have their working size) and "export" (--profile-export-file,
# which by the spec keeps every request of every window until the end, so
# it grows by what one request record costs). Target for the default run:
# < 16 MB per million requests (the original keeps every record).
# A figure, never an assertion: it fails only when something cannot run.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
window_ms=${2:-4000}
trials=${3:-16}
proto=${PA_BENCH_PROTO:-http}
model=simple

pa=$build/src/perf_analyzer
[ -x "$pa" ] || { echo "bench: no perf_analyzer at $pa (build it first)" >&2; exit 1; }

# shellcheck source=lib.sh
. "$root/tests/bench/lib.sh"
bench_server_start "$build" --grpc-port 0 --metrics-port -1
http=127.0.0.1:$PA_HTTP_PORT
case $proto in
    http) target=(-u "$http") ;;
    grpc) target=(-i grpc -u "127.0.0.1:$PA_GRPC_PORT") ;;
    *) echo "bench: PA_BENCH_PROTO must be http or grpc" >&2; exit 1 ;;
esac

tmp=$BENCH_TMP
pa_pid=""
cleanup() {
    if [ -n "$pa_pid" ] && kill -0 "$pa_pid" 2>/dev/null; then
        kill -KILL "$pa_pid" 2>/dev/null
        wait "$pa_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
    pa_server_stop
}
trap cleanup EXIT

run() { # label extra-args...
    local label=$1 samples=$tmp/$1.samples t0 rss now rc
    shift
    : >"$samples"
    t0=$(date +%s%N)
    "$pa" -m "$model" "${target[@]}" --async --concurrency-range 8 -p "$window_ms" \
        -r "$trials" -s 0 "$@" >"$tmp/$label.out" 2>"$tmp/$label.err" &
    pa_pid=$!
    while kill -0 "$pa_pid" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pa_pid/status" 2>/dev/null) || rss=""
        now=$(date +%s%N)
        [ -n "$rss" ] && echo "$(((now - t0) / 1000000)) $rss $(bench_server_count "$model")" >>"$samples"
        sleep 1
    done
    set +e
    wait "$pa_pid"
    rc=$?
    set -e
    pa_pid=""
    python3 - "$label" "$samples" "$window_ms" "$rc" <<'PY'
import sys
label, path, window_ms, rc = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rows = [tuple(map(int, l.split())) for l in open(path) if len(l.split()) == 3]
if not rows:
    sys.exit(f"{label}: no samples")
base = rows[0][2]
warm = [r for r in rows if r[0] >= 4 * 1.2 * window_ms]  # after four windows
total = rows[-1][2] - base
peak = max(r[1] for r in rows)
line = f"{label:<8} {total:>10} {rows[-1][0] / 1000:>7.1f}"
if len(warm) < 3 or warm[-1][2] == warm[0][2]:
    print(line + "   (too few samples after warm-up)")
    sys.exit(0)
n = len(warm)
xs = [r[2] for r in warm]
ys = [r[1] / 1024 for r in warm]                       # MB
mx, my = sum(xs) / n, sum(ys) / n
sxx = sum((x - mx) ** 2 for x in xs)
slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx   # MB per request
print(line + f" {warm[0][1] / 1024:>10.1f} {peak / 1024:>8.1f} {slope * 1e6:>12.2f}"
      + ("" if rc in ("0", "2") else f"   (perf_analyzer exit {rc})"))
PY
}

echo "perf_analyzer RSS, $proto, async concurrency 8, $trials windows of $window_ms ms"
printf '%-8s %10s %7s %10s %8s %12s\n' run requests secs warm_MB peak_MB MB/Mreq
run default
run export --profile-export-file "$tmp/export.json"
