#!/usr/bin/env bash
# Checks every `#include "dir/..."` in src/ against the layers in docs/layers.txt: a
# library may include its own headers and those of the libraries its arrows reach, and a
# private folder only from inside the library that holds it. Prints one line per broken
# rule (file:line, the include, the rule) and exits 1 if there is any; ctest runs it as
# repo_check_layers. It also fails when a folder of src/ has no line in docs/layers.txt,
# or when that file names an unknown library or has a cycle.
#
#   scripts/check-layers.sh [ROOT]    ROOT: the tree to check (default: this repository)
set -euo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
LAYERS="$ROOT/docs/layers.txt"
[ -f "$LAYERS" ] || { echo "check-layers: $LAYERS not found" >&2; exit 2; }
[ -d "$ROOT/src" ] || { echo "check-layers: $ROOT/src not found" >&2; exit 2; }

# Every C++ and CUDA file of src/ as "path<TAB>0<TAB>" (so that a file without includes is
# still placed in a library), then every include with a folder as "path<TAB>line<TAB>target".
list_includes() {
  cd "$ROOT"
  find src -type f \( -name '*.h' -o -name '*.cpp' -o -name '*.cu' -o -name '*.cuh' \) | LC_ALL=C sort |
    sed 's/$/\t0\t/'
  grep -rnH -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/' --include='*.h' --include='*.cpp' \
    --include='*.cu' --include='*.cuh' src |
    sed -E 's/^([^:]*):([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]*)".*/\1\t\2\t\3/' || true
}

list_includes | awk -F'\t' -v layers="$LAYERS" '
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
# The library a path (under src/) belongs to: the longest library name that is a folder
# prefix of it; "" when none.
function library_of(path,    best, lib) {
  best = ""
  for (lib in is_lib)
    if (index(path, lib "/") == 1 && length(lib) > length(best)) best = lib
  return best
}
function private_dir_of(path,    best, d) {
  best = ""
  for (d in is_private)
    if (index(path, d "/") == 1 && length(d) > length(best)) best = d
  return best
}
# reach[a SUBSEP b] = 1 for every library or header b that library a may include.
function visit(from, lib,    n, i, parts) {
  n = split(deps[lib], parts, " ")
  for (i = 1; i <= n; i++) {
    if ((from SUBSEP parts[i]) in reach) continue
    reach[from SUBSEP parts[i]] = 1
    if (parts[i] in is_lib) visit(from, parts[i])
  }
}
function fail(msg) { print msg; failures++ }
BEGIN {
  while ((getline raw < layers) > 0) {
    ++lineno
    sub(/#.*/, "", raw)
    raw = trim(raw)
    if (raw == "") continue
    colon = index(raw, ":")
    if (colon == 0) { fail("docs/layers.txt:" lineno ": expected \"library: dependencies\" or \"private: folders\""); continue }
    name = trim(substr(raw, 1, colon - 1))
    rest = trim(substr(raw, colon + 1))
    gsub(/[ \t]+/, " ", rest)
    if (name == "private") {
      n = split(rest, parts, " ")
      for (i = 1; i <= n; i++) is_private[parts[i]] = 1
      continue
    }
    if (name in is_lib) { fail("docs/layers.txt:" lineno ": library " name " has two lines"); continue }
    is_lib[name] = 1
    deps[name] = rest
    rule[name] = name ": " rest
  }
  for (lib in is_lib) {
    n = split(deps[lib], parts, " ")
    for (i = 1; i <= n; i++) {
      if (parts[i] == "*") { anything[lib] = 1; continue }
      if (parts[i] in is_lib) continue
      if (parts[i] ~ /[.]/ && library_of(parts[i]) != "") continue  # one header of a library
      fail("docs/layers.txt: " lib " depends on " parts[i] ", which is not a library (or a header of one)")
    }
  }
  for (d in is_private)
    if (library_of(d) == "" || library_of(d) == d)
      fail("docs/layers.txt: private folder " d " is not a folder inside a library")
  for (lib in is_lib) visit(lib, lib)
  for (lib in is_lib)
    if ((lib SUBSEP lib) in reach) fail("docs/layers.txt: " lib " depends on itself through its arrows (a cycle)")
}
{
  file = $1; line = $2; target = $3
  rel = substr(file, 5)  # without "src/"
  from = library_of(rel)
  if (from == "") {
    folder = rel; sub(/\/.*/, "", folder)
    if (!(folder in reported_folder)) fail(file ": folder src/" folder " has no line in docs/layers.txt")
    reported_folder[folder] = 1
    next
  }
  if (line == 0) next
  where = file ":" line ": #include \"" target "\": "
  to = library_of(target)
  if (to == "") {
    dir = target; sub(/\/.*/, "", dir)
    fail(where dir "/ is not a library in docs/layers.txt")
    next
  }
  private = private_dir_of(target)
  if (private != "" && library_of(private) != from) {
    fail(where private "/ is private to " library_of(private) " (docs/layers.txt: private: " private ")")
    next
  }
  if (to == from || (from in anything) || ((from SUBSEP to) in reach) || ((from SUBSEP target) in reach)) next
  fail(where from " may not include " to " (docs/layers.txt: " rule[from] ")")
}
END {
  if (failures > 0) {
    print "check-layers: " failures " problem(s) (docs/layers.txt, scripts/check-layers.sh)" > "/dev/stderr"
    exit 1
  }
}'
