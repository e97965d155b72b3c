// CudaBackend::linear for INT4 weights and their upload: the W4A16 GEMM on sm_90 GPUs
// (w4a16_gemm.cuh), for every number of rows; on older GPUs, dequantise into a reused BF16
// buffer and run cuBLASLt. Act-order weights first gather x's columns into the weights'
// column order.
#include <cuda_fp16.h>

#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/int4_tiles.h"
#include "backend/cuda/linear_int4.cuh"
#include "backend/cuda/w4a16_gemm.cuh"

namespace tern::cuda {
namespace {

// One thread per 16-byte lane word (int4_tiles.h): rows L/4 and L/4 + 8 of its tile,
// and for each k16 step the column pairs 2 (L%4) and 2 (L%4) + 8, written as bf16 pairs.
__global__ void int4_dequantize_kernel(const uint4* __restrict__ tiles, const int32_t* __restrict__ words,
                                       __nv_bfloat16* __restrict__ out, int n, int k, int group_shift,
                                       int num_groups) {
  pdl_start();
  const int col_tiles = k / kInt4TileCols;
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= int64_t(n / kInt4TileRows) * col_tiles * 32) return;
  const int lane = int(index % 32);
  const int64_t tile = index / 32;
  const int col_tile = int(tile % col_tiles), row_tile = int(tile / col_tiles);
  const uint4 codes = __ldcs(tiles + index);
#pragma unroll
  for (int step = 0; step < 4; ++step) {
    const uint32_t word = (&codes.x)[step];
#pragma unroll
    for (int j = 0; j < 4; ++j) {  // nibbles j and j + 4: columns col and col + 1 of one row
      const int row = row_tile * kInt4TileRows + lane / 4 + 8 * (j % 2);
      const int col = col_tile * kInt4TileCols + 16 * step + 2 * (lane % 4) + 8 * (j / 2);
      const uint32_t w = uint32_t(__ldg(words + (int64_t(row_tile) * num_groups + (col >> group_shift)) * kInt4TileRows +
                                         row % kInt4TileRows));
      const float scale = __bfloat162float(__ushort_as_bfloat16(uint16_t(w & 0xFFFFu)));
      const int zero = int(__bfloat162float(__ushort_as_bfloat16(uint16_t(w >> 16)))) - 128;
      const int q0 = int((word >> (4 * j)) & 0xFu), q1 = int((word >> (4 * (j + 4))) & 0xFu);
      *reinterpret_cast<__nv_bfloat162*>(out + int64_t(row) * k + col) =
          __floats2bfloat162_rn(scale * float(q0 - zero), scale * float(q1 - zero));
    }
  }
}

__global__ void gather_columns_kernel(const __nv_bfloat16* __restrict__ x, const int32_t* __restrict__ order, int64_t m,
                                      int64_t k, __nv_bfloat16* __restrict__ out) {
  pdl_start();
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= m * k) return;
  const int64_t row = index / k, col = index % k;
  out[index] = x[row * k + __ldg(order + col)];
}

}  // namespace

void launch_int4_dequantize(const Int4Problem& p, void* out, cudaStream_t stream) {
  const int64_t threads = p.n / kInt4TileRows * (p.k / kInt4TileCols) * 32;
  const int shift = p.num_groups == 1 ? 30 : __builtin_ctzll(uint64_t(p.group_size));
  launch(int4_dequantize_kernel, ceil_div(threads, 256), 256, 0, stream, static_cast<const uint4*>(p.tiles), p.words,
         static_cast<__nv_bfloat16*>(out), int(p.n), int(p.k), shift, int(p.num_groups));
}

void launch_gather_columns(const void* x, const int32_t* order, int64_t m, int64_t k, void* out, cudaStream_t stream) {
  launch(gather_columns_kernel, ceil_div(m * k, 256), 256, 0, stream, static_cast<const __nv_bfloat16*>(x), order, m, k,
         static_cast<__nv_bfloat16*>(out));
}

}  // namespace tern::cuda

