// Entry points to the CUDA backend. Implemented in backend/cuda/ when tern is built with
// CUDA, and by backend/no_cuda/ otherwise (they then throw "not compiled with CUDA").
#pragma once

#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/communicator.h"

namespace tern {

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options);

// NCCL communicators for CUDA backends on distinct GPUs (backend/communicator.h).
std::vector<std::unique_ptr<Communicator>> make_nccl_communicators(const std::vector<Backend*>& backends);

}  // namespace tern
