#!/usr/bin/env bash
# One command for the GPU machine: the CUDA op tests (every op against the CPU reference),
# a memory/race check of a subset under compute-sanitizer, and the op micro-benchmark at
# Qwen2.5-7B shapes. Finishes within 10 minutes. With BATTERY_TERN and BATTERY_MODEL set it
# also runs the GPU-only reliability cases (tools/gpu_battery.py; a few more minutes).
#
#   scripts/gpu-check.sh [PREBUILT_DIR] [LABEL]
#
# PREBUILT_DIR holds backend_ops_test and backend_ops_bench (found anywhere below it);
# without it the script configures and builds them in build-gpu/ (that needs the CPU-side
# -dev packages: nlohmann-json, CLI11, GoogleTest, PCRE2, utf8proc). LABEL (for example
# the commit) is stored in the benchmark report; BENCH_GROUPS picks the benchmark's op
# groups (backend_ops_bench's third argument; default all but int4split). Results go to
# $OUT (default ./gpu-check-out): backend_ops_test.json (gtest), bench.json, and the logs.
set -u -o pipefail

OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
LABEL=${2:-unlabelled}
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
. "$(dirname "$0")/nccl-env.sh"  # the NCCL communicator tests

if [ $# -ge 1 ] && [ -n "$1" ]; then
  DIR=$1
else
  DIR=build-gpu
  cmake -S . -B "$DIR" -G Ninja -DTERN_CUDA=ON -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CUDA_ARCHITECTURES=90a;80" \
    -DCMAKE_CUDA20_STANDARD_COMPILE_OPTION=-std=c++20 -DCMAKE_CUDA20_EXTENSION_COMPILE_OPTION=-std=c++20 \
    >"$OUT/configure.log" 2>&1 || { tail -20 "$OUT/configure.log"; exit 1; }
  cmake --build "$DIR" --target backend_ops_test backend_ops_bench -j"$(nproc)" >"$OUT/build.log" 2>&1 \
    || { tail -30 "$OUT/build.log"; exit 1; }
fi
TEST_BIN=$(find "$DIR" -name backend_ops_test -type f -perm -u+x | head -1)
BENCH_BIN=$(find "$DIR" -name backend_ops_bench -type f -perm -u+x | head -1)
[ -n "$TEST_BIN" ] || { echo "no backend_ops_test under $DIR"; exit 1; }

{
  echo "== $(date -u +%FT%TZ) label: $LABEL"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader
  if ldd "$TEST_BIN" | grep "not found"; then echo "missing shared libraries (above)"; fi
} 2>&1 | tee "$OUT/env.log"

echo "== op tests"
timeout 240 "$TEST_BIN" --gtest_output="json:$OUT/backend_ops_test.json" >"$OUT/backend_ops_test.log" 2>&1
TEST_RC=$?
grep -E "^\[  (FAILED|PASSED) |tests ran" "$OUT/backend_ops_test.log" | sort -u | head -60
echo "backend_ops_test exit $TEST_RC"

if [ -n "$BENCH_BIN" ]; then
  echo "== benchmark"
  timeout 200 "$BENCH_BIN" "$OUT/bench.json" "$LABEL" ${BENCH_GROUPS:+"$BENCH_GROUPS"} >"$OUT/bench.log" 2>&1
  echo "backend_ops_bench exit $?"
fi

if command -v compute-sanitizer >/dev/null; then
  echo "== compute-sanitizer (a subset: small shapes of every op)"
  # gtest names carry the instantiation prefix (Shapes/, Cases/): match with leading '*'.
  SUBSET='*Embedding*:*GatherRows*:*RmsNorm*:*SiluMul*:*RopeKvWrite*:*CopyBlocks*:*MaskLogits*:*Linear*:*LinearInt4*:*PagedAttention.MatchesCpu/*hq4_*:*CudaGraph*'
  timeout 150 compute-sanitizer --tool memcheck --print-limit 20 "$TEST_BIN" --gtest_filter="$SUBSET" \
    >"$OUT/memcheck.log" 2>&1
  echo "memcheck exit $? ($(grep -E 'tests ran|ERROR SUMMARY' "$OUT/memcheck.log" | tr '\n' ' '))"
  timeout 90 compute-sanitizer --tool racecheck --print-limit 20 "$TEST_BIN" \
    --gtest_filter='*PagedAttention.MatchesCpu/mixed_hq4_hkv2_d16*:*PagedAttention.MatchesCpu/mixed_hq4_hkv1_d64*:*PagedAttention.MatchesCpu/window_prefill_hq4_*' \
    >"$OUT/racecheck.log" 2>&1
  echo "racecheck exit $? ($(grep -E 'tests ran|RACECHECK SUMMARY' "$OUT/racecheck.log" | tr '\n' ' '))"
fi

if command -v ncu >/dev/null && [ -n "$BENCH_BIN" ]; then
  echo "== ncu: attention kernels (decode batch 64 x 2048, prefill 2048), INT4 GEMM (gate_up at M = 1, 16, 32)"
  timeout 120 ncu --clock-control none -k regex:'prefill_kernel|decode_kernel|w4a16_kernel' --launch-count 5 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
    --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis "$BENCH_BIN" --profile >"$OUT/ncu_attention.txt" 2>&1
  echo "ncu exit $?"
fi

if [ -n "${BATTERY_MODEL:-}" ] && [ -n "${BATTERY_TERN:-}" ]; then
  # The GPU-only cases of the reliability battery (docs/reliability.md); BATTERY_TERN is a
  # CUDA build of tern with -DTERN_TEST_HOOKS=ON, BATTERY_MODEL a Qwen2.5-7B-sized folder.
  echo "== reliability battery, GPU-only cases"
  timeout 480 python3 tools/gpu_battery.py --tern "$BATTERY_TERN" --model "$BATTERY_MODEL" \
    --out "$OUT/gpu_battery.json" 2>&1 | tee "$OUT/gpu_battery.log"
fi

echo "== benchmark table"
grep -E "us  floor|copy" "$OUT/bench.log" 2>/dev/null
exit $TEST_RC
