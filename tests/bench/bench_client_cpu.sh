#!/usr/bin/env bash
# Client CPU cost per request of perf_analyzer at concurrency 8, sync and
# async, against the reference server (tests/servers/pa-test-server).
#
#   tests/bench/bench_client_cpu.sh [build_dir] [window_ms]
#
# For each mode it prints the client's process CPU time (user + system, from
# /usr/bin/time) divided by the number of requests the server itself counted
# for the model during the run (its statistics endpoint, before/after), and
# the request rate that count gives over the wall time. This is a figure to
# compare runs and peer tools with, never an assertion: the script fails only
# when something cannot run at all.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
window_ms=${2:-2000}
model=${PA_BENCH_MODEL:-simple}
delay_ms=${PA_BENCH_DELAY_MS:-2}

pa=$build/src/perf_analyzer
[ -x "$pa" ] || { echo "bench: no perf_analyzer at $pa (build it first)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed" >&2; exit 1; }

# shellcheck source=../servers/server_ctl.sh
. "$root/tests/servers/server_ctl.sh"
pa_server_start "$build" --delay-ms "$delay_ms"

url=127.0.0.1:$PA_HTTP_PORT

# Successful inferences the server has counted for the model so far.
server_count() {
    curl -sf "http://$url/v2/models/$model/stats" |
        python3 -c 'import json,sys
d=json.load(sys.stdin)
print(sum(int(m["inference_stats"]["success"]["count"]) for m in d["model_stats"]))'
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pa-bench.XXXXXX")
trap 'rm -rf "$tmp"; pa_server_stop' EXIT

printf '%-6s %12s %14s %12s %12s\n' mode requests cpu_us/request req/s client_cpu%
for mode in sync async; do
    before=$(server_count)
    start=$(date +%s.%N)
    # Exit status is reported, not fatal: an unstable run still did the work.
    set +e
    /usr/bin/time -f '%U %S' -o "$tmp/time" \
        "$pa" -m "$model" -u "$url" --concurrency-range 8 "--$mode" -p "$window_ms" \
        >"$tmp/out.$mode" 2>"$tmp/err.$mode"
    rc=$?
    set -e
    end=$(date +%s.%N)
    after=$(server_count)
    read -r user sys <"$tmp/time"
    python3 - "$mode" "$before" "$after" "$user" "$sys" "$start" "$end" "$rc" <<'PY'
import sys
mode, before, after, user, sys_, start, end, rc = sys.argv[1:]
n = int(after) - int(before)
cpu = float(user) + float(sys_)
wall = float(end) - float(start)
per = cpu * 1e6 / n if n else float("nan")
print(f"{mode:<6} {n:>12} {per:>14.1f} {n / wall:>12.1f} {100 * cpu / wall:>11.1f}%"
      + ("" if rc == "0" else f"   (perf_analyzer exit {rc})"))
PY
done
