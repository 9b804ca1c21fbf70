#!/usr/bin/env bash
# Client CPU cost per completed request of perf_analyzer over gRPC (sync,
# async, streaming) at concurrency 8, next to the same figure over HTTP,
# against the reference server (tests/servers/pa-test-server).
#
#   tests/bench/bench_grpc_cpu.sh [build_dir] [window_ms]
#
# Environment: PA_BENCH_MODEL (default simple), PA_BENCH_DELAY_MS (server
# compute delay, default 2), PA_BENCH_CONCURRENCY (default 8),
# PA_BENCH_MODES (default "http-sync http-async grpc-sync grpc-async
# grpc-streaming").
#
# For each mode: the client's process CPU time (user + system, from
# /usr/bin/time) divided by the number of requests the server itself counted
# for the model during the run (GET /v2/models/<m>/stats over HTTP, before and
# after), and the request rate that count gives over the wall time. The
# server's count includes the requests of perf_analyzer's warm-up and of all
# its windows, which is exactly the work the client's CPU time paid for.
# Figures only, never an assertion: the script fails only when something
# cannot run at all.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
window_ms=${2:-2000}
model=${PA_BENCH_MODEL:-simple}
delay_ms=${PA_BENCH_DELAY_MS:-2}
conc=${PA_BENCH_CONCURRENCY:-8}
modes=${PA_BENCH_MODES:-http-sync http-async grpc-sync grpc-async grpc-streaming}

pa=$build/src/perf_analyzer
[ -x "$pa" ] || { echo "bench: no perf_analyzer at $pa (build it first)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed" >&2; exit 1; }

# shellcheck source=lib.sh
. "$root/tests/bench/lib.sh"
bench_server_start "$build" --grpc-port 0 --delay-ms "$delay_ms"
tmp=$BENCH_TMP


echo "model $model, concurrency $conc, window $window_ms ms, server delay $delay_ms ms"
printf '%-15s %10s %15s %10s %12s\n' mode requests cpu_us/request req/s client_cpu%
for mode in $modes; do
    bench_mode_args "$mode"
    before=$(bench_server_count "$model")
    start=$(date +%s.%N)
    # Exit status is reported, not fatal: an unstable run still did the work.
    set +e
    /usr/bin/time -f '%U %S' -o "$tmp/time" \
        "$pa" -m "$model" "${MODE_ARGS[@]}" --concurrency-range "$conc" -p "$window_ms" \
        >"$tmp/out.$mode" 2>"$tmp/err.$mode"
    rc=$?
    set -e
    end=$(date +%s.%N)
    after=$(bench_server_count "$model")
    # /usr/bin/time puts "Command exited with non-zero status N" first when
    # perf_analyzer fails; the figures are always the last line.
    read -r user sys < <(tail -n 1 "$tmp/time")
    python3 - "$mode" "$before" "$after" "$user" "$sys" "$start" "$end" "$rc" <<'PY'
import sys
mode, before, after, user, sys_, start, end, rc = sys.argv[1:]
n = int(after) - int(before)
cpu = float(user) + float(sys_)
wall = float(end) - float(start)
per = cpu * 1e6 / n if n else float("nan")
print(f"{mode:<15} {n:>10} {per:>15.1f} {n / wall:>10.1f} {100 * cpu / wall:>11.1f}%"
      + ("" if rc == "0" else f"   (perf_analyzer exit {rc})"))
PY
done
