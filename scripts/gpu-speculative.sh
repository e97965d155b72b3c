#!/usr/bin/env bash
# Speculative decoding on the GPU machine (issue 21's benchmark, the parts that need no
# trained drafter): `tern bench engine` on the random BF16 7B with prompts that repeat
# (--prompt-period), so prompt lookup drafts K tokens every step, and the spec_accept=P
# test hook deciding acceptance (the model's weights are random, so its own acceptance
# says nothing). Every run is in this one call, beside its plain-decoding baseline:
#   - verify cost: batch 1 and 8, acceptance 0 (one token per step), K = 1, 2, 4, 8;
#     verify_cost_ratio = plain tok/s / speculative tok/s;
#   - batch-1 speedup at acceptance 0.5, 0.7, 0.9 with K = 4 and 8;
#   - 64 concurrent: the default policy (no drafts above 16 decoding sequences) and drafts
#     forced on (--speculative-disable-by-batch-size 64), acceptance 0.7;
#   - a random Qwen2.5-0.5B-shaped draft model (DRAFT, made with tools/hf_reference.py
#     --shape qwen2.5-0.5b): batch 1, K = 4, acceptance 0, so a step costs the verify and 4
#     draft forwards; and 64 concurrent with the default policy (the draft idle).
# Writes OUT/<gpu>-<date>-speculative.json. About 6 minutes on an H100.
#
#   scripts/gpu-speculative.sh TERN_HOOKS_BINARY COMMIT
#
# TERN_HOOKS_BINARY: a CUDA build with -DTERN_TEST_HOOKS=ON. Environment: MODEL (default
# /tmp/qwen7b, as scripts/gpu-bench.sh makes it), OUT (default ./gpu-speculative-out).
set -u -o pipefail
TERN=$(realpath "$1")
COMMIT=${2:-unknown}
MODEL=${MODEL:-/tmp/qwen7b}
DRAFT=${DRAFT:-/tmp/qwen05b}
OUT=${OUT:-$PWD/gpu-speculative-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
STAMP=$(echo "$GPU" | tr 'A-Z' 'a-z' | grep -oE '[a-z][0-9]+' | head -1)-$(date -u +%Y%m%d)
echo "== $(date -u +%FT%TZ) $GPU commit $COMMIT model $MODEL"

# NAME ACCEPT BATCH [tern bench engine options...]; ACCEPT "-" runs without drafts.
run() {
  local name=$1 accept=$2 batch=$3; shift 3
  local hook=spec_accept=${accept/-/0}
  TERN_TEST_HOOKS=$hook timeout 120 "$TERN" bench engine --quiet --model "$MODEL" --max-model-len 2048 \
    --gpu-memory-utilization 0.90 --input-len 512 --prompt-period 64 --output-len 256 --num-requests "$batch" \
    --concurrency "$batch" --json "$OUT/$name.json" "$@" >/dev/null 2>"$OUT/$name.log" ||
    { echo "$name failed:"; tail -5 "$OUT/$name.log"; }
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); s=r.get('speculative',{}); print(f\"{sys.argv[2]:<22} {r['output_tokens_per_s']:9.1f} tok/s  tokens/verify {s.get('tokens_per_verify_step',1):.2f}\")" \
    "$OUT/$name.json" "$name" 2>/dev/null
}
# K fixed (--speculative-fixed-k) for the costs and speedups by K; the 64-concurrent runs
# use the default policy, which also drafts fewer after rejections.
spec() { echo --speculative-method ngram --num-speculative-tokens "$1" --speculative-fixed-k; }
adaptive() { echo --speculative-method ngram --num-speculative-tokens "$1"; }

if [ ! -f "$DRAFT/config.json" ]; then
  timeout 300 python3 tools/hf_reference.py --model-dir "$DRAFT" --shape qwen2.5-0.5b \
    --tokenizer tests/data/tokenizers/qwen2.5 --out "$OUT/draft.json" 2>&1 | grep -v Warning | tail -1
fi
run b1-plain - 1
for k in 1 2 4 8; do run "b1-k$k-a0" 0 1 $(spec $k); done
for a in 0.5 0.7 0.9; do for k in 4 8; do run "b1-k$k-a$a" $a 1 $(spec $k); done; done
run b8-plain - 8
for k in 2 4; do run "b8-k$k-a0" 0 8 $(spec $k); done
run c64-plain - 64
run c64-k4-a0.7-adaptive 0.7 64 $(adaptive 4)
run c64-k4-a0.7-forced 0.7 64 $(spec 4) --speculative-disable-by-batch-size 64
draft() { echo --speculative-method draft --speculative-model "$DRAFT" --num-speculative-tokens "$1"; }
run b1-draft-k4-a0 0 1 $(draft 4) --speculative-fixed-k
run c64-draft-k4-adaptive 0.7 64 $(draft 4)

python3 - "$OUT" "$STAMP" "$GPU" "$COMMIT" <<'PY'
import json, os, sys
out, stamp, gpu, commit = sys.argv[1:]
def tps(name):
    path = f"{out}/{name}.json"
    return json.load(open(path))["output_tokens_per_s"] if os.path.exists(path) else None
def ratio(a, b):
    return a / b if a and b else None
b1, b8, c64 = tps("b1-plain"), tps("b8-plain"), tps("c64-plain")
result = {
    "gpu": gpu, "commit": commit, "model": "BF16 Qwen2.5-7B shape (random weights)",
    "command": "scripts/gpu-speculative.sh (tern bench engine, 512-token prompts repeating every 64 tokens, "
               "256 output tokens, --speculative-method ngram, TERN_TEST_HOOKS=spec_accept=P in a hooks build)",
    "plain_output_tokens_per_s": {"b1": b1, "b8": b8, "c64": c64},
    "verify_cost_ratio_by_k": {
        "b1": {k: ratio(b1, tps(f"b1-k{k}-a0")) for k in (1, 2, 4, 8)},
        "b8": {k: ratio(b8, tps(f"b8-k{k}-a0")) for k in (2, 4)},
    },
    "speedup_b1_by_acceptance": {a: {k: ratio(tps(f"b1-k{k}-a{a}"), b1) for k in (4, 8)} for a in ("0.5", "0.7", "0.9")},
    "throughput_ratio_c64_adaptive": ratio(tps("c64-k4-a0.7-adaptive"), c64),
    "throughput_ratio_c64_draft_model_adaptive": ratio(tps("c64-draft-k4-adaptive"), c64),
    # One 0.5B-shaped draft forward (batch 1), as a fraction of a 7B decode step: the step
    # with 4 drafts at acceptance 0 costs the verify (K=4) plus 4 of them.
    "draft_cost_per_token_ratio": (ratio(b1, tps("b1-draft-k4-a0")) - ratio(b1, tps("b1-k4-a0"))) / 4
    if ratio(b1, tps("b1-draft-k4-a0")) and ratio(b1, tps("b1-k4-a0")) else None,
    "throughput_ratio_c64_drafts_forced": ratio(tps("c64-k4-a0.7-forced"), c64),
    "note": "verify cost ratio: plain tok/s over speculative tok/s at acceptance 0 (one token per verify step); "
            "speedups are speculative over plain tok/s at batch 1; all in this one call",
}
path = f"{out}/{stamp}-speculative.json"
json.dump(result, open(path, "w"), indent=2)
print(json.dumps(result, indent=2))
print("wrote", path)
PY
