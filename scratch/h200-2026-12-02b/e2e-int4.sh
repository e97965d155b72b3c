#!/usr/bin/env bash
# Device call 3: every CUDA op test, the INT4 op benchmark, the tiny checkpoints CUDA vs CPU,
# and the 7B GPTQ INT4 checks and suite (scripts/gpu-e2e.sh tiny int4), from binaries in .gpu/.
set -u
COMMIT=$1
mkdir -p /tmp/bins && tar xJf .gpu/bins.tar.xz -C /tmp/bins
export LD_LIBRARY_PATH=/usr/local/cuda/lib64
timeout 150 /tmp/bins/backend_ops_test --gtest_output="json:$OUT/backend_ops_test.json" >"$OUT/ops.log" 2>&1
echo "op tests exit $? $(grep -E '^\[  PASSED|^\[  FAILED|tests ran' "$OUT/ops.log" | tr '\n' ' ')"
timeout 100 /tmp/bins/backend_ops_bench "$OUT/bench-int4.json" "$COMMIT" int4 >/dev/null 2>&1; echo "int4 bench $?"
OUT=$OUT timeout 500 scripts/gpu-e2e.sh /tmp/bins/tern "$COMMIT" tiny int4 2>&1 | tail -60
