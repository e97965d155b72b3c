#!/usr/bin/env bash
# Self-test of tests/repo/no_machine_paths_test.sh: a folder of harmless files passes, and
# each kind of machine-specific path planted in it fails the check, which names the file.
set -euo pipefail
check="$(cd "$(dirname "$0")" && pwd)/no_machine_paths_test.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# Paths that look close but are fine: system folders, temporary files, URLs, words that
# contain the folder names, and tokenizer vocabulary entries without a trailing slash.
mkdir -p "$dir/ok"
cat >"$dir/ok/fine.md" <<'EOF'
CUDA in /usr/local/cuda/bin, the browser at /usr/bin/chromium, a model in /tmp/qwen7b.
See https://example.com/home/index.html and docs/reliability.md (case E1).
A token "/work" and "/home" in a vocabulary; framework/rootfs/homework/ are words.
A folder named shared/ beside docs/shared/NOTES.md in the repository.
EOF
"$check" "$dir/ok" >/dev/null || { echo "FAIL: the harmless files were rejected"; exit 1; }

# Each planted line must make the check fail and name the file it is in. The lines are
# assembled from pieces so that this file itself passes the check.
r=/ d=.
planted=(
  "data under ${r}work${r}shared/tokenizers/qwen2.5"
  "the log at ${r}root${r}out/stage-1.log"
  "a checkout in ${r}home${r}someone/tern"
  "a mac checkout in ${r}Users${r}someone/tern"
  "see ..${r}shared/notes.md"
  "the case list in shared${r}ARCHITECTURE${d}md"
  "the battery file RELIABILITY${d}md"
  "the GPU kinds in KINDS${d}md"
)
failures=0
for i in "${!planted[@]}"; do
  bad="$dir/bad$i"
  mkdir -p "$bad"
  cp "$dir/ok/fine.md" "$bad/fine.md"
  printf 'line one\n%s\n' "${planted[$i]}" >"$bad/planted.txt"
  status=0
  out=$("$check" "$bad" 2>&1) || status=$?
  if [ "$status" -ne 1 ] || ! grep -q "planted.txt:2:" <<<"$out" || grep -q "fine.md" <<<"$out"; then
    echo "FAIL: '${planted[$i]}' (exit $status): $out"
    failures=$((failures + 1))
  fi
done
# A path given that does not exist is an error (exit 2), not a pass.
status=0
"$check" "$dir/missing" >/dev/null 2>&1 || status=$?
[ "$status" -eq 2 ] || { echo "FAIL: a missing path gave exit $status, not 2"; failures=$((failures + 1)); }

[ "$failures" -eq 0 ] || exit 1
echo "no_machine_paths_test: ${#planted[@]} planted paths caught, harmless files passed"
