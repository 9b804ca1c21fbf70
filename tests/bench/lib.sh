# Shared by the benchmarks in this folder (sourced, not run).
#
#   bench_server_start <build_dir> [server args...]
#       starts the reference server (tests/servers/server_ctl.sh), makes a
#       scratch directory BENCH_TMP, and removes both on exit
#   bench_server_count <model>
#       successful inferences the server has counted for the model so far
#       (GET /v2/models/<model>/stats): the request count a benchmark divides
#       its client's cost by
#   bench_mode_args <mode>
#       perf_analyzer's target and mode arguments, into the array MODE_ARGS,
#       for http-sync, http-async, grpc-sync, grpc-async or grpc-streaming
#       (the server must have been started with --grpc-port for gRPC)

# shellcheck source=../servers/server_ctl.sh
. "$(dirname "${BASH_SOURCE[0]}")/../servers/server_ctl.sh"

bench_server_start() {
    command -v curl >/dev/null || { echo "bench: curl is needed" >&2; exit 1; }
    command -v python3 >/dev/null || { echo "bench: python3 is needed" >&2; exit 1; }
    BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pa-bench.XXXXXX")
    trap 'rm -rf "$BENCH_TMP"; pa_server_stop' EXIT
    pa_server_start "$@"
}

bench_server_count() {
    curl -sf "http://127.0.0.1:$PA_HTTP_PORT/v2/models/$1/stats" |
        python3 -c 'import json,sys
d=json.load(sys.stdin)
print(sum(int(m["inference_stats"]["success"]["count"]) for m in d["model_stats"]))'
}

bench_mode_args() {
    local http=127.0.0.1:$PA_HTTP_PORT grpc=127.0.0.1:$PA_GRPC_PORT
    case $1 in
        http-sync) MODE_ARGS=(-u "$http" --sync) ;;
        http-async) MODE_ARGS=(-u "$http" --async) ;;
        grpc-sync) MODE_ARGS=(-i grpc -u "$grpc" --sync) ;;
        grpc-async) MODE_ARGS=(-i grpc -u "$grpc" --async) ;;
        grpc-streaming) MODE_ARGS=(-i grpc -u "$grpc" --streaming) ;;
        *) echo "bench: unknown mode '$1'" >&2; exit 1 ;;
    esac
}
