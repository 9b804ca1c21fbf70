#!/usr/bin/env bash
# Quick start: installs missing Debian packages, builds perf_analyzer and the
# bundled reference server, starts the server on 127.0.0.1 (ephemeral ports),
# profiles the `simple` model over HTTP at concurrency 1 to 4 writing a CSV,
# and stops the server. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${PA_BUILD_DIR:-$root/build}

./scripts/deps.sh test
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target perf_analyzer pa-test-server

# shellcheck source=../tests/servers/server_ctl.sh
source "$root/tests/servers/server_ctl.sh"
pa_server_start "$build" --delay-ms 2   # stopped by the EXIT trap it installs
echo "reference server: http=127.0.0.1:$PA_HTTP_PORT grpc=127.0.0.1:$PA_GRPC_PORT"

csv=$(mktemp --suffix=.csv)
set -x
"$build/src/perf_analyzer" -m simple -u "127.0.0.1:$PA_HTTP_PORT" \
  --concurrency-range 1:4 -p 1000 -f "$csv"
set +x
echo
echo "CSV written to $csv:"
cat "$csv"
