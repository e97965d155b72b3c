#!/usr/bin/env bash
# Device call 1 of 2026-12-02 (second session): the INT4 op tests and the W4A16 kernel's
# tuning knobs (temporary environment variables, removed once chosen), from binaries in .gpu/.
#   scratch/h200-2026-12-02b/int4-tune.sh  (OUT set by the device tool)
set -u
mkdir -p /tmp/bins && tar xJf .gpu/bins.tar.xz -C /tmp/bins
T=/tmp/bins/backend_ops_test B=/tmp/bins/backend_ops_bench
export LD_LIBRARY_PATH=/usr/local/cuda/lib64
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
F='*LinearInt4*:*CudaGraph*'
for env in "" "TERN_INT4_MMA_MAX_ROWS=256" "TERN_INT4_SLICE_KERNEL=1"; do
  env $env timeout 120 $T --gtest_filter="$F" >"$OUT/test-${env:-default}.log" 2>&1
  echo "tests [$env] exit $? $(grep -E '^\[  PASSED|^\[  FAILED' "$OUT/test-${env:-default}.log" | tr '\n' ' ')"
done
grep -h -A3 'Failure' "$OUT"/test-*.log | head -30
timeout 90 $B "$OUT/gemm.json" bf16 gemm >/dev/null 2>&1; echo "gemm bench $?"
for env in "TERN_INT4_BLOCKS_PER_SM=4" "TERN_INT4_BLOCKS_PER_SM=2" "TERN_INT4_BLOCKS_PER_SM=8" \
  "TERN_INT4_MIN_TILES=4" "TERN_INT4_MIN_TILES=16" "TERN_INT4_SLICE_KERNEL=1" "TERN_INT4_MMA_MAX_ROWS=256" \
  "TERN_INT4_MMA_MAX_ROWS=32"; do
  env $env timeout 90 $B "$OUT/int4-$env.json" "$env" int4 >/dev/null 2>&1; echo "int4 bench [$env] $?"
done
python3 - "$OUT" <<'PY'
import glob, json, os, sys
rows = {}
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    d = json.load(open(f))
    for r in d["results"]:
        rows.setdefault((r["op"].replace("linear int4 ", "").replace("linear ", "").replace("cublasLt ", "cublas:"), r["shape"].split()[0]), {})[
            d["label"] + ("" if "int4" in r["op"] else (":cublas" if "cublas" in r["op"] else ":linear"))] = r["us"]
labels = sorted({l for v in rows.values() for l in v})
print("op shape | " + " | ".join(labels))
for (op, m), v in rows.items():
    print(f"{op} {m} | " + " | ".join(f"{v[l]:.1f}" if l in v else "-" for l in labels))
PY
