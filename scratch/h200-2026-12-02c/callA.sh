#!/usr/bin/env bash
# Device call A: the BF16 load sweep with fresh prompts per level (scripts/gpu-bench.sh sweep,
# concurrency 1..256, 1024/1024 and 2048/512, two rounds) and, on the same kind of server, a
# Poisson-arrival run of 2048/512 at 7 requests/s (about 32 resident in steady state).
# Binaries in .gpu/bins.tar.xz (built on the CPU machine).
set -u
COMMIT=$1
mkdir -p /tmp/bins && tar xJf .gpu/bins.tar.xz -C /tmp/bins
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 PYTHONUNBUFFERED=1
T=/tmp/bins/tern
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
STAMP=h200-$(date -u +%Y%m%d)
t0=$SECONDS; stamp() { echo "-- $1 at +$((SECONDS - t0)) s"; }
timeout 60 /tmp/bins/backend_ops_test --gtest_filter='*ttention*' >"$OUT/ops-attention.log" 2>&1
echo "attention op tests exit $? $(grep -E '^\[  PASSED|^\[  FAILED' "$OUT/ops-attention.log" | tr '\n' ' ')"
timeout 200 python3 tools/hf_reference.py --model-dir /tmp/qwen7b --tokenizer tests/data/tokenizers/qwen2.5 \
  --out "$OUT/hf_reference.json" 2>&1 | grep -E '^created|rror'; stamp model
OUT=$OUT timeout 400 scripts/gpu-bench.sh $T "$COMMIT" sweep 2>&1 | tail -30; stamp sweep
$T serve --model /tmp/qwen7b --max-model-len 4096 --gpu-memory-utilization 0.90 --port 8124 --log-level warn \
  >"$OUT/poisson-server.log" 2>&1 &
SERVER=$!
for _ in $(seq 300); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8124/health', timeout=2)" 2>/dev/null && break
  sleep 0.5
done
stamp "server up"
timeout 120 $T bench serve --url http://127.0.0.1:8124 --tokenizer /tmp/qwen7b --ignore-eos --input-len 2048 \
  --output-len 512 --request-rate 7 --num-prompts 240 --seed 77 --no-progress \
  --json "$OUT/$STAMP-poisson-2048x512-rate7.json" 2>&1 | tail -30
echo "poisson exit $?"
kill $SERVER; wait $SERVER 2>/dev/null
stamp done
