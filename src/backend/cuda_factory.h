// Entry point to the CUDA backend. Implemented in backend/cuda/ when tern is built with
// CUDA, and by backend/no_cuda/ otherwise (it then throws "not compiled with CUDA").
#pragma once

#include <memory>

#include "backend/backend.h"

namespace tern {

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options);

}  // namespace tern
