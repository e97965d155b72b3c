// CudaBackend::mask_logits: structured output's token bitmask applied to the logits on
// the device, so the sampler (top_k, or the host copy of the rows) never sees a token the
// grammar forbids. One thread per 32-column word: it reads the word once and writes -inf
// over the forbidden columns of its 32.
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"

namespace tern {
namespace {

constexpr int kThreads = 256;

// grid (ceil(words_in_row / kThreads), N): one mask row per blockIdx.y.
__global__ void mask_logits_kernel(float* logits, int64_t vocab, const int32_t* rows, const uint32_t* masks,
                                   int64_t mask_words) {
  cuda::pdl_start();
  const int64_t i = blockIdx.y;
  const int64_t word = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  const int64_t first = word * 32;
  if (first >= vocab) return;
  const uint32_t bits = word < mask_words ? masks[i * mask_words + word] : 0u;
  if (bits == 0xffffffffu) return;
  float* row = logits + int64_t(rows[i]) * vocab;
  const int64_t end = first + 32 < vocab ? first + 32 : vocab;
  for (int64_t c = first; c < end; ++c)
    if (!((bits >> (c - first)) & 1u)) row[c] = -INFINITY;
}

}  // namespace

void CudaBackend::mask_logits(const Tensor& logits, const Tensor& rows, const Tensor& masks) {
  const char* op = "mask_logits";
  cuda::expect(logits, DType::kF32, op, "logits");
  cuda::expect(rows, DType::kI32, op, "rows");
  cuda::expect(masks, DType::kI32, op, "masks");
  cuda::expect_matrix(masks, rows.numel(), masks.cols(), op, "masks");
  const int64_t n = rows.numel();
  if (n == 0) return;
  use_device();
  const int64_t words_in_row = (logits.cols() + 31) / 32;
  const dim3 grid(unsigned((words_in_row + kThreads - 1) / kThreads), unsigned(n));
  cuda::launch(mask_logits_kernel, grid, kThreads, 0, stream_, logits.ptr<float>(), logits.cols(),
               rows.ptr<const int32_t>(), reinterpret_cast<const uint32_t*>(masks.ptr<const int32_t>()), masks.cols());
}

}  // namespace tern
