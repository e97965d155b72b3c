#!/usr/bin/env bash
# Logit-level check of the CUDA backend on a random Qwen2.5-7B-shaped model: tern's
# greedy tokens with their top-5 logprobs, then HF transformers teacher-forced on the
# same tokens (tools/compare_logprobs.py).   scripts/gpu-logprobs.sh TERN_BINARY
set -u -o pipefail
TERN=$1
OUT=${OUT:-$PWD/gpu-logprobs-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
MODEL=/tmp/qwen7b
python3 tools/hf_reference.py --model-dir $MODEL --tokenizer tests/data/tokenizers/qwen2.5 --out "$OUT/hf_reference.json" \
  2>&1 | grep -v Warning | tail -3
python3 -c "
import json; r=json.load(open('$OUT/hf_reference.json'))
json.dump([c['text'] for c in r['cases']] + ['Write a long story about a dragon who learns to code.'], open('/tmp/prompts.json','w'), ensure_ascii=False)"
"$TERN" generate --quiet --backend cuda --model $MODEL --prompts-file /tmp/prompts.json --max-tokens 64 --ignore-eos \
  --json --logprobs 5 --max-num-seqs 8 --max-model-len 4096 > "$OUT/tern.jsonl" 2> "$OUT/tern.err" || tail -5 "$OUT/tern.err"
python3 tools/compare_logprobs.py --model $MODEL --tern-json "$OUT/tern.jsonl" --out "$OUT/logprob_compare.json" 2>&1 \
  | grep -v Warning | tail -8
