#!/usr/bin/env bash
# Tensor parallelism on a several-GPU machine, in one command: correctness of TP=N against
# TP=1 on a random Qwen2.5-7B-shaped model, then the benchmark of TP=1 against TP=N.
#
#   scripts/gpu-tp.sh BIN_DIR COMMIT [SIZES] [PHASES]
#
# BIN_DIR holds `tern` and `tp_logits_check` (built on a CPU machine with
# -DTERN_PORTABLE=ON -DCMAKE_CUDA_ARCHITECTURES=90a, as docs/performance.md says). SIZES are
# the tensor-parallel sizes to test (default "2"; "2 4" on four GPUs). PHASES is any of
# "check bench" (default both; run them as separate commands where a command may take at most
# 10 minutes):
#   check  1. tp_logits_check: last-position logits of 3 prompts (7, 100, 2048 tokens), split
#             model vs whole, over the whole vocabulary (tolerance: error ratio 0.05);
#          2. `tern generate` greedy, 32 tokens on tools/hf_reference.py's prompts: TP=N (eager and CUDA
#             graphs) vs TP=1, token agreement and top-5 logprobs of the first token.
#   bench  `tern bench engine --suite` at TP=1 and each TP=N: the BF16 results keys, written
#          with `tensor_parallel_size` to $OUT/<gpu>-<yyyymmdd>-tp.json (commit it to bench/results/).
# Results land in $OUT (at most 7 files, few enough to copy back from the GPU machine), logs in /tmp with
# their key lines printed. NVLink multicast stays off (NCCL_NVLS_ENABLE=0; tern forces it too).
set -u -o pipefail
BIN=$1
COMMIT=${2:-unknown}
SIZES=${3:-2}
PHASES=${4:-check bench}
OUT=${OUT:-$PWD/gpu-tp-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
TERN=$BIN/tern
CHECK=$BIN/tp_logits_check
MODEL=/tmp/qwen7b
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
NUM_GPUS=$(nvidia-smi --query-gpu=name --format=csv,noheader | wc -l)
echo "== $(date -u +%FT%TZ) $NUM_GPUS x $GPU, commit $COMMIT, sizes $SIZES, phases $PHASES"
for n in $SIZES; do
  [ "$n" -le "$NUM_GPUS" ] || { echo "tensor-parallel size $n needs $n GPUs, this machine has $NUM_GPUS"; exit 1; }
done

. "$(dirname "$0")/nccl-env.sh"
nvidia-smi topo -m > "$OUT/topology.txt" 2>&1 && head -12 "$OUT/topology.txt"

if [ ! -f $MODEL/config.json ]; then
  echo "== random Qwen2.5-7B-shaped model ($MODEL)"
  timeout 300 python3 tools/hf_reference.py --model-dir $MODEL --tokenizer tests/data/tokenizers/qwen2.5 \
    --out "$OUT/hf_reference.json" 2>&1 | grep -v Warning | tail -3
fi

if [[ " $PHASES " == *" check "* ]]; then
  for n in $SIZES; do
    echo "== tp_logits_check TP=$n vs TP=1"
    timeout 240 "$CHECK" --model $MODEL --tensor-parallel-size "$n" --json "$OUT/tp_logits_$n.json" \
      > "/tmp/tp_logits_$n.log" 2>&1
    echo "exit $?"; grep -E '"(error_ratio|argmax_whole|argmax_split|top2_margin_whole|ok)"|error' "/tmp/tp_logits_$n.log"
  done

  echo "== tern generate greedy: TP=N vs TP=1"
  python3 - "$TERN" "$MODEL" "$OUT" "$SIZES" <<'PY'
import json, subprocess, sys
tern, model, out, sizes = sys.argv[1], sys.argv[2], sys.argv[3], [int(s) for s in sys.argv[4].split()]
# The prompts of tools/hf_reference.py.
prompts = ["The capital of France is", "def fibonacci(n):", "你好，请介绍一下你自己。",
           "In 1905, Albert Einstein published four papers that"]
json.dump(prompts, open("/tmp/tp_prompts.json", "w"), ensure_ascii=False)
def generate(tp, eager):
    cmd = [tern, "generate", "--quiet", "--backend", "cuda", "--model", model, "--prompts-file", "/tmp/tp_prompts.json",
           "--max-tokens", "32", "--ignore-eos", "--json", "--logprobs", "5", "--max-num-seqs", "8",
           "--max-model-len", "4096", "--tensor-parallel-size", str(tp)] + (["--enforce-eager"] if eager else ["--cuda-graphs"])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    if p.returncode != 0:
        print(f"TP={tp} eager={eager} failed:", p.stderr[-3000:]); return None
    return [json.loads(line) for line in p.stdout.splitlines()]
base = generate(1, False)
report = []
for n in sizes:
    for eager in (True, False):
        runs = generate(n, eager)
        if base is None or runs is None: continue
        for i, (a, b) in enumerate(zip(base, runs)):
            agree = 0
            for x, y in zip(a["token_ids"], b["token_ids"]):
                if x != y: break
                agree += 1
            # At the first difference: how close TP=1's top two were (a near-tie flips on BF16 rounding).
            gap = None
            if agree < len(a["token_ids"]):
                top = sorted(a["logprobs"][agree]["top_logprobs"], key=lambda t: -t["logprob"])
                gap = top[0]["logprob"] - top[1]["logprob"] if len(top) > 1 else None
            first = {t["token_id"]: t["logprob"] for t in a["logprobs"][0]["top_logprobs"]}
            second = {t["token_id"]: t["logprob"] for t in b["logprobs"][0]["top_logprobs"]}
            diff = max((abs(first[k] - second[k]) for k in first if k in second), default=None)
            row = {"tp": n, "mode": "eager" if eager else "graphs", "prompt": i, "agree_prefix": agree,
                   "tp1_top2_gap_at_divergence": gap, "first_token_top5_max_logprob_diff": diff,
                   "prompt_ids_equal": a["prompt_ids"] == b["prompt_ids"]}
            report.append(row)
            print(f"TP={n} {row['mode']:6s} prompt {i}: greedy agree {agree}/32, "
                  f"TP=1 top-2 gap at divergence {gap}, first-token top-5 logprob diff {diff}")
json.dump(report, open(f"{out}/tp_greedy_compare.json", "w"), indent=1)
PY
fi

if [[ " $PHASES " == *" bench "* ]]; then
  BW=$(python3 tools/copy_bandwidth.py)
  WEIGHT_BYTES=$(python3 tools/decode_weight_bytes.py "$MODEL")
  for n in 1 $SIZES; do
    echo "== tern bench engine --suite, TP=$n"
    timeout 280 "$TERN" bench engine --suite --backend cuda --model $MODEL --max-model-len 4096 --gpu "$GPU" \
      --commit "$COMMIT" --copy-bandwidth-gbps "$BW" --weight-bytes "$WEIGHT_BYTES" --tensor-parallel-size "$n" \
      --json "$OUT/tp_bench_$n.json" > "/tmp/tp_bench_$n.log" 2>&1
    echo "exit $?"; grep -E "memory plan|GPU memory|captured|NCCL|error" "/tmp/tp_bench_$n.log" | head -12
  done
  python3 tools/merge_tp_results.py --gpu "$GPU" --commit "$COMMIT" --out-dir "$OUT" "$OUT"/tp_bench_*.json
fi
