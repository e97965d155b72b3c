#!/usr/bin/env bash
# Device call 5: INT4 op tests; BF16 and GPTQ INT4 `tern bench engine --suite`; the HF
# transformers static-batch baseline (tools/hf_static_baseline.py); the BF16 load sweep
# (`tern bench sweep`, concurrency 1..256, 1024/1024 and 2048/512, one round). Binaries in .gpu/.
set -u
COMMIT=$1
mkdir -p /tmp/bins && tar xJf .gpu/bins.tar.xz -C /tmp/bins
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 PYTHONUNBUFFERED=1
T=/tmp/bins/tern
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
STAMP=h200-$(date -u +%Y%m%d)
t0=$SECONDS; stamp() { echo "-- $1 at +$((SECONDS - t0)) s"; }
timeout 60 /tmp/bins/backend_ops_test --gtest_filter='*LinearInt4*:*CudaGraph*' >"$OUT/ops.log" 2>&1
echo "op tests exit $? $(grep -E '^\[  PASSED|^\[  FAILED' "$OUT/ops.log" | tr '\n' ' ')"
timeout 200 python3 tools/hf_reference.py --model-dir /tmp/qwen7b --tokenizer tests/data/tokenizers/qwen2.5 \
  --out "$OUT/hf_reference.json" 2>&1 | grep -E '^created|rror' ; stamp model
BW=$(python3 - <<'PY'
import torch
x = torch.empty(2 * 1024**3, dtype=torch.uint8, device="cuda"); y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
torch.cuda.synchronize(); s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
s.record()
for _ in range(10): y.copy_(x)
e.record(); torch.cuda.synchronize()
print(f"{2 * x.numel() * 10 / (s.elapsed_time(e) / 1000) / 1e9:.0f}")
PY
)
echo "copy bandwidth $BW GB/s"
suite() {  # MODEL NAME WEIGHT_BYTES
  timeout 150 $T bench engine --suite --model "$1" --backend cuda --max-model-len 4096 --gpu "$GPU" --commit "$COMMIT" \
    --copy-bandwidth-gbps "$BW" --weight-bytes "$3" --json "$OUT/$2.json" >"$OUT/$2.log" 2>&1
  echo "$2 suite exit $?"; grep -E '"decode_b1_tokens_per_s"|ttft_2048|serve_64x1024x1024_output|median_itl' "$OUT/$2.json"
}
suite /tmp/qwen7b $STAMP-bf16 14141238272; stamp bf16
timeout 100 $T quantize --model /tmp/qwen7b --out /tmp/qwen7b-gptq --method rtn --group-size 128 --sym 2>&1 | tail -1
suite /tmp/qwen7b-gptq $STAMP-gptq-int4 4480752640; stamp int4
timeout 200 python3 tools/hf_static_baseline.py --model-dir /tmp/qwen7b --out "$OUT/$STAMP-hf-static.json" 2>&1 | grep -v Warn | tail -4
stamp hf
$T serve --model /tmp/qwen7b --max-model-len 4096 --gpu-memory-utilization 0.90 --port 8123 --log-level warn >"$OUT/sweep-server.log" 2>&1 &
SERVER=$!
for _ in $(seq 300); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8123/health', timeout=2)" 2>/dev/null && break
  sleep 0.5
done
stamp "server up"
timeout 280 $T bench sweep --url http://127.0.0.1:8123 --tokenizer /tmp/qwen7b --ignore-eos \
  --concurrency-levels 1,2,4,8,16,32,64,128,256 --workloads 1024x1024,2048x512 --rounds 1 --min-prompts 2 \
  --json "$OUT/$STAMP-sweep.json" --gpu "$GPU" --commit "$COMMIT" --no-progress 2>&1 | tail -25
echo "sweep exit $?"
kill $SERVER; wait $SERVER 2>/dev/null
stamp done
