# shellcheck shell=bash
# Sourced by the GPU scripts: NCCL for tensor parallelism. NVLink multicast stays off, and
# tern (which opens libnccl.so.2 at run time) is pointed at the nvidia-nccl pip package's
# library when neither the CUDA toolkit nor the system has one.
export NCCL_NVLS_ENABLE=0
if [ -z "${TERN_NCCL_LIBRARY:-}" ] && ! ls /usr/local/cuda/lib64/libnccl.so.2 >/dev/null 2>&1 \
   && ! ldconfig -p 2>/dev/null | grep -q libnccl.so.2; then
  NCCL_DIR=$(python3 -c "import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], 'lib'))" 2>/dev/null)
  if [ -n "$NCCL_DIR" ] && [ -f "$NCCL_DIR/libnccl.so.2" ]; then export TERN_NCCL_LIBRARY=$NCCL_DIR/libnccl.so.2; fi
fi
echo "NCCL library: ${TERN_NCCL_LIBRARY:-found by the loader (toolkit or system)}"
