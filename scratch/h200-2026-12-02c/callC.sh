#!/usr/bin/env bash
# Device call C. Binaries in .gpu/bins.tar.xz, built on the CPU machine: tern-old is commit
# 82cfa76 (GEMV: 2 rows a warp, 4 chunks a batch, no prefetch); tern, tern-v2 and tern-v3 are
# the pipelined GEMV (next batch loaded before the current one is used) with 1 row x 8
# chunks, 2 x 4 and 1 x 4 (same for backend_ops_test-* and backend_ops_bench-*).
#  1. CUDA op tests (all for tern's build, linear for the others); attention + GEMM op
#     benchmark for each build;
#  2. batch-1 decode (128 context, 256 tokens) of the four builds, three rounds alternated;
#     the BF16 suite with the fastest build;
#  3. greedy agreement of tern, HF BF16 (sdpa, eager) and HF FP32 (scripts/gpu-e2e.sh greedy);
#  4. the HF static 1024/1024 batch-64 run if time is left.
set -u
COMMIT=$1
mkdir -p /tmp/bins && tar xJf .gpu/bins.tar.xz -C /tmp/bins
export LD_LIBRARY_PATH=/usr/local/cuda/lib64 PYTHONUNBUFFERED=1
B=/tmp/bins
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
STAMP=h200-$(date -u +%Y%m%d)
t0=$SECONDS; stamp() { echo "-- $1 at +$((SECONDS - t0)) s"; }
timeout 150 $B/backend_ops_test >"$OUT/ops.log" 2>&1
echo "op tests exit $? $(grep -E '^\[  PASSED|^\[  FAILED' "$OUT/ops.log" | tr '\n' ' ')"; grep -E '^\[  FAILED' "$OUT/ops.log" | head
for v in v2 v3; do
  timeout 60 $B/backend_ops_test-$v --gtest_filter='*inear*' >"$OUT/ops-$v.log" 2>&1
  echo "$v linear op tests exit $? $(grep -E '^\[  PASSED|^\[  FAILED' "$OUT/ops-$v.log" | tr '\n' ' ')"
done
stamp tests
for v in old "" v2 v3; do
  name=backend_ops_bench${v:+-$v}
  timeout 90 $B/$name "$OUT/$name.json" "$COMMIT" gemm$([ -z "$v" ] && echo ,attention) >"$OUT/$name.log" 2>&1
  echo "$name exit $?"
done
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
for v in ("-old", "", "-v2", "-v3"):
    try:
        rows = json.load(open(f"{out}/backend_ops_bench{v}.json"))["results"]
    except Exception as e:
        print(v, "no results", e); continue
    pick = [r for r in rows if r["op"].startswith("linear") and r["shape"].split()[0] in ("M=1", "M=2")]
    print(f"bench{v or '-new'}:", " ".join(f"{r['op'][7:]}@{r['shape'].split()[0][2:]}={r['us']:.1f}" for r in pick))
    if not v:
        for r in rows:
            if "attention" in r["op"]: print("  ", r["op"], r["shape"], f"{r['us']:.1f} us", r["achieved"], r["achieved_unit"])
PY
stamp "op bench"
timeout 200 python3 tools/hf_reference.py --model-dir /tmp/qwen7b --tokenizer tests/data/tokenizers/qwen2.5 \
  --out "$OUT/hf_reference.json" 2>&1 | grep -E '^created|rror'; stamp model
for round in 1 2 3; do
  for v in tern-old tern tern-v2 tern-v3; do
    r=$(timeout 60 $B/$v bench engine --model /tmp/qwen7b --backend cuda --max-model-len 4096 --max-num-seqs 4 \
      --num-requests 1 --input-len 128 --output-len 256 2>&1 | grep -oE '"median_decode_tokens_per_s":[0-9.]+' | tail -1)
    echo "b1 round $round $v ${r#*:}" | tee -a "$OUT/b1-variants.txt"
  done
done
BEST=$(awk '{s[$4] += $5} END {for (v in s) print s[v], v}' "$OUT/b1-variants.txt" | sort -rn | head -1 | cut -d' ' -f2)
echo "fastest: $BEST"; stamp variants
BW=$(python3 tools/copy_bandwidth.py | tail -1)
WB=$(python3 tools/decode_weight_bytes.py /tmp/qwen7b)
timeout 150 $B/$BEST bench engine --suite --model /tmp/qwen7b --backend cuda --max-model-len 4096 --gpu "$GPU" \
  --commit "$COMMIT ($BEST)" --copy-bandwidth-gbps "$BW" --weight-bytes "$WB" --json "$OUT/$STAMP-bf16.json" >"$OUT/bf16.log" 2>&1
echo "suite exit $? (copy bandwidth $BW GB/s, weight bytes $WB)"
grep -E '"decode_b1|ttft_2048|serve_64x1024x1024|median_itl' "$OUT/$STAMP-bf16.json"; stamp suite
OUT=$OUT timeout 240 scripts/gpu-e2e.sh $B/tern "$COMMIT" greedy 2>&1 | tail -24; stamp greedy
left=$((585 - (SECONDS - t0)))
if [ $left -gt 60 ]; then
  timeout $left python3 tools/hf_static_baseline.py --model-dir /tmp/qwen7b --runs 1024x1024x64 \
    --out "$OUT/$STAMP-hf-static-1024.json" 2>&1 | grep -v Warn | tail -3
fi
stamp done
