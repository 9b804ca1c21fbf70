#!/usr/bin/env bash
# Requests per second pa-test-server sustains on /infer (model "simple",
# JSON body, no compute delay), so we know it is never the bottleneck when
# measuring a client. A figure only: nothing is asserted.
#
# Usage: tests/bench/bench_server_wrk.sh <build_dir> [seconds] [connections]
# Uses wrk (installed with apt-get if missing and possible); without wrk it
# falls back to curl's parallel mode, which measures curl as much as the
# server and so gives a lower bound.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: bench_server_wrk.sh <build_dir> [seconds] [connections]}
secs=${2:-5}
conns=${3:-32}
# shellcheck source=../servers/server_ctl.sh
. "$here/../servers/server_ctl.sh"

if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 ||
        echo "bench_server_wrk: wrk not installable here; using curl --parallel" >&2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pa-bench.XXXXXX")
trap 'pa_server_stop; rm -rf "$tmp"' EXIT
body='{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}'

pa_server_start "$build" --metrics-port -1 || exit 1
url="http://127.0.0.1:$PA_HTTP_PORT/v2/models/simple/infer"

if command -v wrk >/dev/null 2>&1; then
    cat >"$tmp/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
EOF
    wrk -t 2 -c "$conns" -d "${secs}s" -s "$tmp/post.lua" "$url" | tee "$tmp/out"
    rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/out")
    echo "pa-test-server: ${rps} requests/s (wrk, $conns connections, ${secs}s)"
else
    n=$((secs * 4000))
    printf '%s\n' "$body" >"$tmp/body.json"
    for _ in $(seq 1 "$n"); do
        printf 'url = "%s"\noutput = "/dev/null"\n' "$url"
    done >"$tmp/urls"
    start=$(date +%s%N)
    curl -s --no-progress-meter -Z --parallel-max "$conns" -K "$tmp/urls" \
        -H 'Content-Type: application/json' --data-binary @"$tmp/body.json"
    el=$(( $(date +%s%N) - start ))
    rps=$(( n * 1000000000 / el ))
    echo "pa-test-server: ${rps} requests/s (curl --parallel, $conns connections, $n requests; lower bound)"
fi
