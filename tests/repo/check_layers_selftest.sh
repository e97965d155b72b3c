#!/usr/bin/env bash
# scripts/check-layers.sh on a copy of src/ and docs/layers.txt: the copy passes as it is,
# and each planted break of a rule fails the check with the file, line and rule named.
#
#   tests/repo/check_layers_selftest.sh [REPO_ROOT]
set -euo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
CHECK="$ROOT/scripts/check-layers.sh"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/docs"
cp -r "$ROOT/src" "$WORK/src"
cp "$ROOT/docs/layers.txt" "$WORK/docs/layers.txt"
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# expect_break NAME FILE LINE_TEXT MESSAGE: puts LINE_TEXT at the top of FILE (under
# src/, or docs/layers.txt), expects the check to fail and to print MESSAGE, then restores
# FILE.
expect_break() {
  local name=$1 file=$2 line=$3 message=$4 out status
  cp "$WORK/$file" "$WORK/saved"
  { printf '%s\n' "$line"; cat "$WORK/saved"; } >"$WORK/$file"
  set +e
  out=$("$CHECK" "$WORK" 2>&1)
  status=$?
  set -e
  mv "$WORK/saved" "$WORK/$file"
  if [ "$status" -ne 1 ]; then
    fail "$name: exit status $status, expected 1; output: $out"
  elif ! grep -qF -- "$message" <<<"$out"; then
    fail "$name: the output does not say \"$message\"; it says: $out"
  else
    echo "ok: $name"
  fi
}

if out=$("$CHECK" "$WORK" 2>&1); then
  echo "ok: an unchanged copy passes"
else
  fail "an unchanged copy fails: $out"
fi

expect_break "the server includes a backend header" src/server/router.cpp '#include "backend/backend.h"' \
  'src/server/router.cpp:1: #include "backend/backend.h": server may not include backend (docs/layers.txt: server: engine tokenizer grammar)'
expect_break "the engine includes a model header" src/engine/engine.cpp '#include "model/llama_model.h"' \
  'src/engine/engine.cpp:1: #include "model/llama_model.h": engine may not include model'
expect_break "the engine includes the runner" src/engine/scheduler.cpp '#include "runner/model_runner.h"' \
  'src/engine/scheduler.cpp:1: #include "runner/model_runner.h": engine may not include runner'
expect_break "the runner includes an engine header other than the executor interface" src/runner/sampler.cpp \
  '#include "engine/engine.h"' 'src/runner/sampler.cpp:1: #include "engine/engine.h": runner may not include engine'
expect_break "a lower layer includes a higher one" src/kv/block_pool.cpp '#include "tokenizer/tokenizer.h"' \
  'src/kv/block_pool.cpp:1: #include "tokenizer/tokenizer.h": kv may not include tokenizer'
expect_break "the model includes the CUDA backend, private to backend" src/model/weights.cpp \
  '#include "backend/cuda/cuda_backend.h"' \
  'src/model/weights.cpp:1: #include "backend/cuda/cuda_backend.h": backend/cuda/ is private to backend'
expect_break "app includes a private folder" src/app/main.cpp '#include "backend/cpu/cpu_backend.h"' \
  'backend/cpu/ is private to backend'
expect_break "an include of a folder that is no library" src/base/log.cpp '#include "nowhere/x.h"' \
  'src/base/log.cpp:1: #include "nowhere/x.h": nowhere/ is not a library in docs/layers.txt'
expect_break "a library with two lines" docs/layers.txt 'kv: engine' 'library kv has two lines'
expect_break "a dependency that is no library" docs/layers.txt 'extra: nowhere' \
  'extra depends on nowhere, which is not a library'
sed -i 's/^base:.*/base: tokenizer/' "$WORK/docs/layers.txt"
if out=$("$CHECK" "$WORK" 2>&1); then
  fail "a cycle (base: tokenizer) passes"
elif grep -qF "depends on itself through its arrows (a cycle)" <<<"$out"; then
  echo "ok: a cycle (base: tokenizer) fails"
else
  fail "a cycle: the output does not name it: $out"
fi
cp "$ROOT/docs/layers.txt" "$WORK/docs/layers.txt"
mkdir "$WORK/src/newroom"
echo 'int x;' >"$WORK/src/newroom/x.cpp"
if out=$("$CHECK" "$WORK" 2>&1); then
  fail "a folder without a line in docs/layers.txt passes"
elif grep -qF "src/newroom/x.cpp: folder src/newroom has no line in docs/layers.txt" <<<"$out"; then
  echo "ok: a folder without a line fails"
else
  fail "a folder without a line: the output does not say so: $out"
fi

[ "$failures" -eq 0 ] || { echo "$failures case(s) failed"; exit 1; }