namespace tern {

Int4Weight CudaBackend::upload_int4(const Int4Weight& host) {
  Int4Weight tiles = cuda::pack_int4_tiles(host);
  for (Tensor* t : {&tiles.codes, &tiles.scales, &tiles.group_index})
    if (!t->empty()) *t = upload(*t, t->dtype);
  return tiles;
}

void CudaBackend::linear_int4(const Tensor& x, const LinearWeight& w, const Tensor& out) {
  const char* op = "linear (INT4)";
  const Int4Weight& q = w.int4;
  if (q.layout != Int4Layout::kMmaTiles || q.codes.device != Device::kCuda)
    throw error("cuda linear: the INT4 weight was not uploaded with CudaBackend::upload_int4");
  cuda::expect(x, DType::kBF16, op, "x");
  if (out.device != Device::kCuda || (out.dtype != DType::kBF16 && out.dtype != DType::kF32))
    throw error("cuda linear: out must be a CUDA BF16 or F32 tensor, got ", dtype_name(out.dtype));
  const int64_t m = x.rows(), k = x.cols(), n = q.out_features();
  if (q.in_features() != k || out.rows() != m || out.cols() != n)
    throw error("cuda linear: x ", x.shape_str(), " times INT4 weight [", n, ", ", q.in_features(), "] into out ",
                out.shape_str());
  if (!w.bias.empty()) {
    cuda::expect(w.bias, out.dtype, op, "bias (in the output's dtype)");
    cuda::expect_matrix(w.bias, 1, n, op, "bias");
  }
  if (m == 0) return;
  use_device();
  // The GEMM reads x with the copy engine, which needs a 16-byte aligned base (rows are:
  // k % 64 == 0); act-order weights need x's columns in their order. Either way x goes
  // through one reused buffer.
  const void* input = x.data;
  const bool aligned = reinterpret_cast<uintptr_t>(input) % 16 == 0;
  if (!q.group_index.empty() || !aligned) {
    void* staged = int4_columns_workspace_.get(size_t(m * k) * 2, stream_);
    if (!q.group_index.empty())
      cuda::launch_gather_columns(x.data, q.group_index.ptr<const int32_t>(), m, k, staged, stream_);
    else
      CUDA_CHECK(cudaMemcpyAsync(staged, x.data, size_t(m * k) * 2, cudaMemcpyDeviceToDevice, stream_));
    input = staged;
  }
  const void* bias = w.bias.empty() ? nullptr : w.bias.data;
  if (w4a16_) {
    const cuda::W4Schedule schedule = cuda::w4a16_schedule(m, n, k, *w4a16_);
    cuda::launch_w4a16_gemm(
        {.m = m,
         .n = n,
         .k = k,
         .x = input,
         .tiles = q.codes.data,
         .words = q.scales.ptr<const int32_t>(),
         .group_size = q.group_size,
         .num_groups = q.num_groups(),
         .bias = bias,
         .out = out.data,
         .out_dtype = out.dtype,
         .partials = static_cast<float*>(
             int4_partials_workspace_.get(cuda::w4a16_partials_bytes(n, k, *w4a16_), stream_)),
         .counters = static_cast<int*>(int4_counters_workspace_.get(cuda::w4a16_counters_bytes(n), stream_))},
        schedule, stream_);
    return;
  }
  void* dense = int4_dense_workspace_.get(size_t(n * k) * 2, stream_);
  cuda::launch_int4_dequantize({.n = n,
                                .k = k,
                                .tiles = q.codes.data,
                                .words = q.scales.ptr<const int32_t>(),
                                .group_size = q.group_size,
                                .num_groups = q.num_groups()},
                               dense, stream_);
  gemm_->run({.m = m, .n = n, .k = k, .x = input, .w = dense, .bias = bias, .out = out.data, .out_dtype = out.dtype},
             stream_);
}

}  // namespace tern
