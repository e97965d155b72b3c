#!/usr/bin/env bash
# Serving benchmarks on the GPU machine (docs/performance.md, "Serving benchmarks"):
#   ablation  `tern bench ablation`: the source article's five stages of tern, each a
#             `tern serve` child measured with 2048-token prompts and 512 output tokens
#             (both +-50%), 256 requests at concurrency 128, within the memory of the
#             article's 24 GB cards (ABLATION_MEMORY, a fraction of this GPU's memory),
#             after HF generate() static batches of 2048/512 that fit the same memory
#             (stage 0, tools/hf_static_baseline.py; a few minutes more);
#   sweep     `tern bench sweep` against one `tern serve` (continuous batching, paged KV,
#             CUDA graphs): concurrency 1..256 for 1024/1024 and 2048/512;
#   hf        the HF transformers baseline for the sweep: static batches through generate()
#             (tools/hf_static_baseline.py: 2048/512 at batch 32 and 64, 1024/1024 at 64).
# Each part takes about 3-5 minutes on an H100/H200 with a 7B model; run them as separate
# commands when a command may take at most 10 minutes. Results are rewritten after every
# stage or run, so a part cut short still leaves what it measured.
#
#   scripts/gpu-bench.sh TERN_BINARY COMMIT [ablation] [sweep] [hf]     (all three when none is named)
#
# Environment: MODEL (default /tmp/qwen7b; a random Qwen2.5-7B-shaped model is made there
# with tools/hf_reference.py when it has no config.json), OUT (default ./gpu-bench-out),
# INT4 (skip: leave out the INT4 stage and run stages 3-5 on BF16, needed while the CUDA
# backend has no INT4 kernels; rtn or gptq: make or reuse MODEL-int4 and run all five),
# PORT (default 8123, the sweep's server), ABLATION_MEMORY (the ablation's
# --gpu-memory-utilization; default: 24 GiB of this GPU, as the article's RTX 4090D; 0.90
# for the whole GPU).
set -u -o pipefail
TERN=$(realpath "$1")
COMMIT=${2:-unknown}
shift 2 || shift $#
PARTS=${*:-ablation sweep hf}
MODEL=${MODEL:-/tmp/qwen7b}
OUT=${OUT:-$PWD/gpu-bench-out}
INT4=${INT4:-skip}
PORT=${PORT:-8123}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
STAMP=$(echo "$GPU" | tr 'A-Z' 'a-z' | grep -oE '[a-z][0-9]+' | head -1)-$(date -u +%Y%m%d)
echo "== $(date -u +%FT%TZ) $GPU commit $COMMIT model $MODEL parts: $PARTS"

if [ ! -f "$MODEL/config.json" ]; then
  echo "== making a random Qwen2.5-7B-shaped model in $MODEL"
  timeout 300 python3 tools/hf_reference.py --model-dir "$MODEL" --tokenizer tests/data/tokenizers/qwen2.5 \
    --out "$OUT/hf_reference.json" 2>&1 | grep -v Warning | tail -3
fi
ENGINE=(--max-model-len 4096 --gpu-memory-utilization 0.90)
TOTAL_GIB=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -1 | awk '{print $1 / 1024}')
ABLATION_MEMORY=${ABLATION_MEMORY:-$(awk -v t="$TOTAL_GIB" 'BEGIN { f = 24 / t; printf "%.3f", (f > 0.9 ? 0.9 : f) }')}

for part in $PARTS; do
  case $part in
  ablation)
    echo "== ablation"
    if [ "$INT4" = skip ]; then INT4_ARGS=(--skip-int4); else INT4_ARGS=(--quantize-method "$INT4"); fi
    # Stage 0: HF generate() in static batches of the ablation's lengths, the batches whose
    # peak memory fits the same budget.
    HF_JSON="$OUT/$STAMP-ablation-hf.json"
    timeout 400 python3 tools/hf_static_baseline.py --model-dir "$MODEL" --out "$HF_JSON.all" \
      --runs 2048x512x8,2048x512x16,2048x512x32 2>&1 | grep -v Warning | tail -3
    python3 - "$HF_JSON.all" "$HF_JSON" "$(awk -v f="$ABLATION_MEMORY" -v t="$TOTAL_GIB" 'BEGIN { print f * t }')" <<'PY'
import json, sys
src, dst, budget = sys.argv[1], sys.argv[2], float(sys.argv[3])
j = json.load(open(src))
j["runs"] = [r for r in j["runs"] if r["peak_gpu_memory_gib"] <= budget]
j["memory_budget_gib"] = budget
json.dump(j, open(dst, "w"), indent=1)
print(f"HF runs within {budget:.1f} GiB: {[r['batch'] for r in j['runs']]}")
PY
    HF_ARGS=()
    [ -s "$HF_JSON" ] && python3 -c "import json,sys; sys.exit(0 if json.load(open('$HF_JSON'))['runs'] else 1)" \
      && HF_ARGS=(--hf-baseline "$HF_JSON")
    echo "ablation within $ABLATION_MEMORY of ${TOTAL_GIB} GiB"
    timeout 590 "$TERN" bench ablation --model "$MODEL" "${INT4_ARGS[@]}" "${HF_ARGS[@]}" --max-model-len 4096 \
      --gpu-memory-utilization "$ABLATION_MEMORY" \
      --input-len 2048 --output-len 512 --range-ratio 0.5 --num-prompts 256 --concurrency 128 \
      --json "$OUT/$STAMP-ablation.json" --log-dir "$OUT/ablation-logs" --gpu "$GPU" --commit "$COMMIT"
    echo "exit status $?"
    ;;
  sweep)
    echo "== sweep"
    "$TERN" serve --model "$MODEL" "${ENGINE[@]}" --port "$PORT" --log-level warn >"$OUT/sweep-server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 600); do  # until /health answers 200 (loading and graph capture take a while)
      python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=2)" \
        2>/dev/null && break
      kill -0 $SERVER 2>/dev/null || { echo "tern serve exited:"; tail -20 "$OUT/sweep-server.log"; break; }
      sleep 0.5
    done
    timeout 590 "$TERN" bench sweep --url "http://127.0.0.1:$PORT" --tokenizer "$MODEL" --ignore-eos \
      --concurrency-levels 1,2,4,8,16,32,64,128,256 --workloads 1024x1024,2048x512 --rounds 2 --min-prompts 2 \
      --json "$OUT/$STAMP-sweep.json" --gpu "$GPU" --commit "$COMMIT" --no-progress
    echo "exit status $?"
    kill $SERVER 2>/dev/null
    wait $SERVER 2>/dev/null
    ;;
  hf)
    echo "== HF transformers static batches"
    timeout 590 python3 tools/hf_static_baseline.py --model-dir "$MODEL" --out "$OUT/$STAMP-hf-static.json" 2>&1 \
      | grep -v Warning | tail -5
    echo "exit status $?"
    ;;
  *) echo "unknown part $part (ablation, sweep, hf)" >&2; exit 2 ;;
  esac
done
ls -la "$OUT"
