#!/usr/bin/env bash
# Device call C: CUDA op tests and the attention/GEMM op benchmark (prefill attention now
# starts its heaviest causal tiles first); batch-1 decode of three GEMV configurations
# (tern = 2 rows a warp, 4 loads in flight a row; tern-v1 = 1 row, 8 loads; tern-v2 = 2 rows,
# 8 loads), alternated; the BF16 suite; greedy agreement of tern, HF BF16 (sdpa, eager) and
# HF FP32 (scripts/gpu-e2e.sh greedy); the HF static 1024/1024 batch-64 run if time is left.
set -u
COMMIT=$1
mkdir -p /tmp/bins && tar xJf .gpu/bins.tar.xz -C /tmp/bins
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 PYTHONUNBUFFERED=1
B=/tmp/bins
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
STAMP=h200-$(date -u +%Y%m%d)
t0=$SECONDS; stamp() { echo "-- $1 at +$((SECONDS - t0)) s"; }
timeout 120 $B/backend_ops_test >"$OUT/ops.log" 2>&1
echo "op tests exit $? $(grep -E '^\[  PASSED|^\[  FAILED' "$OUT/ops.log" | tr '\n' ' ')"; grep -E '^\[  FAILED' "$OUT/ops.log" | head
timeout 60 $B/backend_ops_bench "$OUT/ops-bench.json" "$COMMIT" attention,gemm >"$OUT/ops-bench.log" 2>&1; echo "op bench exit $?"
grep -iE "prefill|qkv|o_proj|down|gate_up" "$OUT/ops-bench.log" | head -24
stamp ops
timeout 200 python3 tools/hf_reference.py --model-dir /tmp/qwen7b --tokenizer tests/data/tokenizers/qwen2.5 \
  --out "$OUT/hf_reference.json" 2>&1 | grep -E '^created|rror'; stamp model
for round in 1 2; do
  for v in tern tern-v1 tern-v2; do
    r=$(timeout 60 $B/$v bench engine --model /tmp/qwen7b --backend cuda --max-model-len 4096 --max-num-seqs 4 \
      --num-requests 1 --input-len 128 --output-len 256 2>&1 | grep -oE '"median_decode_tokens_per_s":[0-9.]+' | tail -1)
    echo "b1 round $round $v $r"
  done
done
stamp variants
BW=$(python3 tools/copy_bandwidth.py | tail -1)
WB=$(python3 tools/decode_weight_bytes.py /tmp/qwen7b)
timeout 150 $B/tern bench engine --suite --model /tmp/qwen7b --backend cuda --max-model-len 4096 --gpu "$GPU" \
  --commit "$COMMIT" --copy-bandwidth-gbps "$BW" --weight-bytes "$WB" --json "$OUT/$STAMP-bf16.json" >"$OUT/bf16.log" 2>&1
echo "suite exit $? (copy bandwidth $BW GB/s, weight bytes $WB)"
grep -E '"decode_b1|ttft_2048|serve_64x1024x1024|median_itl' "$OUT/$STAMP-bf16.json"; stamp suite
OUT=$OUT timeout 240 scripts/gpu-e2e.sh $B/tern "$COMMIT" greedy 2>&1 | tail -24; stamp greedy
left=$((585 - (SECONDS - t0)))
if [ $left -gt 60 ]; then
  timeout $left python3 tools/hf_static_baseline.py --model-dir /tmp/qwen7b --runs 1024x1024x64 \
    --out "$OUT/$STAMP-hf-static-1024.json" 2>&1 | grep -v Warn | tail -3
fi
stamp done
