#!/usr/bin/env bash
# Do CUDA graph replays give the eager forward's tokens? On the GPU machine, for each tern
# binary given: 24 greedy tokens of tests/data/models/tiny-qwen2 from `tern generate` with
# graphs (--cuda-graphs where the binary has it) and with --enforce-eager, then tools/sampling_setups_check.py against `tern serve`
# both ways (free and JSON-schema requests, several sampling setups). Prints each output and
# SAME or DIFFER per pair. Exits 1 if any pair differs.
#
#   scripts/gpu-graph-check.sh TERN_BINARY...
#
# Found by the device calls of 2026-12-07 (docs/performance.md, "CUDA graph replays"): at
# 7d318cd on an H100, with graphs the greedy tokens after the first repeat the first, and
# every JSON-schema request ends with all logits -inf; with --enforce-eager both match the
# CPU backend.
set -u -o pipefail
cd "$(dirname "$0")/.."
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
MODEL=tests/data/models/tiny-qwen2
PROMPT=$(python3 -c "print(' '.join(f'word{i} is number {i}.' for i in range(20)))")
status=0
same() {  # LABEL A B
  if [ "$2" = "$3" ]; then echo "SAME    $1"; else echo "DIFFER  $1"; status=1; fi
}
serve_check() {  # BINARY LOG [serve options]
  local bin=$1 log=$2; shift 2
  "$bin" serve --backend cuda --model $MODEL --max-model-len 512 --port 8126 --log-level info "$@" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 200); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8126/health', timeout=2)" \
      2>/dev/null && break
    sleep 0.3
  done
  timeout 60 python3 tools/sampling_setups_check.py 8126 bench/schemas/nested-10-fields.json 20
  kill $pid; wait $pid 2>/dev/null
}
for bin in "$@"; do
  # Binaries from 2026-12-07 on capture graphs only when asked; older ones always did.
  graphs_flag=$("$bin" serve --help 2>&1 | grep -q -- --cuda-graphs && echo --cuda-graphs)
  gen() {
    timeout 60 "$bin" generate --backend cuda --model $MODEL --prompt "$PROMPT" --max-tokens 24 --temperature 0 \
      --ignore-eos "$@" 2>/dev/null
  }
  graphs=$(gen $graphs_flag) eager=$(gen --enforce-eager)
  echo "== $bin generate, graphs: $graphs"
  echo "== $bin generate, eager:  $eager"
  same "$bin generate" "$graphs" "$eager"
  graphs=$(serve_check "$bin" /tmp/graph-check-graphs.log $graphs_flag) eager=$(serve_check "$bin" /tmp/graph-check-eager.log --enforce-eager)
  echo "== $bin serve, graphs:"; echo "$graphs" | cut -c1-200
  echo "== $bin serve, eager:";  echo "$eager" | cut -c1-200
  same "$bin serve greedy" "$(echo "$graphs" | grep '^greedy')" "$(echo "$eager" | grep '^greedy')"
  grep -h "NaN" /tmp/graph-check-graphs.log | head -2
done
exit $status
