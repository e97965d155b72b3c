#include "quant/packed_linear.h"

#include <vector>

#include "base/error.h"
#include "tensor/convert.h"

namespace tern {

Int4Weight unpack_linear(const PackedLinear& packed, const QuantizationConfig& config, int64_t out_features,
                         int64_t in_features) {
  return config.method == QuantMethod::kGptq ? unpack_gptq(packed, config, out_features, in_features)
                                             : unpack_awq(packed, config, out_features, in_features);
}

void expect_packed_tensor(const PackedLinear& packed, const Tensor& t, const char* suffix, DType dtype,
                          std::initializer_list<int64_t> shape, const char* layout) {
  const Tensor want = make_view(nullptr, dtype, Device::kCpu, shape);
  bool same = t.ndim == want.ndim;
  for (int i = 0; same && i < t.ndim; ++i) same = t.shape[i] == want.shape[i];
  const bool float_ok =
      dtype == DType::kF16 && (t.dtype == DType::kF16 || t.dtype == DType::kBF16 || t.dtype == DType::kF32);
  if (t.dtype != dtype && !float_ok)
    throw error(packed.source, ": tensor '", packed.name, ".", suffix, "': dtype ", dtype_name(t.dtype), " where ",
                dtype_name(dtype), " is expected (", layout, ")");
  if (!same)
    throw error(packed.source, ": tensor '", packed.name, ".", suffix, "': shape ", t.shape_str(), " but ",
                want.shape_str(), " is expected (", layout, ")");
}

void unpack_scales(const PackedLinear& packed, const Int4Weight& weight) {
  const int64_t n = weight.out_features(), groups = weight.num_groups();
  std::vector<float> row(static_cast<size_t>(n));
  float* scales = weight.scales.ptr<float>();
  for (int64_t g = 0; g < groups; ++g) {
    read_as_f32(packed.scales, g * n, n, row.data());
    for (int64_t j = 0; j < n; ++j) scales[j * groups + g] = row[size_t(j)];
  }
}

}  // namespace tern
