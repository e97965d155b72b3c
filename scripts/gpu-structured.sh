#!/usr/bin/env bash
# Structured output on the GPU machine (issue 17's benchmark): one `tern serve` with the
# BF16 7B, 64 concurrent requests of 1024 prompt and 256 output tokens, first
# unconstrained, then with the 10-field nested JSON schema of
# bench/schemas/nested-10-fields.json sent as response_format, both sampled as
# Qwen2.5-7B-Instruct is by default (its generation_config.json, written into MODEL:
# temperature 0.7, top_p 0.8, top_k 20, repetition_penalty 1.05: penalties applied on the
# device, then the top-20); then unconstrained and greedy with no penalties, the cheapest
# sampling there is.
# The mask time per sequence per step comes from the server's
# tern_structured_output_mask_seconds histogram (a bucket's upper bound) and, exactly,
# from grammar_mask_bench on this machine's CPU with the Qwen2.5 vocabulary. Writes
# OUT/<gpu>-<date>-structured.json with unconstrained_output_tokens_per_s,
# json_schema_output_tokens_per_s, their ratio, greedy_output_tokens_per_s, mask_us_p50
# and mask_us_p99 (server histogram), and the micro-benchmark's numbers. About 4 minutes
# on an H100/H200.
#
#   scripts/gpu-structured.sh TERN_BINARY MASK_BENCH_BINARY COMMIT
#
# Environment: MODEL (default /tmp/qwen7b, as scripts/gpu-bench.sh makes it), OUT
# (default ./gpu-structured-out), PORT (default 8124).
set -u -o pipefail
TERN=$(realpath "$1")
MASK_BENCH=$(realpath "$2")
COMMIT=${3:-unknown}
MODEL=${MODEL:-/tmp/qwen7b}
OUT=${OUT:-$PWD/gpu-structured-out}
PORT=${PORT:-8124}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
STAMP=$(echo "$GPU" | tr 'A-Z' 'a-z' | grep -oE '[a-z][0-9]+' | head -1)-$(date -u +%Y%m%d)
SCHEMA=bench/schemas/nested-10-fields.json
echo "== $(date -u +%FT%TZ) $GPU commit $COMMIT model $MODEL"
cat >"$MODEL/generation_config.json" <<'JSON'
{"bos_token_id": 151643, "pad_token_id": 151643, "do_sample": true, "eos_token_id": [151645, 151643],
 "repetition_penalty": 1.05, "temperature": 0.7, "top_p": 0.8, "top_k": 20}
JSON

SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; wait 2>/dev/null' EXIT
serve() {  # LOG [tern serve options...]: starts the server and waits until it is healthy
  local log=$1; shift
  "$TERN" serve --model "$MODEL" --max-model-len 4096 --gpu-memory-utilization 0.90 --port "$PORT" \
    --log-level warn "$@" >"$log" 2>&1 &
  SERVER=$!
  for _ in $(seq 600); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=2)" \
      2>/dev/null && return 0
    kill -0 $SERVER 2>/dev/null || { echo "tern serve exited:"; tail -20 "$log"; exit 1; }
    sleep 0.5
  done
}
stop() { kill $SERVER; wait $SERVER 2>/dev/null; SERVER=; }
metrics() { python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$PORT/metrics').read().decode())"; }

LOAD=(--url "http://127.0.0.1:$PORT" --tokenizer "$MODEL" --concurrency 64 --num-prompts 256 --input-len 1024
      --output-len 256 --ignore-eos --no-progress)
serve "$OUT/server.log"
echo "== unconstrained"
timeout 280 "$TERN" bench serve "${LOAD[@]}" --temperature 0.7 --seed 1 --json "$OUT/unconstrained.json" | tail -14
metrics >"$OUT/metrics-before.txt"
echo "== JSON schema ($SCHEMA)"
timeout 280 "$TERN" bench serve "${LOAD[@]}" --temperature 0.7 --seed 2 --response-format "$SCHEMA" \
  --json "$OUT/json-schema.json" | tail -14
metrics >"$OUT/metrics-after.txt"
stop
echo "== unconstrained, greedy, no repetition penalty (--generation-config ignore): every token from the GPU's top-k"
serve "$OUT/server-greedy.log" --generation-config ignore
timeout 280 "$TERN" bench serve "${LOAD[@]}" --temperature 0 --seed 3 --json "$OUT/greedy.json" | tail -14
stop
echo "== mask micro-benchmark (this machine's CPU, Qwen2.5 vocabulary)"
(cd "$(dirname "$0")/.." && timeout 120 "$MASK_BENCH" --benchmark_format=json >"$OUT/mask-bench.json")

python3 - "$OUT" "$STAMP" "$GPU" "$COMMIT" <<'PY'
import json, re, sys
out, stamp, gpu, commit = sys.argv[1:]
def buckets(path):
    b = {}
    for line in open(path):
        m = re.match(r'tern_structured_output_mask_seconds_bucket\{le="([^"]+)"\} (\d+)', line)
        if m: b[m.group(1)] = int(m.group(2))
    return b
before, after = buckets(f"{out}/metrics-before.txt"), buckets(f"{out}/metrics-after.txt")
bounds = [k for k in after if k != "+Inf"]
total = after["+Inf"] - before.get("+Inf", 0)
def pct(p):  # the upper bound of the bucket holding the p-th percentile, in microseconds
    for k in bounds:
        if after[k] - before.get(k, 0) >= p * total: return float(k) * 1e6
    return None
u = json.load(open(f"{out}/unconstrained.json"))["output_tokens_per_s"]
j = json.load(open(f"{out}/json-schema.json"))["output_tokens_per_s"]
g = json.load(open(f"{out}/greedy.json"))["output_tokens_per_s"]
bench = {b["name"]: b for b in json.load(open(f"{out}/mask-bench.json"))["benchmarks"]}
result = {
    "gpu": gpu, "commit": commit, "model": "BF16 Qwen2.5-7B shape",
    "command": "scripts/gpu-structured.sh (tern bench serve: concurrency 64, 256 prompts, 1024 in / 256 out, "
               "ignore_eos, Qwen2.5-7B-Instruct's sampling defaults; then the same with --response-format "
               "bench/schemas/nested-10-fields.json; then greedy)",
    "sampling": "temperature 0.7, top_p 0.8, top_k 20, repetition_penalty 1.05 (generation_config.json)",
    "unconstrained_output_tokens_per_s": u, "json_schema_output_tokens_per_s": j, "json_schema_ratio": j / u,
    "greedy_output_tokens_per_s": g,
    "mask_us_p50": pct(0.50), "mask_us_p99": pct(0.99), "mask_steps": total,
    "mask_us_note": "server histogram tern_structured_output_mask_seconds: upper bound of the bucket",
    "cpu_mask_bench": {n: {k: b.get(k) for k in ("p50_us", "p99_us", "max_us", "cold_p99_us", "compile_ms")}
                       for n, b in bench.items()},
}
path = f"{out}/{stamp}-structured.json"
json.dump(result, open(path, "w"), indent=2)
print(json.dumps(result, indent=2))
print("wrote", path)
PY
