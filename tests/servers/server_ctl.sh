# shellcheck shell=bash
# Start/stop pa-test-server from end-to-end tests. Source this file, then:
#
#   pa_server_start <build_dir> [pa-test-server args...]
#       Starts the server in the background on ephemeral ports (unless the
#       args name ports), waits up to PA_SERVER_START_TIMEOUT seconds
#       (default 10) for its "http=P grpc=P metrics=P" line, and exports
#       PA_HTTP_PORT, PA_GRPC_PORT, PA_METRICS_PORT and PA_SERVER_PID.
#       With --tfs-port the line ends with an optional " tfs=P" field,
#       exported as PA_TFS_PORT (0 when the server has no TF Serving port).
#       Installs an EXIT trap that stops the server, unless the caller
#       already has an EXIT trap (which must then call pa_server_stop, as
#       run_case.sh's cleanup does: replacing it would skip the caller's
#       own cleanup). Returns non-zero (with
#       the server's stderr on our stderr) if it does not come up.
#   pa_server_stop
#       SIGTERM, wait up to 5 s, then SIGKILL. Safe to call twice.
#
# Only the server process started here is ever signalled (by its pid).

pa_server_stop() {
    local pid=${PA_SERVER_PID:-}
    [ -n "$pid" ] || return 0
    PA_SERVER_PID=
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        local i
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    if [ -n "${PA_SERVER_FD:-}" ]; then
        exec {PA_SERVER_FD}<&-
        PA_SERVER_FD=
    fi
    [ -n "${PA_SERVER_DIR:-}" ] && rm -rf "$PA_SERVER_DIR"
    PA_SERVER_DIR=
    return 0
}

pa_server_start() {
    local build_dir=$1
    shift
    local bin=$build_dir/tests/servers/pa-test-server
    local timeout=${PA_SERVER_START_TIMEOUT:-10}
    local args=("$@") have_http=0 have_metrics=0 a
    if [ ! -x "$bin" ]; then
        echo "pa_server_start: no server binary at $bin" >&2
        return 1
    fi
    for a in "${args[@]}"; do
        case $a in
            --http-port|--http-port=*) have_http=1 ;;
            --metrics-port|--metrics-port=*) have_metrics=1 ;;
        esac
    done
    [ $have_http = 1 ] || args+=(--http-port 0)
    [ $have_metrics = 1 ] || args+=(--metrics-port 0)

    PA_SERVER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pa-server.XXXXXX")
    mkfifo "$PA_SERVER_DIR/out"
    "$bin" "${args[@]}" >"$PA_SERVER_DIR/out" 2>"$PA_SERVER_DIR/err" &
    PA_SERVER_PID=$!
    [ -n "$(trap -p EXIT)" ] || trap 'pa_server_stop' EXIT

    local line=""
    # read from the fifo with a deadline; the fd stays open so the server
    # never gets SIGPIPE/EPIPE on later writes to stdout
    exec {PA_SERVER_FD}<"$PA_SERVER_DIR/out"
    if ! IFS= read -r -t "$timeout" -u "$PA_SERVER_FD" line; then
        echo "pa_server_start: server did not report its ports within ${timeout}s" >&2
        cat "$PA_SERVER_DIR/err" >&2
        pa_server_stop
        return 1
    fi
    case $line in
        http=*' grpc='*' metrics='*) ;;
        *)
            echo "pa_server_start: unexpected first line '$line'" >&2
            pa_server_stop
            return 1 ;;
    esac
    PA_HTTP_PORT=${line#http=}
    PA_HTTP_PORT=${PA_HTTP_PORT%% *}
    PA_GRPC_PORT=${line#* grpc=}
    PA_GRPC_PORT=${PA_GRPC_PORT%% *}
    PA_METRICS_PORT=${line#* metrics=}
    PA_METRICS_PORT=${PA_METRICS_PORT%% *}
    PA_TFS_PORT=0
    case $line in
        *' tfs='*)
            PA_TFS_PORT=${line##* tfs=}
            PA_TFS_PORT=${PA_TFS_PORT%% *} ;;
    esac
    export PA_HTTP_PORT PA_GRPC_PORT PA_METRICS_PORT PA_TFS_PORT PA_SERVER_PID
    return 0
}
