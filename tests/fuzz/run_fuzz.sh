#!/usr/bin/env bash
# Runs every libFuzzer target built in BUILD_DIR (configured with
# -DPA_FUZZ=ON -DCMAKE_C_COMPILER=clang): first replays the regression
# inputs of tests/fuzz/regressions/<target>/, then fuzzes each target for
# SECONDS starting from a temporary copy of tests/fuzz/corpus/<target>/.
# Nothing is written into the repository: corpus growth and crash files go
# to a temporary directory, which is kept (and printed) only on failure.
#
#   tests/fuzz/run_fuzz.sh BUILD_DIR [SECONDS]     (SECONDS defaults to 30)
#
# Environment: PA_FUZZ_TARGETS="fuzz_a fuzz_b" limits the run to those
# targets. Prints one line per target; exits 1 on any crash, leak, UB,
# timeout or OOM (with the crash file and the command that reproduces it),
# 2 on a usage error.
set -uo pipefail

usage() {
    echo "usage: $0 BUILD_DIR [SECONDS]" >&2
    exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
build=$(cd "$1" 2>/dev/null && pwd) || { echo "run_fuzz: no such build dir: $1" >&2; exit 2; }
secs=${2:-30}
case $secs in '' | *[!0-9]*) usage ;; esac
here=$(cd "$(dirname "$0")" && pwd)

# Longest input per target: enough for the formats, small enough to keep
# executions fast on the CI's two cores.
max_len_of() {
    case $1 in
    fuzz_cli_options) echo 2048 ;;
    fuzz_client_grpc) echo 8192 ;;
    fuzz_client_http | fuzz_measure_metrics) echo 16384 ;;
    fuzz_data_json | fuzz_model_parse | fuzz_measure_stats) echo 8192 ;;
    *) echo 4096 ;;
    esac
}

targets=()
for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    name=$(basename "$bin")
    if [ -n "${PA_FUZZ_TARGETS:-}" ] && [[ " $PA_FUZZ_TARGETS " != *" $name "* ]]; then
        continue
    fi
    targets+=("$name")
done
if [ ${#targets[@]} -eq 0 ]; then
    echo "run_fuzz: no fuzz targets in $build/tests/fuzz (configure with" \
        "-DPA_FUZZ=ON -DCMAKE_C_COMPILER=clang and build them)" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pa-fuzz.XXXXXX")
failed=0
# Leaks are bugs too; UBSan is fatal already (-fno-sanitize-recover=all).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
common=(-timeout=5 -rss_limit_mb=2048 -malloc_limit_mb=2048)

# report NAME BIN WHAT ARTIFACT LOG [MIN]: the failure lines for one target;
# MIN (where a minimised copy would go) only for new crashes.
report() {
    local name=$1 bin=$2 what=$3 art=$4 log=$5 min=${6:-}
    echo "$name: FAIL ($what)"
    if [ -n "$art" ]; then
        echo "  crash file: $art"
        echo "  reproduce:  $bin ${common[*]} $art"
        [ -n "$min" ] &&
            echo "  minimise:   $bin -minimize_crash=1 -runs=10000 -exact_artifact_path=$min $art"
    fi
    echo "  log:        $log"
    grep -m1 -E '^(SUMMARY|==[0-9]+==ERROR)' "$log" | sed 's/^/  /'
}

for name in "${targets[@]}"; do
    bin=$build/tests/fuzz/$name
    dir=$work/$name
    mkdir -p "$dir/corpus" "$dir/artifacts"

    # 1. Regression inputs: every file must run clean.
    reg=$here/regressions/$name
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg" 2>/dev/null)" ]; then
        n_reg=0
        reg_fail=0
        for f in "$reg"/*; do
            [ -f "$f" ] || continue
            n_reg=$((n_reg + 1))
            log=$dir/regression-$(basename "$f").log
            if ! (cd "$dir" && "$bin" "${common[@]}" "$f") >"$log" 2>&1; then
                report "$name" "$bin" "regression $(basename "$f")" "$f" "$log"
                reg_fail=1
            fi
        done
        if [ $reg_fail -ne 0 ]; then
            failed=1
            continue
        fi
        echo "$name: regressions ok ($n_reg inputs)"
    fi

    # 2. Fuzzing from a private copy of the seeds.
    [ -d "$here/corpus/$name" ] && cp -R "$here/corpus/$name/." "$dir/corpus/"
    dict=()
    [ -f "$here/dict/$name.dict" ] && dict=(-dict="$here/dict/$name.dict")
    log=$dir/fuzz.log
    (cd "$dir" && "$bin" "${common[@]}" -max_len="$(max_len_of "$name")" \
        -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
        "${dict[@]}" "$dir/corpus") >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
    art=$(find "$dir/artifacts" -type f 2>/dev/null | head -1)
    if [ $rc -ne 0 ] || [ -n "$art" ]; then
        report "$name" "$bin" "exit $rc after ${runs:-?} runs" "$art" "$log" "$dir/minimised"
        failed=1
        continue
    fi
    echo "$name: ok runs=${runs:-?} exec/s=${speed:-?} ${cov:-} (${secs}s)"
done

if [ $failed -ne 0 ]; then
    echo "run_fuzz: FAILED; logs and crash files kept in $work"
    exit 1
fi
rm -rf "$work"
echo "run_fuzz: all ${#targets[@]} targets clean"
