#include "backend/cuda_factory.h"
#include "base/error.h"

namespace tern {

std::vector<std::unique_ptr<Communicator>> make_nccl_communicators(const std::vector<Backend*>&) {
  throw error("tensor parallelism on CUDA is not available: this tern was built without NCCL's header (nccl.h was "
              "not found beside the CUDA toolkit's headers; install NCCL's development files and rebuild)");
}

}  // namespace tern
