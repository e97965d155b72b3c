#!/usr/bin/env bash
# Device call 2: INT4 op tests, the split knob (temporary env variables) and ncu of the
# W4A16 kernel at M = 1, 16, 32 (gate_up), from binaries in .gpu/.
set -u
mkdir -p /tmp/bins && tar xJf .gpu/bins.tar.xz -C /tmp/bins
T=/tmp/bins/backend_ops_test B=/tmp/bins/backend_ops_bench
export LD_LIBRARY_PATH=/usr/local/cuda/lib64
timeout 120 $T --gtest_filter='*LinearInt4*:*CudaGraph*' >"$OUT/test.log" 2>&1
echo "tests exit $? $(grep -E '^\[  PASSED|^\[  FAILED' "$OUT/test.log" | tr '\n' ' ')"
grep -h -A3 'Failure' "$OUT"/test.log | head -20
for bps in 4 8 16; do
  TERN_INT4_BLOCKS_PER_SM=$bps timeout 90 $B "$OUT/int4-bps$bps.json" "bps$bps" int4 >/dev/null 2>&1; echo "int4 bench bps $bps: $?"
done
TERN_INT4_BLOCKS_PER_SM=8 TERN_INT4_MIN_TILES=4 timeout 90 $B "$OUT/int4-bps8-min4.json" "bps8-min4" int4 >/dev/null 2>&1
python3 - "$OUT" <<'PY'
import glob, json, sys
rows = {}
for f in sorted(glob.glob(sys.argv[1] + "/int4-*.json")):
    d = json.load(open(f))
    for r in d["results"]:
        rows.setdefault((r["op"].replace("linear int4 ", ""), r["shape"].split()[0]), {})[d["label"]] = r["us"]
labels = sorted({l for v in rows.values() for l in v})
print("op shape | " + " | ".join(labels))
for (op, m), v in rows.items():
    if m in ("M=256", "M=2048", "M=128", "M=64"): continue
    print(f"{op} {m} | " + " | ".join(f"{v[l]:.1f}" if l in v else "-" for l in labels))
PY
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
timeout 200 $NCU -k regex:int4_mma --section SpeedOfLight --section Occupancy --section WarpStateStats \
  --section ComputeWorkloadAnalysis --section SchedulerStats --section InstructionStats --section MemoryWorkloadAnalysis \
  $B --profile >"$OUT/ncu.txt" 2>&1
echo "ncu exit $?"
grep -E 'int4_mma_kernel<|Duration|DRAM Throughput|Compute \(SM\)|Warp Cycles Per Issued|Achieved Occupancy|Issued Ipc|No Eligible|Stall|Executed Ipc|Pipe' "$OUT/ncu.txt" | head -80
