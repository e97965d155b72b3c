#!/usr/bin/env bash
# Device call D: the BF16 and GPTQ INT4 (rtn, g128) `tern bench engine --suite` and the greedy agreement stage with the
# binary of commit 82cfa76 (prefill attention starting the heaviest causal tiles first; the
# GEMV as before: the pipelined GEMV of 4bcc5eb measured slower in call C and was reverted).
set -u
COMMIT=$1
mkdir -p /tmp/bins /tmp/e2e && tar xJf .gpu/bins.tar.xz -C /tmp/bins
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 PYTHONUNBUFFERED=1
T=/tmp/bins/tern
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
STAMP=h200-$(date -u +%Y%m%d)
t0=$SECONDS; stamp() { echo "-- $1 at +$((SECONDS - t0)) s"; }
timeout 200 python3 tools/hf_reference.py --model-dir /tmp/qwen7b --tokenizer tests/data/tokenizers/qwen2.5 \
  --out /tmp/e2e/hf_reference.json 2>&1 | grep -E '^created|rror'; stamp model
BW=$(python3 tools/copy_bandwidth.py | tail -1)
WB=$(python3 tools/decode_weight_bytes.py /tmp/qwen7b)
timeout 150 $T bench engine --suite --model /tmp/qwen7b --backend cuda --max-model-len 4096 --gpu "$GPU" \
  --commit "$COMMIT" --copy-bandwidth-gbps "$BW" --weight-bytes "$WB" --json "$OUT/$STAMP-bf16.json" >/tmp/e2e/bf16.log 2>&1
echo "suite exit $? (copy bandwidth $BW GB/s, weight bytes $WB)"
grep -E '"decode_b1|ttft_2048|serve_64x1024x1024|median_itl' "$OUT/$STAMP-bf16.json"; grep "bench 1 x 2048/1" /tmp/e2e/bf16.log | grep -oE 'median_ttft_ms":[0-9.]+'
stamp suite
timeout 100 $T quantize --model /tmp/qwen7b --out /tmp/qwen7b-gptq --method rtn --group-size 128 --sym 2>&1 | tail -1
WB4=$(python3 tools/decode_weight_bytes.py /tmp/qwen7b-gptq)
timeout 150 $T bench engine --suite --model /tmp/qwen7b-gptq --backend cuda --max-model-len 4096 --gpu "$GPU" \
  --commit "$COMMIT" --copy-bandwidth-gbps "$BW" --weight-bytes "$WB4" --json "$OUT/$STAMP-gptq-int4.json" >/tmp/e2e/int4.log 2>&1
echo "int4 suite exit $?"; grep -E '"decode_b1_tokens|ttft_2048|serve_64x1024x1024_output' "$OUT/$STAMP-gptq-int4.json"
stamp int4
OUT=/tmp/e2e timeout 200 scripts/gpu-e2e.sh $T "$COMMIT" greedy 2>&1 | grep -E "agree for|done"
cp /tmp/e2e/greedy_agreement.json /tmp/e2e/greedy_compare.json "$OUT/"
stamp done
