#!/usr/bin/env bash
# Device call 4: programmatic dependent launch. Every CUDA op test; tern vs HF greedy (eager
# and graphs) and the BF16 and INT4 suites with PDL on (scripts/gpu-e2e.sh greedy bf16 int4),
# then both suites again with TERN_PDL=0; from binaries in .gpu/.
set -u
COMMIT=$1
mkdir -p /tmp/bins && tar xJf .gpu/bins.tar.xz -C /tmp/bins
export LD_LIBRARY_PATH=/usr/local/cuda/lib64
timeout 150 /tmp/bins/backend_ops_test --gtest_output="json:$OUT/backend_ops_test.json" >"$OUT/ops.log" 2>&1
echo "op tests exit $? $(grep -E '^\[  PASSED|^\[  FAILED|tests ran' "$OUT/ops.log" | tr '\n' ' ')"
grep -A3 'Failure' "$OUT/ops.log" | head -20
OUT=$OUT/pdl1 timeout 420 scripts/gpu-e2e.sh /tmp/bins/tern "$COMMIT" greedy bf16 int4 2>&1 | grep -v -E '^\s+"|Writing model' | tail -40
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
BW=$(tail -1 "$OUT/pdl1/bandwidth.txt")
mkdir -p "$OUT/pdl0"
for m in qwen7b qwen7b-gptq; do
  TERN_PDL=0 timeout 150 /tmp/bins/tern bench engine --suite --model /tmp/$m --backend cuda --max-model-len 4096 --gpu "$GPU" \
    --commit "$COMMIT-pdl0" --copy-bandwidth-gbps "$BW" --json "$OUT/pdl0/$m.json" >"$OUT/pdl0/$m.log" 2>&1
  echo "$m PDL off: exit $?"
done
python3 - "$OUT" <<'PY'
import json, sys
o = sys.argv[1]
keys = ["decode_b1_tokens_per_s", "decode_b1_ctx2048_tokens_per_s", "ttft_2048_ms", "serve_64x1024x1024_output_tokens_per_s",
        "serve_64x1024x1024_median_itl_ms"]
for name, on, off in (("bf16", "pdl1/tern_bf16.json", "pdl0/qwen7b.json"), ("int4", "pdl1/tern_int4.json", "pdl0/qwen7b-gptq.json")):
    try:
        a, b = json.load(open(f"{o}/{on}")), json.load(open(f"{o}/{off}"))
    except Exception as e:
        print(name, "missing", e); continue
    for k in keys:
        print(f"{name} {k}: PDL on {a.get(k)} off {b.get(k)}")
    print(f"{name} by batch on {a.get('decode_tokens_per_s_by_batch')}")
    print(f"{name} by batch off {b.get('decode_tokens_per_s_by_batch')}")
PY
