#!/usr/bin/env bash
# Device call B: the source article's ablation (scripts/gpu-bench.sh ablation with INT4=rtn):
# five `tern serve` configurations within a 24 GiB budget of the H200 (the article's
# RTX 4090D), 256 requests of 2048/512 (+-50%) offered 128 at a time.
set -u
COMMIT=$1
mkdir -p /tmp/bins && tar xJf .gpu/bins.tar.xz -C /tmp/bins
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 PYTHONUNBUFFERED=1
T=/tmp/bins/tern
t0=$SECONDS; stamp() { echo "-- $1 at +$((SECONDS - t0)) s"; }
timeout 200 python3 tools/hf_reference.py --model-dir /tmp/qwen7b --tokenizer tests/data/tokenizers/qwen2.5 \
  --out "$OUT/hf_reference.json" 2>&1 | grep -E '^created|rror'; stamp model
INT4=rtn OUT=$OUT timeout $((580 - (SECONDS - t0))) scripts/gpu-bench.sh $T "$COMMIT" ablation 2>&1 | tail -30
stamp ablation
for f in "$OUT"/ablation-logs/stage-*.log; do echo "== $f"; grep -E "memory plan|GPU memory" "$f" | head -3; done
