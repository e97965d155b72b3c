#include <algorithm>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/op_support.h"

namespace tern {

void CpuBackend::embedding(const Tensor& ids, const Tensor& table, const Tensor& out) {
  cpu::expect(ids, DType::kI32, "embedding", "ids");
  cpu::expect_float(table, "embedding", "table");
  cpu::expect(out, DType::kF32, "embedding", "out");
  const int64_t vocab = table.dim(0), hidden = table.dim(1);
  TERN_CHECK(out.rows() == ids.numel() && out.cols() == hidden, "embedding out ", out.shape_str());
  for (int64_t t = 0; t < ids.numel(); ++t) {
    int32_t id = ids.ptr<const int32_t>()[t];
    if (id < 0 || id >= vocab) throw error("embedding: token id ", id, " is outside the vocabulary of ", vocab);
    cpu::widen(table, int64_t(id) * hidden, hidden, out.ptr<float>() + t * hidden);
  }
}

void CpuBackend::embedding_slice(const Tensor& ids, const Tensor& table, int64_t first_id, const Tensor& out) {
  cpu::expect(ids, DType::kI32, "embedding_slice", "ids");
  cpu::expect_float(table, "embedding_slice", "table");
  cpu::expect(out, DType::kF32, "embedding_slice", "out");
  const int64_t rows = table.dim(0), hidden = table.dim(1);
  TERN_CHECK(out.rows() == ids.numel() && out.cols() == hidden, "embedding_slice out ", out.shape_str());
  for (int64_t t = 0; t < ids.numel(); ++t) {
    const int64_t row = int64_t(ids.ptr<const int32_t>()[t]) - first_id;
    float* dst = out.ptr<float>() + t * hidden;
    if (row >= 0 && row < rows)
      cpu::widen(table, row * hidden, hidden, dst);
    else
      std::fill_n(dst, hidden, 0.0f);
  }
}

}  // namespace tern
