#!/usr/bin/env bash
# End-to-end checks and benchmarks on the GPU machine, in one command (< 10 minutes):
#   1. reference fixtures that need transformers (chat templates, INT4 reference logits,
#      HF tokenizer speed);
#   2. a random-weight model with the exact Qwen2.5-7B-Instruct shapes, HF's greedy
#      continuations and generate() baselines (tools/hf_reference.py);
#   3. tern on the CUDA backend: the same greedy continuations, then `tern bench engine
#      --suite`, written as the BF16 results JSON.
#
#   scripts/gpu-e2e.sh TERN_BINARY COMMIT
#
# Everything lands in $OUT (results.tar.gz holds the fixture files; the JSON files and
# logs sit beside it).
set -u -o pipefail
TERN=$1
COMMIT=${2:-unknown}
OUT=${OUT:-$PWD/gpu-e2e-out}
mkdir -p "$OUT/fixtures"
export PYTHONUNBUFFERED=1 LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "== $(date -u +%FT%TZ) $GPU commit $COMMIT"

echo "== fixtures"
cp tests/data/chat_templates/*.jinja tests/data/chat_templates/*.json "$OUT/fixtures/" 2>/dev/null
timeout 60 python3 tools/make_chat_template_fixtures.py --data-dir "$OUT/fixtures" 2>&1 | tail -2
for m in tiny-qwen2-gptq-g32 tiny-qwen2-gptq-g32-act-sym; do
  timeout 60 python3 tools/quant_reference.py --model "tests/data/quant/$m" --out "$OUT/fixtures/quant" 2>&1 | tail -1
done
timeout 60 python3 tools/bench_hf_tokenizer.py --seconds 2 --json "$OUT/hf_tokenizer_bench.json" 2>&1 | tail -4

echo "== copy bandwidth"
python3 - <<'PY' | tee "$OUT/bandwidth.txt"
import torch
x = torch.empty(2 * 1024**3, dtype=torch.uint8, device="cuda"); y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
torch.cuda.synchronize(); s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
s.record()
for _ in range(10): y.copy_(x)
e.record(); torch.cuda.synchronize()
print(f"{2 * x.numel() * 10 / (s.elapsed_time(e) / 1000) / 1e9:.0f}")
PY
BW=$(tail -1 "$OUT/bandwidth.txt")

echo "== HF reference on a random Qwen2.5-7B-shaped model"
MODEL=/tmp/qwen7b
timeout 300 python3 tools/hf_reference.py --model-dir $MODEL --tokenizer tests/data/tokenizers/qwen2.5 \
  --out "$OUT/hf_reference.json" --bench 2>&1 | grep -v Warning | tail -25
# Bytes a decode step reads: every weight but the embedding table (one row of it).
WEIGHT_BYTES=$(python3 -c "
import glob, math
from safetensors import safe_open
total = 0
for f in glob.glob('$MODEL/model*.safetensors'):
    with safe_open(f, 'pt') as s:
        total += sum(2 * math.prod(s.get_slice(k).get_shape()) for k in s.keys() if 'embed_tokens' not in k)
print(total)")
echo "weight bytes per decode step: $WEIGHT_BYTES, copy bandwidth $BW GB/s"

echo "== tern greedy vs HF (eager, then CUDA graphs)"
python3 - "$TERN" "$MODEL" "$OUT" <<'PY'
import json, subprocess, sys
tern, model, out = sys.argv[1:4]
ref = json.load(open(f"{out}/hf_reference.json"))
json.dump([c["text"] for c in ref["cases"]], open("/tmp/prompts.json", "w"), ensure_ascii=False)
runs = {}
for mode in ("eager", "graphs"):
    cmd = [tern, "generate", "--quiet", "--backend", "cuda", "--model", model, "--prompts-file", "/tmp/prompts.json",
           "--max-tokens", "32", "--ignore-eos", "--json", "--logprobs", "5", "--max-num-seqs", "8",
           "--max-model-len", "4096"] + (["--enforce-eager"] if mode == "eager" else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=200)
    if p.returncode != 0:
        print(mode, "failed:", p.stderr[-3000:]); continue
    runs[mode] = [json.loads(line) for line in p.stdout.splitlines()]
results = []
for i, case in enumerate(ref["cases"]):
    row = {"text": case["text"], "hf": case["greedy_ids"], "first_margin": case["first_margin"]}
    for mode, outs in runs.items():
        got = outs[i]
        agree = 0
        for a, b in zip(got["token_ids"], case["greedy_ids"]):
            if a != b: break
            agree += 1
        row[mode] = {"tokens": got["token_ids"], "agree_prefix": agree, "prompt_ids_equal": got["prompt_ids"] == case["prompt_ids"],
                     "first_logprobs": got["logprobs"][0]}
        print(f"{mode:6s} {case['text'][:28]!r}: prompt ids equal {row[mode]['prompt_ids_equal']}, greedy agree {agree}/32 (HF first margin {case['first_margin']:.3f})")
    if len(runs) == 2:
        print("        graphs == eager:", runs["eager"][i]["token_ids"] == runs["graphs"][i]["token_ids"])
    results.append(row)
json.dump(results, open(f"{out}/greedy_compare.json", "w"), indent=1, ensure_ascii=False)
PY

echo "== tern bench engine --suite (BF16)"
timeout 420 "$TERN" bench engine --suite --backend cuda --model $MODEL --max-model-len 4096 --gpu "$GPU" \
  --commit "$COMMIT" --copy-bandwidth-gbps "$BW" --weight-bytes "$WEIGHT_BYTES" --json "$OUT/tern_bf16.json" \
  > "$OUT/tern_bench.log" 2>&1
echo "bench exit $?"; grep -E "memory plan|GPU memory|captured|error" "$OUT/tern_bench.log" | head; tail -22 "$OUT/tern_bench.log"
cd "$OUT" && tar czf results.tar.gz fixtures && rm -rf fixtures
