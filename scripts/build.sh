#!/usr/bin/env bash
# Configures and builds tern into ./build (Release with debug info). Uses nvcc from
# /usr/local/cuda when present, so the CUDA backend is compiled where it can be.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null; then export PATH=/usr/local/cuda/bin:$PATH; fi
cmake -S . -B build -G Ninja "$@" >/dev/null
cmake --build build -j"$(nproc)"
