#!/usr/bin/env bash
# User-space instructions perf_analyzer executes per completed request, at
# concurrency 8, over HTTP and gRPC, against the reference server. Counted
# by valgrind's callgrind, so the figure is the same on a busy machine and a
# quiet one: it is the number to compare before and after a change to the
# client's own code. (Kernel work -- system calls, context switches -- is
# not counted; bench_http_cpu.sh and bench_grpc_cpu.sh measure it as CPU
# time and system calls.)
#
#   tests/bench/bench_instructions.sh [build_dir]
#
# Environment: PA_BENCH_MODES (default "http-sync http-async grpc-sync
# grpc-async grpc-streaming"), PA_BENCH_SHORT_MS / PA_BENCH_LONG_MS (the two
# window lengths, default 1000 / 4000).
#
# Each mode runs twice under callgrind, with short and with long windows
# (exactly three windows each: -r 3 -s 100), and the server counts the
# requests of each run. Start-up, warm-up and the profiler's fixed work
# cancel in the difference:
#   instr/req = (Ir_long - Ir_short) / (requests_long - requests_short)
# Figures only, never an assertion: the script fails only when something
# cannot run at all.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
modes=${PA_BENCH_MODES:-http-sync http-async grpc-sync grpc-async grpc-streaming}
short_ms=${PA_BENCH_SHORT_MS:-1000}
long_ms=${PA_BENCH_LONG_MS:-4000}

pa=$build/src/perf_analyzer
[ -x "$pa" ] || { echo "bench: no perf_analyzer at $pa (build it first)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "bench: valgrind is needed" >&2; exit 1; }

# shellcheck source=lib.sh
. "$root/tests/bench/lib.sh"
bench_server_start "$build" --grpc-port 0 --metrics-port -1

# Instructions of one run under callgrind, then the requests it made: "Ir requests".
measure() { # window_ms args...
    local ms=$1 before after
    shift
    before=$(bench_server_count simple)
    valgrind --tool=callgrind --callgrind-out-file="$BENCH_TMP/cg.out" \
        "$pa" -m simple "$@" --concurrency-range 8 -p "$ms" -r 3 -s 100 \
        >"$BENCH_TMP/out" 2>"$BENCH_TMP/err" || true
    after=$(bench_server_count simple)
    local ir
    ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$BENCH_TMP/err" | tail -n 1)
    [ -n "$ir" ] || { echo "bench: callgrind printed no count" >&2; cat "$BENCH_TMP/err" >&2; exit 1; }
    echo "$ir $((after - before))"
}

echo "instructions per request (user space, callgrind), concurrency 8," \
    "windows ${short_ms} and ${long_ms} ms"
printf '%-15s %12s %12s\n' mode requests instr/req
for mode in $modes; do
    bench_mode_args "$mode"
    read -r ir_s n_s < <(measure "$short_ms" "${MODE_ARGS[@]}")
    read -r ir_l n_l < <(measure "$long_ms" "${MODE_ARGS[@]}")
    dn=$((n_l - n_s))
    if [ "$dn" -gt 0 ]; then
        printf '%-15s %12d %12d\n' "$mode" "$dn" $(((ir_l - ir_s) / dn))
    else
        printf '%-15s %12d %12s\n' "$mode" "$dn" "n/a"
    fi
done
