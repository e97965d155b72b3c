// CudaBackend::adjust_logits: sampling penalties, logit_bias and banned tokens applied to
// the logits on the device, so that top_k picks from the penalised rows and the host never
// copies a full row for them. One thread per (row, token) target; targets are distinct.
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/logit_adjustment.h"

namespace tern {
namespace {

constexpr int kThreads = 256;

__global__ void adjust_logits_kernel(float* logits, int64_t vocab, const int32_t* targets, const float* amounts,
                                     int64_t n) {
  cuda::pdl_start();
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  float& x = logits[int64_t(targets[2 * i]) * vocab + targets[2 * i + 1]];
  x = adjust_logit(x, amounts[3 * i], amounts[3 * i + 1], amounts[3 * i + 2]);
}

}  // namespace

void CudaBackend::adjust_logits(const Tensor& logits, const Tensor& targets, const Tensor& amounts) {
  const char* op = "adjust_logits";
  cuda::expect(logits, DType::kF32, op, "logits");
  cuda::expect(targets, DType::kI32, op, "targets");
  cuda::expect(amounts, DType::kF32, op, "amounts");
  const int64_t n = targets.rows();
  cuda::expect_matrix(targets, n, 2, op, "targets");
  cuda::expect_matrix(amounts, n, 3, op, "amounts");
  if (n == 0) return;
  use_device();
  cuda::launch(adjust_logits_kernel, dim3(cuda::ceil_div(n, kThreads)), kThreads, 0, stream_, logits.ptr<float>(),
               logits.cols(), targets.ptr<const int32_t>(), amounts.ptr<const float>(), n);
}

}  // namespace tern
