// CudaBackend::embedding_slice: the vocabulary-parallel embedding. A token whose id falls
// in this rank's slice of the table copies its row; any other token gets a row of zeros,
// which the all-reduce after it fills in from the rank that holds the id.
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/embedding_slice.cuh"

namespace tern::cuda {
namespace {

// One block per token; Word is the widest access the row size and pointers allow.
template <typename Word>
__global__ void embedding_slice_kernel(const Word* __restrict__ table, int64_t num_rows, int64_t row_words,
                                       const int32_t* __restrict__ ids, int64_t first_id, Word* __restrict__ out) {
  pdl_start();
  const int64_t t = blockIdx.x;
  const int64_t row = int64_t(ids[t]) - first_id;
  Word* dst = out + t * row_words;
  if (row < 0 || row >= num_rows) {
    Word zero;
    memset(&zero, 0, sizeof(Word));
    for (int64_t w = threadIdx.x; w < row_words; w += blockDim.x) dst[w] = zero;
    return;
  }
  const Word* src = table + row * row_words;
  for (int64_t w = threadIdx.x; w < row_words; w += blockDim.x) dst[w] = src[w];
}

template <typename Word>
void launch_words(const void* table, int64_t num_rows, size_t row_bytes, const int32_t* ids, int64_t count,
                  int64_t first_id, void* out, cudaStream_t stream) {
  const int64_t row_words = int64_t(row_bytes / sizeof(Word));
  const int threads = int(std::min<int64_t>(256, std::max<int64_t>(32, (row_words + 31) / 32 * 32)));
  launch(embedding_slice_kernel<Word>, unsigned(count), threads, 0, stream, static_cast<const Word*>(table), num_rows,
         row_words, ids, first_id, static_cast<Word*>(out));
}

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

}  // namespace

void launch_embedding_slice(const void* table, int64_t num_rows, size_t row_bytes, const int32_t* ids, int64_t count,
                            int64_t first_id, void* out, cudaStream_t stream) {
  if (count == 0) return;
  const auto fits = [&](size_t word) { return row_bytes % word == 0 && aligned(table, word) && aligned(out, word); };
  if (fits(16)) return launch_words<uint4>(table, num_rows, row_bytes, ids, count, first_id, out, stream);
  if (fits(4)) return launch_words<uint32_t>(table, num_rows, row_bytes, ids, count, first_id, out, stream);
  launch_words<uint16_t>(table, num_rows, row_bytes, ids, count, first_id, out, stream);
}

}  // namespace tern::cuda

namespace tern {

void CudaBackend::embedding_slice(const Tensor& ids, const Tensor& table, int64_t first_id, const Tensor& out) {
  const char* op = "embedding_slice";
  cuda::expect(ids, DType::kI32, op, "ids");
  cuda::expect(table, DType::kBF16, op, "table");
  cuda::expect(out, DType::kBF16, op, "out");
  cuda::expect_matrix(out, ids.numel(), table.dim(1), op, "out");
  use_device();
  cuda::launch_embedding_slice(table.data, table.dim(0), size_t(table.dim(1)) * 2, ids.ptr<const int32_t>(),
                               ids.numel(), first_id, out.data, stream_);
}

}  // namespace tern
