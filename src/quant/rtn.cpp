#include "quant/rtn.h"

#include <algorithm>
#include <vector>

#include "base/error.h"
#include "base/thread_pool.h"
#include "quant/group_quantizer.h"
#include "tensor/convert.h"

namespace tern {

Int4Weight quantize_rtn(const Tensor& weight, const QuantizeOptions& options) {
  if (weight.ndim != 2) throw error("quantize: weight ", weight.shape_str(), " is not a matrix");
  const int64_t n = weight.dim(0), k = weight.dim(1);
  Int4Weight w = make_host_int4(n, k, options.group_size < 0 ? k : options.group_size);
  const int64_t groups = w.num_groups();
  ThreadPool::global().parallel_for(n, 8, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t j = begin; j < end; ++j) {
      read_as_f32(weight, j * k, k, row.data());
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t first = g * w.group_size, last = std::min(k, first + w.group_size);
        const GroupGrid grid = find_group_grid(row.data() + first, last - first, options.sym);
        w.scales.ptr<float>()[j * groups + g] = grid.scale;
        w.zeros.ptr<uint8_t>()[j * groups + g] = uint8_t(grid.zero);
        for (int64_t i = first; i < last; ++i) set_int4_code(w, j, i, quantize_to_grid(row[size_t(i)], grid));
      }
    }
  });
  return w;
}

}  // namespace tern
