#!/usr/bin/env bash
# The sanitizer variant of CI (docs/reliability.md): a second, CPU-only build with clang,
# AddressSanitizer + UndefinedBehaviorSanitizer, the fault-injection test hooks and the
# libFuzzer targets, in build-san/ (or $1); then its unit tests, the reliability battery
# (the cases that need the hooks run only here) and each fuzz target for
# TERN_FUZZ_SECONDS (15). Any sanitizer report fails the run.
#
#   scripts/check-sanitized.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-build-san}
# -O1 -g1: ASan's recommended optimisation, line tables for its reports, and a much
# shorter build than -O2 -g; assertions stay on.
CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S . -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DTERN_CUDA=OFF -DTERN_SANITIZE=ON -DTERN_TEST_HOOKS=ON -DTERN_FUZZ=ON -DTERN_BENCH=OFF >/dev/null
cmake --build "$DIR" -j"$(nproc)"
# ASan's and UBSan's options for the gtest binaries; the battery and fuzz tests set their own.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The demo model's tests check model quality, not memory safety, and take many minutes
# under ASan (one took 14 of CI's 35): this build leaves them out (tests/CMakeLists.txt)
# and the normal build runs them. --timeout bounds the tests that set no limit of their
# own (the unit tests; the slowest takes about 20 s here), so one that grows fails with
# its name instead of stretching CI; the battery and fuzz tests keep their TIMEOUT.
ctest --test-dir "$DIR" --output-on-failure -j"$(nproc)" -L 'unit|battery|fuzz' --timeout 120
