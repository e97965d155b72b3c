#include <limits>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/op_support.h"

namespace tern {

void CpuBackend::mask_logits(const Tensor& logits, const Tensor& rows, const Tensor& masks) {
  cpu::expect(logits, DType::kF32, "mask_logits", "logits");
  cpu::expect(rows, DType::kI32, "mask_logits", "rows");
  cpu::expect(masks, DType::kI32, "mask_logits", "masks");
  const int64_t vocab = logits.cols(), words = masks.cols();
  TERN_CHECK(masks.rows() == rows.numel(), "mask_logits: ", rows.numel(), " rows but ", masks.rows(), " masks");
  for (int64_t i = 0; i < rows.numel(); ++i) {
    const int32_t r = rows.ptr<const int32_t>()[i];
    TERN_CHECK(r >= 0 && r < logits.rows(), "mask_logits: row ", r, " of ", logits.rows());
    float* row = logits.ptr<float>() + r * vocab;
    const uint32_t* mask = reinterpret_cast<const uint32_t*>(masks.ptr<const int32_t>()) + i * words;
    for (int64_t c = 0; c < vocab; ++c) {
      const bool allowed = c < words * 32 && ((mask[c / 32] >> (c % 32)) & 1u);
      if (!allowed) row[c] = -std::numeric_limits<float>::infinity();
    }
  }
}

}  // namespace tern
