#!/usr/bin/env bash
# End-to-end checks and benchmarks on the GPU machine, one command per call (< 10 minutes
# each, the longest one command may run on the GPU machine). Stages run in the order given; all of these by default:
#   fixtures  reference fixtures that need transformers (chat templates, INT4 reference
#             logits of the tiny checkpoints, HF tokenizer speed)
#   hf        HF transformers generate() baselines on the 7B model (hf_bench.json)
#   greedy    tern's greedy continuations vs HF's, eager and with CUDA graphs, and how long
#             any two of tern, HF BF16 (sdpa, eager) and HF FP32 agree (greedy_agreement.py)
#   bf16      `tern bench engine --suite` on the BF16 model -> tern_bf16.json
#   tiny      the committed tiny models (dense, sliding window, GPTQ, GPTQ act-order): CUDA vs
#             CPU greedy tokens and top-5 logprobs (no 7B model needed)
#   int4      `tern quantize --method rtn` (GPTQ g128, the format and bytes --method gptq
#             writes), the 7B INT4 checkpoint's logprobs
#             vs its torch dequantisation (tools/compare_logprobs.py), and the suite
#             -> tern_int4.json, int4_logprob_compare.json
#   fp8       `tern quantize --method fp8` (compressed-tensors, per-channel scales, per-token
#             activations), the 7B FP8 checkpoint's logprobs vs PyTorch's FP8 emulation
#             (tools/compare_logprobs.py), and the suite -> tern_fp8.json,
#             fp8_logprob_compare.json, and fp8_results.json: the FP8 suite with
#             `bf16_same_call`, the BF16 suite of this call (run "bf16 fp8" together)
#   kv8       the BF16 model with --kv-cache-dtype fp8: logprobs vs HF with K and V rounded
#             through torch.float8_e4m3fn the same way (kv8_logprob_compare.json), and the
#             suite -> tern_bf16_kv8.json (its memory plan line gives the resident KV tokens)
#   itl       stall-free batching: 8 decodes while a 30,000-token prompt is admitted, without
#             and with --target-itl-ms 12 (`tern bench engine --interference-*`; itl_*.json)
#   logprobs  BF16 teacher-forced logprob comparison with HF (bf16_logprob_compare.json)
#
#   scripts/gpu-e2e.sh TERN_BINARY COMMIT [STAGE ...]
#
# Every stage but fixtures first makes the random-weight Qwen2.5-7B-shaped model with
# tools/hf_reference.py, once per machine, in /tmp/qwen7b (with HF's greedy continuations
# and last-position logits, hf_reference.json); the int4 stage its GPTQ copy in
# /tmp/qwen7b-gptq, the fp8 stage its FP8 copy in /tmp/qwen7b-fp8. A later call on the same warm machine reuses both. Everything lands in
# $OUT; a stage cut off by the call's time limit leaves what it finished.
set -u -o pipefail
TERN=$(realpath "$1")
COMMIT=${2:-unknown}
shift 2 || shift $#
STAGES=${*:-fixtures tiny hf greedy bf16 int4 logprobs}
OUT=${OUT:-$PWD/gpu-e2e-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
MODEL=/tmp/qwen7b
INT4=/tmp/qwen7b-gptq
FP8=/tmp/qwen7b-fp8
SUITE_ARGS=(--backend cuda --max-model-len 4096 --gpu "$GPU" --commit "$COMMIT")
echo "== $(date -u +%FT%TZ) $GPU commit $COMMIT stages: $STAGES"
t0=$SECONDS
CALL_START=$(date +%s)  # files written after this belong to this call
stamp() { echo "-- $1 done at +$((SECONDS - t0)) s"; }

bandwidth() {  # device-to-device copy, bytes read + written, GB/s (once per $OUT)
  [ -s "$OUT/bandwidth.txt" ] || python3 tools/copy_bandwidth.py >"$OUT/bandwidth.txt"
  tail -1 "$OUT/bandwidth.txt"
}

weight_bytes() { python3 tools/decode_weight_bytes.py "$1"; }  # what a decode step reads

hf_reference() {  # OUT_JSON [--bench]
  timeout 420 python3 tools/hf_reference.py --model-dir $MODEL --tokenizer tests/data/tokenizers/qwen2.5 \
    --out "$@" 2>&1 | grep -v Warning | tail -25
}

reference_prompts() {  # /tmp/prompts.json: the prompts of hf_reference.json, for tern generate --prompts-file
  python3 -c "
import json; r=json.load(open('$OUT/hf_reference.json'))
json.dump([c['text'] for c in r['cases']], open('/tmp/prompts.json','w'), ensure_ascii=False)"
}

ensure_model() {
  [ -f $MODEL/config.json ] && [ -s "$OUT/hf_reference.json" ] && return
  hf_reference "$OUT/hf_reference.json"
  stamp "model + HF reference"
}

suite() {  # MODEL_DIR OUT_JSON LOG [MORE ENGINE FLAGS]
  local wb bw model=$1 json=$2 log=$3
  shift 3
  wb=$(weight_bytes "$model")
  bw=$(bandwidth)
  echo "weight bytes per decode step: $wb, copy bandwidth $bw GB/s"
  timeout 420 "$TERN" bench engine --suite --model "$model" "${SUITE_ARGS[@]}" "$@" --copy-bandwidth-gbps "$bw" \
    --weight-bytes "$wb" --json "$json" >"$log" 2>&1
  echo "bench exit $?"
  grep -E "memory plan|GPU memory|captured|rror" "$log" | head
  tail -24 "$log"
}

stage_fixtures() {
  echo "== fixtures"
  mkdir -p "$OUT/fixtures"
  cp tests/data/chat_templates/*.jinja tests/data/chat_templates/*.json "$OUT/fixtures/" 2>/dev/null
  timeout 60 python3 tools/make_chat_template_fixtures.py --data-dir "$OUT/fixtures" 2>&1 | tail -2
  for m in tiny-qwen2-gptq-g32 tiny-qwen2-gptq-g32-act-sym tiny-qwen2-fp8; do
    timeout 60 python3 tools/quant_reference.py --model "tests/data/quant/$m" --out "$OUT/fixtures/quant" 2>&1 | tail -1
  done
  timeout 60 python3 tools/bench_hf_tokenizer.py --seconds 2 --json "$OUT/hf_tokenizer_bench.json" 2>&1 | tail -4
  (cd "$OUT" && tar czf fixtures.tar.gz fixtures && rm -rf fixtures)
  stamp fixtures
}

stage_hf() {
  echo "== HF transformers generate() baselines"
  hf_reference "$OUT/hf_bench.json" --bench
  stamp hf
}

stage_greedy() {
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
           "--max-model-len", "4096"] + (["--enforce-eager"] if mode == "eager" else ["--cuda-graphs"])
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
for line in runs.get("graphs", []):  # drop the logprobs: greedy_agreement.py reads ids only
    line.pop("logprobs", None)
with open(f"{out}/tern_greedy.jsonl", "w") as f:
    f.writelines(json.dumps(line) + "\n" for line in runs.get("graphs", []))
PY
  # The same continuations against HF BF16 (sdpa and eager attention) and FP32, and HF's
  # own settings against each other: how early any BF16 implementation meets a near-tie.
  timeout 300 python3 tools/greedy_agreement.py --model $MODEL --tern-json "$OUT/tern_greedy.jsonl" \
    --out "$OUT/greedy_agreement.json" 2>&1 | grep -v Warning | tail -8
  stamp greedy
}

stage_bf16() {
  echo "== tern bench engine --suite (BF16)"
  suite $MODEL "$OUT/tern_bf16.json" "$OUT/tern_bf16.log"
  stamp bf16
}

stage_tiny() {
  echo "== tiny models, CUDA vs CPU (greedy tokens and top-5 logprobs): dense, sliding window, GPTQ, GPTQ act-order, FP8"
  for m in tests/data/models/tiny-qwen2 tests/data/models/tiny-mistral-window tests/data/quant/tiny-qwen2-gptq-g32 \
    tests/data/quant/tiny-qwen2-gptq-g32-act-sym tests/data/quant/tiny-qwen2-fp8; do
    [ -d "$m" ] || { echo "$m: missing (tools/make_mistral_window_fixture.py makes it)"; continue; }
    for b in cpu cuda; do
      "$TERN" generate --quiet --backend $b --model $m --prompt "12 + 34 =" --max-tokens 24 --ignore-eos --json \
        --logprobs 5 >"/tmp/$(basename $m).$b.json" 2>"/tmp/$(basename $m).$b.err" || tail -3 "/tmp/$(basename $m).$b.err"
    done
    python3 - "/tmp/$(basename $m)" <<'PY'
import json, sys
cpu, cuda = (json.loads(open(f"{sys.argv[1]}.{b}.json").read()) for b in ("cpu", "cuda"))
# Logprobs are comparable only while both backends are on the same path: up to and
# including the first position where their greedy tokens differ.
same = 0
for a, b in zip(cpu["token_ids"], cuda["token_ids"]):
    if a != b: break
    same += 1
shared = cpu["logprobs"][:same + 1], cuda["logprobs"][:same + 1]
diff = max(abs(x["logprob"] - y["logprob"]) for x, y in zip(*shared))
top = lambda lp: {t["token_id"]: t["logprob"] for t in lp["top_logprobs"]}
alt = max(abs(top(x)[t] - top(y)[t]) for x, y in zip(*shared) for t in top(x).keys() & top(y).keys())
print(f"{sys.argv[1].rsplit('/', 1)[1]}: greedy tokens agree for {same}/{len(cpu['token_ids'])}; on that path "
      f"max |logprob diff| of the chosen token {diff:.4f}, of shared top-5 tokens {alt:.4f}")
PY
  done
  stamp tiny
}

stage_int4() {
  echo "== INT4: tern quantize --method rtn --group-size 128 (GPTQ format)"
  if [ ! -f $INT4/config.json ]; then
    /usr/bin/time -f "quantize: %e s wall, %M KB max RSS" "$TERN" quantize --model $MODEL --out $INT4 --method rtn \
      --group-size 128 --sym 2>&1 | tail -3
  fi
  du -sh $INT4
  echo "== INT4: tern (CUDA) logprobs vs the torch dequantisation of the same checkpoint"
  reference_prompts
  "$TERN" generate --quiet --backend cuda --model $INT4 --prompts-file /tmp/prompts.json --max-tokens 32 --ignore-eos \
    --json --logprobs 5 --max-num-seqs 8 --max-model-len 4096 >"$OUT/tern_int4_greedy.jsonl" 2>/tmp/int4.err \
    || tail -5 /tmp/int4.err
  timeout 240 python3 tools/compare_logprobs.py --model $INT4 --tern-json "$OUT/tern_int4_greedy.jsonl" \
    --out "$OUT/int4_logprob_compare.json" 2>&1 | grep -v Warning | tail -6
  stamp "int4 checks"
  echo "== tern bench engine --suite (GPTQ INT4)"
  suite $INT4 "$OUT/tern_int4.json" "$OUT/tern_int4.log"
  stamp int4
}

stage_fp8() {
  echo "== FP8: tern quantize --method fp8 (compressed-tensors, per-channel weight scales, per-token activations)"
  if [ ! -f $FP8/config.json ]; then
    /usr/bin/time -f "quantize: %e s wall, %M KB max RSS" "$TERN" quantize --model $MODEL --out $FP8 --method fp8 \
      2>&1 | tail -3
  fi
  du -sh $FP8
  echo "== FP8: tern (CUDA) logprobs vs PyTorch's FP8 emulation of the same checkpoint"
  reference_prompts
  "$TERN" generate --quiet --backend cuda --model $FP8 --prompts-file /tmp/prompts.json --max-tokens 32 --ignore-eos \
    --json --logprobs 5 --max-num-seqs 8 --max-model-len 4096 >"$OUT/tern_fp8_greedy.jsonl" 2>/tmp/fp8.err \
    || tail -5 /tmp/fp8.err
  timeout 240 python3 tools/compare_logprobs.py --model $FP8 --tern-json "$OUT/tern_fp8_greedy.jsonl" \
    --out "$OUT/fp8_logprob_compare.json" 2>&1 | grep -v Warning | tail -6
  stamp "fp8 checks"
  echo "== tern bench engine --suite (FP8)"
  suite $FP8 "$OUT/tern_fp8.json" "$OUT/tern_fp8.log"
  # The results file of issue 20: the FP8 suite beside the BF16 suite of this same call.
  python3 - "$OUT" "$CALL_START" <<'PY'
import json, os, sys
out, call_start = sys.argv[1], int(sys.argv[2])
fp8 = json.load(open(f"{out}/tern_fp8.json"))
bf16_path = f"{out}/tern_bf16.json"
if os.path.exists(bf16_path) and os.path.getmtime(bf16_path) >= call_start:
    fp8["bf16_same_call"] = json.load(open(bf16_path))
else:
    print("no BF16 suite from this call: run the bf16 stage before fp8 in the same command")
json.dump(fp8, open(f"{out}/fp8_results.json", "w"), indent=1)
print("wrote fp8_results.json", "with bf16_same_call" if "bf16_same_call" in fp8 else "without bf16_same_call")
PY
  stamp fp8
}

stage_kv8() {
  echo "== FP8 KV cache: tern (CUDA) logprobs vs HF with the same K/V rounding"
  reference_prompts
  "$TERN" generate --quiet --backend cuda --model $MODEL --kv-cache-dtype fp8 --prompts-file /tmp/prompts.json \
    --max-tokens 32 --ignore-eos --json --logprobs 5 --max-num-seqs 8 --max-model-len 4096 \
    >"$OUT/tern_kv8_greedy.jsonl" 2>/tmp/kv8.err || tail -5 /tmp/kv8.err
  timeout 240 python3 tools/compare_logprobs.py --model $MODEL --kv-cache-dtype fp8 \
    --tern-json "$OUT/tern_kv8_greedy.jsonl" --out "$OUT/kv8_logprob_compare.json" 2>&1 | grep -v Warning | tail -6
  stamp "kv8 checks"
  echo "== tern bench engine --suite (BF16 weights, FP8 KV cache)"
  suite $MODEL "$OUT/tern_bf16_kv8.json" "$OUT/tern_bf16_kv8.log" --kv-cache-dtype fp8
  stamp kv8
}

stage_itl() {
  echo "== stall-free batching: 8 decodes while a 30,000-token prompt is admitted"
  for target in 0 12; do
    timeout 240 "$TERN" bench engine --quiet --backend cuda --model $MODEL --max-model-len 32768 \
      --interference-decodes 8 --interference-prompt-len 30000 --target-itl-ms $target --gpu "$GPU" \
      --commit "$COMMIT" --json "$OUT/itl_target_$target.json" 2>&1 | grep -A10 '"interference"'
  done
  stamp itl
}

stage_logprobs() {
  echo "== BF16 teacher-forced logprobs vs HF"
  python3 -c "
import json; r=json.load(open('$OUT/hf_reference.json'))
json.dump([c['text'] for c in r['cases']] + ['Write a long story about a dragon who learns to code.'], open('/tmp/prompts.json','w'), ensure_ascii=False)"
  "$TERN" generate --quiet --backend cuda --model $MODEL --prompts-file /tmp/prompts.json --max-tokens 64 --ignore-eos \
    --json --logprobs 5 --max-num-seqs 8 --max-model-len 4096 >"$OUT/tern_bf16_greedy.jsonl" 2>/tmp/bf16.err \
    || tail -5 /tmp/bf16.err
  timeout 200 python3 tools/compare_logprobs.py --model $MODEL --tern-json "$OUT/tern_bf16_greedy.jsonl" \
    --out "$OUT/bf16_logprob_compare.json" 2>&1 | grep -v Warning | tail -8
  stamp logprobs
}

echo "== copy bandwidth: $(bandwidth) GB/s"
for stage in $STAGES; do
  declare -F "stage_$stage" >/dev/null || { echo "unknown stage '$stage'"; exit 2; }
  if [ "$stage" != fixtures ] && [ "$stage" != tiny ]; then
    echo "== random Qwen2.5-7B-shaped model, HF reference"
    ensure_model
  fi
  "stage_$stage"
done
echo "== done in $((SECONDS - t0)) s"
