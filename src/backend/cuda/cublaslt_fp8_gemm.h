// out[M, N] = (x_q W_q^T, scaled) (+ bias[N]) through cuBLASLt's FP8 GEMM (Hopper): e4m3
// activations and weights, F32 accumulation (FAST_ACCUM off: the tensor cores' partial sums
// are promoted to F32 regularly), BF16 or F32 output. The scales are applied by cuBLASLt's
// scale modes (cuBLAS 12.9+), the weights being the A operand and the activations B:
//   kOuterVectors: A OUTER_VEC_32F (one scale per weight row, [N]) and
//                  B OUTER_VEC_32F (one per token, [M]);
//   kBlocks128:    A BLK128x128_32F (one per 128 x 128 weight block, stored
//                  [ceil(N / 128)][round_up(K / 128, 4)]: row-major, each block row padded
//                  to a multiple of 4 scales) and
//                  B VEC128_32F (one per token and 128 columns, stored [K / 128][M]:
//                  the tokens of one column block contiguous).
// Hopper FP8 needs "TN": the weight [N, K] row-major is A, the column-major K x N matrix,
// transposed; x [M, K] row-major is B, column-major K x M. One plan per distinct problem,
// as in cublaslt_gemm.h; a problem cuBLASLt has no algorithm for is remembered too, and
// supports() says so before any work is enqueued.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <tuple>

#include "backend/cuda/cublaslt_gemm.h"
#include "tensor/dtype.h"

namespace tern::cuda {

enum class Fp8GemmScaling { kOuterVectors, kBlocks128 };

struct Fp8GemmProblem {
  int64_t m = 0, n = 0, k = 0;
  const void* x = nullptr;          // [m, k] e4m3, row-major
  const float* x_scales = nullptr;  // [m] (kOuterVectors) or [k / 128, m] (kBlocks128)
  const void* w = nullptr;          // [n, k] e4m3, row-major
  const float* w_scales = nullptr;  // [n] or [ceil(n / 128), round_up(k / 128, 4)]
  Fp8GemmScaling scaling = Fp8GemmScaling::kOuterVectors;
  const void* bias = nullptr;  // [n] BF16 with a BF16 output (the epilogue's bias type), else null
  void* out = nullptr;         // [m, n] of out_dtype, row-major
  DType out_dtype = DType::kBF16;
};

class CublasLtFp8Gemm {
 public:
  // Uses `shared`'s handle and workspace; `shared` must outlive this object.
  explicit CublasLtFp8Gemm(const CublasLtGemm& shared) : shared_(shared) {}
  ~CublasLtFp8Gemm();
  CublasLtFp8Gemm(const CublasLtFp8Gemm&) = delete;
  CublasLtFp8Gemm& operator=(const CublasLtFp8Gemm&) = delete;

  // Whether cuBLASLt has an algorithm for the problem (its pointers count only through
  // their alignment). The first call per problem asks the heuristic.
  bool supports(const Fp8GemmProblem& p);
  // Enqueues the product on `stream`; the problem must be supported.
  void run(const Fp8GemmProblem& p, cudaStream_t stream);

 private:
  using Key = std::tuple<int64_t, int64_t, int64_t, DType, bool, Fp8GemmScaling, int, int, int>;
  struct Plan {
    bool found = false;
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t w_layout = nullptr, x_layout = nullptr, out_layout = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  Plan& plan_for(const Fp8GemmProblem& p);

  const CublasLtGemm& shared_;
  std::map<Key, Plan> plans_;
};

}  // namespace tern::cuda
