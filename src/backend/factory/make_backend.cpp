#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cuda_factory.h"
#include "base/error.h"

namespace tern {

std::unique_ptr<Backend> make_backend(std::string_view name, const BackendOptions& options) {
  if (name == "cpu") return std::make_unique<CpuBackend>(options.num_threads);
  if (name == "cuda") return make_cuda_backend(options);
  throw error("unknown backend '", name, "' (supported: cpu, cuda)");
}

}  // namespace tern
