#include "backend/communicator.h"
#include "backend/cpu/cpu_communicator.h"
#include "backend/cuda_factory.h"
#include "base/error.h"

namespace tern {

std::vector<std::unique_ptr<Communicator>> make_communicators(const std::vector<Backend*>& backends) {
  TERN_CHECK(!backends.empty());
  const Device device = backends[0]->device();
  for (Backend* b : backends)
    if (b->device() != device)
      throw error("a tensor-parallel group needs one kind of backend, got ", backends[0]->name(), " and ", b->name());
  if (device == Device::kCpu) return make_cpu_communicators(int(backends.size()));
  return make_nccl_communicators(backends);
}

}  // namespace tern
