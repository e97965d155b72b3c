// CudaBackend::embedding: the table's rows of the ids, through the shared row-gather
// kernel (gather_rows.cuh).
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/gather_rows.cuh"

namespace tern {

void CudaBackend::embedding(const Tensor& ids, const Tensor& table, const Tensor& out) {
  cuda::expect(ids, DType::kI32, "embedding", "ids");
  cuda::expect(table, DType::kBF16, "embedding", "table");
  cuda::expect(out, DType::kBF16, "embedding", "out");
  cuda::expect_matrix(out, ids.numel(), table.dim(1), "embedding", "out");
  use_device();
  cuda::launch_gather_rows(table.data, table.dim(0), size_t(table.dim(1)) * 2, ids.ptr<const int32_t>(), ids.numel(),
                           out.data, stream_);
}

}  // namespace tern
