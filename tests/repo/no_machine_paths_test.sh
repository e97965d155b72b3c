#!/usr/bin/env bash
# The repository stands alone: no file may name a path that exists only on the machines it
# was developed on (their work, root and home folders), nor a document kept outside the
# repository. System paths (/usr/local/cuda, /tmp, /proc) are fine.
#
#   tests/repo/no_machine_paths_test.sh            every file git tracks or would add
#   tests/repo/no_machine_paths_test.sh PATH...    these files, and every file under these folders
#
# Prints each offending line as FILE:LINE: TEXT and exits 1 if there is one; binary files
# are skipped. Registered with ctest as repo_no_machine_paths (and its self-test).
set -euo pipefail

# An absolute path into a machine's work, root, home or Users folder (not part of a longer
# word or of a URL, such as example.com/home/), a sibling checkout's shared folder, a
# document of that shared folder, or one of the development machines' own notes (the
# battery's source file, whose content lives in docs/reliability.md; the GPU machines' and
# the helpers' notes).
pattern='(^|[^A-Za-z0-9_.~$/-])/(work|root|home|Users)/|[.][.]/shared($|[^A-Za-z0-9_-])|(^|[^A-Za-z0-9_./-])shared/[A-Z]+[.]md|(RELIABILITY|KINDS|HELPERS)[.]md'

if [ $# -eq 0 ]; then
  root=$(cd "$(dirname "$0")/../.." && pwd)
  cd "$root"
  if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "no_machine_paths_test: $root is not a git checkout; pass the files or folders to check" >&2
    exit 2
  fi
  # Tracked files plus new ones not yet added (ignored build folders stay out); a tracked
  # file deleted in the work tree is not there to read.
  mapfile -d '' files < <(git ls-files -z --cached --others --exclude-standard)
  existing=()
  for f in "${files[@]}"; do [ -f "$f" ] && existing+=("$f"); done
  set -- "${existing[@]}"
fi

# grep exits 1 when nothing matches, 2 on an error (a path that does not exist).
status=0
hits=$(grep -r -I -n -E -- "$pattern" "$@") || status=$?
if [ "$status" -gt 1 ]; then
  echo "no_machine_paths_test: grep failed (status $status)" >&2
  exit 2
fi
if [ -n "$hits" ]; then
  echo "Machine-specific paths or documents outside the repository (use a relative path, a placeholder" >&2
  echo "such as /path/to/model, or docs/reliability.md for the battery):" >&2
  printf '%s\n' "$hits" >&2
  exit 1
fi
echo "no machine-specific paths ($# files or folders checked)"
