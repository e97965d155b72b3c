#!/usr/bin/env bash
# Installs what building and testing tern needs on Debian 12 (run as root or with sudo).
# CUDA is optional: with nvcc in /usr/local/cuda the CUDA backend is built too.
set -euo pipefail
packages=(build-essential cmake ninja-build pkg-config git ca-certificates
  nlohmann-json3-dev libcli11-dev libboost-dev libpcre2-dev libutf8proc-dev
  libgtest-dev libgmock-dev libbenchmark-dev python3
  nodejs chromium node-ajv  # the server's end-to-end tests (tests/server), its chat page test, JSON-schema checks
  haproxy yamllint  # scale-out tests (tests/deploy): replicas behind HAProxy, the Kubernetes manifests
  prometheus  # promtool checks deploy/prometheus/ and tests/deploy runs Prometheus against two replicas
  clang libclang-rt-dev llvm)  # the sanitizer build and libFuzzer (scripts/check-sanitized.sh); llvm: llvm-symbolizer
# Debian's nodejs comes without npm; a nodejs from elsewhere (NodeSource) brings its own
# and conflicts with Debian's npm package.
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
