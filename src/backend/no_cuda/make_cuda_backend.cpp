#include "backend/cuda_factory.h"
#include "base/error.h"

namespace tern {

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions&) {
  throw error("backend 'cuda' is not available: this tern was built without CUDA "
              "(rebuild with nvcc installed, or -DTERN_CUDA=ON)");
}

std::vector<std::unique_ptr<Communicator>> make_nccl_communicators(const std::vector<Backend*>&) {
  throw error("NCCL communicators are not available: this tern was built without CUDA");
}

}  // namespace tern
