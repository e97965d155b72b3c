#!/usr/bin/env bash
# A/B of two tern binaries on the same machine in one run: TTFT of a 2048-token prompt and
# batch-1 decode (`tern bench engine`, 5 requests one after another, 128 output tokens),
# in ABBA order so drift over the run falls on both. Issue 16's "within 3% of before the
# move" check is this script with the c1cecb1 binary as A.
#
#   scripts/gpu-ab.sh A_BINARY A_LABEL B_BINARY B_LABEL
#
# Environment: MODEL (default /tmp/qwen7b-8l: a random model of Qwen2.5-7B's layer shapes
# with 8 of its 28 layers, made with tools/hf_reference.py when it has no config.json; a
# layer costs the same in either binary, so fewer layers keep the A/B short), BACKEND
# (default cuda), INPUT_LEN (default 2048), MAX_LEN (default 4096), OUT (default
# ./gpu-ab-out). Writes OUT/ab.json with each run and the B/A ratios of the medians.
set -u -o pipefail
[ $# -eq 4 ] || { sed -n 2,15p "$0"; exit 2; }
A=$(realpath "$1") A_LABEL=$2 B=$(realpath "$3") B_LABEL=$4
MODEL=${MODEL:-/tmp/qwen7b-8l}
BACKEND=${BACKEND:-cuda}
OUT=${OUT:-$PWD/gpu-ab-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
GPU=${GPU:-cpu}
if [ ! -f "$MODEL/config.json" ]; then
  timeout 300 python3 "$(dirname "$0")/../tools/hf_reference.py" --model-dir "$MODEL" \
    --tokenizer "$(dirname "$0")/../tests/data/tokenizers/qwen2.5" --num-layers 8 --no-reference \
    --out "$OUT/hf_reference.json" 2>&1 | grep -v Warning | tail -2
fi
INPUT_LEN=${INPUT_LEN:-2048}
MAX_LEN=${MAX_LEN:-4096}
run() {  # BINARY LABEL ROUND
  local json="$OUT/$2-$3.json"
  timeout 300 "$1" bench engine --backend "$BACKEND" --model "$MODEL" --max-model-len "$MAX_LEN" --num-requests 5 \
    --concurrency 1 --input-len "$INPUT_LEN" --output-len 128 --quiet --gpu "$GPU" --commit "$2" --json "$json" \
    >"$OUT/$2-$3.log" 2>&1 || { echo "$2 ($3) failed:"; tail -5 "$OUT/$2-$3.log"; exit 1; }
}
run "$A" "$A_LABEL" 1
run "$B" "$B_LABEL" 1
run "$B" "$B_LABEL" 2
run "$A" "$A_LABEL" 2
python3 - "$OUT" "$A_LABEL" "$B_LABEL" "$GPU" "$MODEL" "$INPUT_LEN" <<'PY'
import json, statistics, sys
out, a, b, gpu, model, input_len = sys.argv[1:]
def runs(label):
    return [json.load(open(f"{out}/{label}-{r}.json")) for r in (1, 2)]
def median(rs, key):
    return statistics.median(r[key] for r in rs)
result = {"gpu": gpu, "model": model, "command": f"scripts/gpu-ab.sh (tern bench engine: 5 requests, concurrency 1, "
          f"{input_len} in / 128 out, ABBA)", "a": a, "b": b}
for key in ("median_ttft_ms", "median_decode_tokens_per_s"):
    ra, rb = runs(a), runs(b)
    result[key] = {a: [r[key] for r in ra], b: [r[key] for r in rb], "b_over_a": median(rb, key) / median(ra, key)}
json.dump(result, open(f"{out}/ab.json", "w"), indent=2)
print(json.dumps(result, indent=2))
PY
