#!/usr/bin/env bash
# Soak test (reliability battery J1, docs/reliability.md): tern serve under the G3 mix of
# traffic (normal, cancelled, invalid and disconnecting requests, Poisson arrivals) for a
# fixed time, with a memory-growth report from RssAnon + VmSwap, open fds, threads, idle
# gauges and throughput. Exits 1 when growth passes 1 %/h after the warm-up or anything
# else drifts.
#
#   scripts/soak.sh                      # 60 minutes, 30 of warm-up, tiny-qwen2, 6 req/s
#   scripts/soak.sh --minutes 10 --warmup-minutes 3 --rate 4
#   scripts/soak.sh --model models/tern-demo --rate 2 --out /tmp/soak.json
#   scripts/soak.sh --server-arg=--max-num-seqs --server-arg=32
#
# Needs a built binary (build/src/app/tern or TERN_BINARY) and `npm ci` in tests/server.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node tests/server/battery/soak.mjs "$@"
