#!/usr/bin/env bash
# The project's test command (README): installs missing packages, builds
# with warnings as errors, runs every unit and end-to-end test, the same
# under ASan+UBSan, the unit and server tests under TSan, then the
# libFuzzer targets. Exits non-zero on any failure.
#
#   ./tests/run.sh            everything
#   PA_QUICK=1 ./tests/run.sh the plain build only (no sanitizer or fuzz passes)
#   PA_FUZZ_SECONDS=N         seconds per fuzz target (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc 2>/dev/null || echo 2)

./scripts/deps.sh test

build_and_test() { # dir, extra cmake args...
  local dir=$1; shift
  echo "== build $dir $*"
  cmake -S "$root" -B "$root/$dir" -DPA_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$root/$dir" -j"$jobs"
  echo "== test $dir"
  # shellcheck disable=SC2086
  ctest --test-dir "$root/$dir" --output-on-failure -j"$jobs" --timeout 300 ${PA_CTEST_ARGS:-}
}

build_and_test build
if [ -z "${PA_QUICK:-}" ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    build_and_test build-asan -DPA_SANITIZE=address,undefined -DCMAKE_C_COMPILER=clang
  # Under TSan the unit and server tests run (every worker, loop and
  # client is exercised there with threads); the end-to-end cases, whose
  # windows and signal timings assume normal speed, run in the two passes
  # above (PA_TSAN_E2E=1 adds them here too).
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp" \
    PA_CTEST_ARGS=$([ -n "${PA_TSAN_E2E:-}" ] || echo "-LE e2e") \
    build_and_test build-tsan -DPA_SANITIZE=thread -DCMAKE_C_COMPILER=clang

  echo "== fuzz (libFuzzer, ${PA_FUZZ_SECONDS:-15} s per target, regressions first)"
  cmake -S "$root" -B "$root/build-fuzz" -DPA_FUZZ=ON -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fuzzers=$(cd "$root/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//')
  # shellcheck disable=SC2086
  cmake --build "$root/build-fuzz" -j"$jobs" $(printf -- '--target %s ' $fuzzers)
  bash "$root/tests/fuzz/run_fuzz.sh" "$root/build-fuzz" "${PA_FUZZ_SECONDS:-15}"
fi
echo "all tests passed"
