// CudaBackend::gather_rows and the row-gather kernel it shares with embedding (embedding.cu).
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/gather_rows.cuh"

namespace tern::cuda {
namespace {

// One block per output row; Word is the widest access the row size and pointers allow.
template <typename Word>
__global__ void gather_rows_kernel(const Word* __restrict__ x, int64_t num_rows, int64_t row_words,
                                   const int32_t* __restrict__ indices, Word* __restrict__ out) {
  pdl_start();
  const int64_t i = blockIdx.x;
  const int32_t index = indices[i];
  Word* dst = out + i * row_words;
  if (index < 0 || index >= num_rows) {
    Word nan_bytes;
    memset(&nan_bytes, 0xFF, sizeof(Word));
    for (int64_t w = threadIdx.x; w < row_words; w += blockDim.x) dst[w] = nan_bytes;
    return;
  }
  const Word* src = x + int64_t(index) * row_words;
  for (int64_t w = threadIdx.x; w < row_words; w += blockDim.x) dst[w] = src[w];
}

template <typename Word>
void launch_words(const void* x, int64_t num_rows, size_t row_bytes, const int32_t* indices, int64_t count, void* out,
                  cudaStream_t stream) {
  const int64_t row_words = int64_t(row_bytes / sizeof(Word));
  const int threads = int(std::min<int64_t>(256, std::max<int64_t>(32, (row_words + 31) / 32 * 32)));
  launch(gather_rows_kernel<Word>, unsigned(count), threads, 0, stream, static_cast<const Word*>(x), num_rows,
         row_words, indices, static_cast<Word*>(out));
}

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

}  // namespace

void launch_gather_rows(const void* x, int64_t num_rows, size_t row_bytes, const int32_t* indices, int64_t count,
                        void* out, cudaStream_t stream) {
  if (count == 0) return;
  auto fits = [&](size_t word) { return row_bytes % word == 0 && aligned(x, word) && aligned(out, word); };
  if (fits(16)) return launch_words<uint4>(x, num_rows, row_bytes, indices, count, out, stream);
  if (fits(4)) return launch_words<uint32_t>(x, num_rows, row_bytes, indices, count, out, stream);
  if (fits(2)) return launch_words<uint16_t>(x, num_rows, row_bytes, indices, count, out, stream);
  launch_words<uint8_t>(x, num_rows, row_bytes, indices, count, out, stream);
}

}  // namespace tern::cuda

namespace tern {

void CudaBackend::gather_rows(const Tensor& x, const Tensor& indices, const Tensor& out) {
  cuda::expect(indices, DType::kI32, "gather_rows", "indices");
  cuda::expect(x, x.dtype, "gather_rows", "x");
  cuda::expect(out, x.dtype, "gather_rows", "out");
  cuda::expect_matrix(out, indices.numel(), x.cols(), "gather_rows", "out");
  use_device();
  cuda::launch_gather_rows(x.data, x.rows(), size_t(x.cols()) * dtype_size(x.dtype), indices.ptr<const int32_t>(),
                           indices.numel(), out.data, stream_);
}

}  // namespace tern
