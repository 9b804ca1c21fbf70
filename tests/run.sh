#!/usr/bin/env bash
# The project's test command (README): installs missing packages, builds
# with warnings as errors, runs every unit and end-to-end test, then the
# same tests under ASan+UBSan and TSan. Exits non-zero on any failure.
#
#   ./tests/run.sh            everything
#   PA_QUICK=1 ./tests/run.sh the plain build only (no sanitizer passes)
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
  ctest --test-dir "$root/$dir" --output-on-failure -j"$jobs" --timeout 300
}

build_and_test build
if [ -z "${PA_QUICK:-}" ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    build_and_test build-asan -DPA_SANITIZE=address,undefined -DCMAKE_C_COMPILER=clang
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    build_and_test build-tsan -DPA_SANITIZE=thread -DCMAKE_C_COMPILER=clang
fi
echo "all tests passed"
