#!/usr/bin/env bash
# INT4 copies of the demo model against the bf16 original, all on this machine's CPU:
# held-out perplexity (`tern perplexity` on tests/data/demo_heldout, made by
# tools/demo_heldout.py) and held-out arithmetic accuracy (tools/demo_eval.py --tern, the
# 1200 questions of models/README.md; the 40 of eval_questions.json are among them).
#
#   tools/demo_int4_eval.sh [TERN] [OUT]     defaults: build/src/app/tern, /tmp/tern-demo-int4
#
# Writes OUT/<variant>/ (the quantized checkpoints), OUT/<variant>.*.json and prints a
# Markdown table (docs/quantization.md, "Accuracy on the demo model").
set -euo pipefail
cd "$(dirname "$0")/.."
tern=$(realpath "${1:-build/src/app/tern}")
out=${2:-/tmp/tern-demo-int4}
data=tests/data/demo_heldout
mkdir -p "$out"
variants=(bf16)
for spec in gptq-g128 rtn-g128 gptq-g32 rtn-g32; do
  method=${spec%-g*} group=${spec#*-g}
  calibration=()
  if [ "$method" = gptq ]; then calibration=(--calibration "$data/calibration.txt"); fi
  TIMEFORMAT='{"wall_s": %R, "user_s": %U, "sys_s": %S}'
  { time "$tern" quantize --model models/tern-demo --out "$out/$spec" --method "$method" --group-size "$group" \
    "${calibration[@]}" 2>"$out/$spec.quantize.log"; } 2>"$out/$spec.quantize.json"
  variants+=("$spec")
done
for v in "${variants[@]}"; do
  model=$out/$v
  if [ "$v" = bf16 ]; then model=models/tern-demo; fi
  for text in replies dialogues; do
    "$tern" perplexity --quiet --json --model "$model" --jsonl "$data/$text.jsonl" >"$out/$v.$text.json"
  done
  # demo_eval exits 1 under 95% accuracy; the table shows the number either way.
  python3 tools/demo_eval.py --model "$model" --tern "$tern" --json "$out/$v.eval.json" >"$out/$v.eval.txt" || true
done
python3 - "$out" "${variants[@]}" <<'PY'
import json, math, sys
out, variants = sys.argv[1], sys.argv[2:]
ci = {q["question"] for q in json.load(open("models/tern-demo/eval_questions.json"))["questions"]}
bf16 = json.load(open(f"{out}/bf16.eval.json"))["results"]
print("| weights | replies: perplexity | replies: mean NLL | dialogues: perplexity | accuracy (1200) "
      "| + | - | * | replies unlike bf16's | CI 40 | quantize: wall s (CPU s) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for v in variants:
    rep, dia = (json.load(open(f"{out}/{v}.{t}.json")) for t in ("replies", "dialogues"))
    ev = json.load(open(f"{out}/{v}.eval.json"))
    s, results = ev["summary"], ev["results"]
    op = {o: sum(r["correct"] for r in results if r["op"] == o) / sum(r["op"] == o for r in results) for o in "+-*"}
    assert ci <= {r["question"] for r in results}
    changed = sum(r["output"] != b["output"] for r, b in zip(results, bf16))
    ci_right = len({r["question"] for r in results if r["question"] in ci and r["correct"]})
    q = ""
    if v != "bf16":
        t = json.load(open(f"{out}/{v}.quantize.json"))
        q = f"{t['wall_s']:.1f} ({t['user_s'] + t['sys_s']:.1f})"
    print(f"| {v} | {rep['perplexity']:.5f} | {rep['nll']:.5f} | {dia['perplexity']:.1f} "
          f"| {s['overall']['accuracy']:.2%} | {op['+']:.1%} | {op['-']:.1%} | {op['*']:.1%} "
          f"| {changed} | {ci_right}/{len(ci)} | {q} |")
print(f"(replies: {rep['tokens']} tokens of {rep['documents']} replies; dialogues: {dia['tokens']} tokens of "
      f"{dia['documents']} dialogues)")
PY
