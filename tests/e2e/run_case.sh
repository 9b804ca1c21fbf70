#!/usr/bin/env bash
# Runs one end-to-end case (tests/cases/<name>.case) and checks it.
#
# A case file is a bash fragment setting:
#   SERVER_ARGS   arguments for pa-test-server besides --models/ports
#                 (unset or "none": no server is started)
#   ARGS          perf_analyzer arguments; @HTTP@, @GRPC@, @METRICS@ and @TFS@
#                 (TF Serving, with --tfs-port 0) are replaced by
#                 127.0.0.1:<port> of the running server
#   EXPECT_EXIT   expected exit code
#   EXPECT_DIR    (optional) tests/cases/expected/<dir> holding stdout.txt,
#                 stderr.txt and out.csv from the original binary; outputs
#                 are compared line by line with every number masked
#   SERIAL        (optional) 1: the case's figures need the machine to
#                 itself, so ctest runs it alone (read by tests/e2e/CMakeLists.txt)
#   CHECK         (optional) extra bash run after perf_analyzer, with
#                 $OUT_DIR, $STDOUT, $STDERR set; it fails the case by
#                 returning non-zero
# Usage: run_case.sh CASE_FILE BUILD_DIR
set -uo pipefail
case_file=$1
build_dir=$(cd "$2" && pwd)
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
pa=$build_dir/src/perf_analyzer

SERVER_ARGS=none ARGS="" EXPECT_EXIT=0 EXPECT_DIR="" CHECK=""
# shellcheck disable=SC1090
source "$case_file"

OUT_DIR=$(mktemp -d)
STDOUT=$OUT_DIR/stdout.txt
STDERR=$OUT_DIR/stderr.txt
cleanup() {
  if declare -F pa_server_stop >/dev/null; then pa_server_stop; fi
  rm -rf "$OUT_DIR"
}
trap cleanup EXIT

if [ "$SERVER_ARGS" != none ]; then
  # shellcheck disable=SC1091
  source "$src_dir/tests/servers/server_ctl.sh"
  # shellcheck disable=SC2086
  pa_server_start "$build_dir" $SERVER_ARGS || { echo "FAIL: reference server did not start"; exit 1; }
  trap cleanup EXIT # pa_server_start installed its own trap; ours also stops the server
  ARGS=${ARGS//@HTTP@/127.0.0.1:${PA_HTTP_PORT:-0}}
  ARGS=${ARGS//@GRPC@/127.0.0.1:${PA_GRPC_PORT:-0}}
  ARGS=${ARGS//@METRICS@/127.0.0.1:${PA_METRICS_PORT:-0}}
  ARGS=${ARGS//@TFS@/127.0.0.1:${PA_TFS_PORT:-0}}
fi

echo "+ perf_analyzer $ARGS"
# shellcheck disable=SC2086
# Run through PATH so argv[0] is "perf_analyzer", as in the original's runs.
(cd "$OUT_DIR" && PATH="$(dirname "$pa"):$PATH" timeout -s INT 150 perf_analyzer $ARGS \
  >"$STDOUT" 2>"$STDERR")
rc=$?
failed=0
if [ "$rc" -ne "$EXPECT_EXIT" ]; then
  echo "FAIL: exit code $rc, expected $EXPECT_EXIT"
  failed=1
fi

# Masks every number so that only layout, wording and order are compared.
# Repeated masked lines (the verbose "Pass [k]" lines, whose number depends
# on how fast a level stabilizes) are collapsed to one.
mask() { sed -E 's/[0-9]+(\.[0-9]+)?(e[+-][0-9]+)?/N/g' "$1" | uniq; }

compare() { # expected actual label
  if ! diff -u <(mask "$1") <(mask "$2") >"$OUT_DIR/diff.txt"; then
    echo "FAIL: $3 layout differs from the original's (numbers masked):"
    head -40 "$OUT_DIR/diff.txt"
    failed=1
  fi
}

if [ -n "$EXPECT_DIR" ]; then
  exp=$src_dir/tests/cases/expected/$EXPECT_DIR
  [ -f "$exp/stdout.txt" ] && compare "$exp/stdout.txt" "$STDOUT" stdout
  [ -f "$exp/stderr.txt" ] && compare "$exp/stderr.txt" "$STDERR" stderr
  if [ -f "$exp/out.csv" ]; then
    if [ -f "$OUT_DIR/out.csv" ]; then
      compare "$exp/out.csv" "$OUT_DIR/out.csv" CSV
    else
      echo "FAIL: out.csv was not written"
      failed=1
    fi
  fi
fi

if [ -n "$CHECK" ]; then
  if ! eval "$CHECK"; then
    echo "FAIL: case check failed"
    failed=1
  fi
fi

if [ "$failed" -ne 0 ]; then
  echo "--- stdout"; head -60 "$STDOUT"
  echo "--- stderr"; head -30 "$STDERR"
  exit 1
fi
echo "PASS"
