#include "backend/cuda/act_mul.cuh"
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"

namespace tern::cuda {
namespace {

constexpr int kThreads = 256;

// The CPU twin's definitions (backend/cpu/act_mul.cpp).
template <Activation kAct>
__device__ __forceinline__ float activate(float x) {
  if constexpr (kAct == Activation::kSilu) {
    return x / (1.0f + expf(-x));
  } else if constexpr (kAct == Activation::kGelu) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
  } else {
    constexpr float kSqrt2OverPi = 0.79788456080286536f;
    return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
  }
}

// Each thread handles kVec consecutive outputs of one row (8: 16-byte accesses).
template <Activation kAct, int kVec>
__global__ void __launch_bounds__(kThreads) act_mul_kernel(const __nv_bfloat16* __restrict__ gate_up, int64_t rows,
                                                           int64_t cols, __nv_bfloat16* __restrict__ out) {
  pdl_start();
  struct alignas(2 * kVec) Pack {
    __nv_bfloat16 v[kVec];
  };
  const int64_t packs_per_row = cols / kVec;
  const int64_t total = rows * packs_per_row;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < total; i += int64_t(gridDim.x) * kThreads) {
    const int64_t row = i / packs_per_row, col = (i % packs_per_row) * kVec;
    const __nv_bfloat16* gate = gate_up + row * 2 * cols + col;
    const Pack g = *reinterpret_cast<const Pack*>(gate);
    const Pack u = *reinterpret_cast<const Pack*>(gate + cols);
    Pack o;
    for (int j = 0; j < kVec; ++j) {
      o.v[j] = __float2bfloat16(activate<kAct>(__bfloat162float(g.v[j])) * __bfloat162float(u.v[j]));
    }
    *reinterpret_cast<Pack*>(out + row * cols + col) = o;
  }
}

template <Activation kAct, int kVec>
void launch_vec(const __nv_bfloat16* gate_up, int64_t rows, int64_t cols, __nv_bfloat16* out, cudaStream_t stream) {
  const int64_t total = rows * (cols / kVec);
  const unsigned blocks = unsigned(std::min<int64_t>((total + kThreads - 1) / kThreads, 65536));
  launch(act_mul_kernel<kAct, kVec>, blocks, kThreads, 0, stream, gate_up, rows, cols, out);
}

template <Activation kAct>
void launch_act(const __nv_bfloat16* gate_up, int64_t rows, int64_t cols, __nv_bfloat16* out, cudaStream_t stream) {
  auto aligned16 = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (cols % 8 == 0 && aligned16(gate_up) && aligned16(out))
    launch_vec<kAct, 8>(gate_up, rows, cols, out, stream);
  else
    launch_vec<kAct, 1>(gate_up, rows, cols, out, stream);
}

}  // namespace

void launch_act_mul(const __nv_bfloat16* gate_up, int64_t rows, int64_t cols, __nv_bfloat16* out, Activation act,
                    cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  switch (act) {
    case Activation::kSilu:
      return launch_act<Activation::kSilu>(gate_up, rows, cols, out, stream);
    case Activation::kGelu:
      return launch_act<Activation::kGelu>(gate_up, rows, cols, out, stream);
    case Activation::kGeluTanh:
      return launch_act<Activation::kGeluTanh>(gate_up, rows, cols, out, stream);
  }
}

}  // namespace tern::cuda

namespace tern {

void CudaBackend::act_mul(const Tensor& gate_up, const Tensor& out, Activation act) {
  cuda::expect(gate_up, DType::kBF16, "act_mul", "gate_up");
  cuda::expect(out, DType::kBF16, "act_mul", "out");
  cuda::expect_matrix(gate_up, out.rows(), 2 * out.cols(), "act_mul", "gate_up");
  use_device();
  cuda::launch_act_mul(gate_up.ptr<const __nv_bfloat16>(), out.rows(), out.cols(), out.ptr<__nv_bfloat16>(), act,
                       stream_);
}

}  // namespace tern
