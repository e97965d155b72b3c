// The in-process communicator of the CPU backend: the ranks are threads of one process
// that meet at a barrier and read each other's buffers. It makes tensor parallelism run,
// and its sharding testable, without GPUs.
#pragma once

#include <memory>
#include <vector>

#include "backend/communicator.h"

namespace tern {

// A group of `size` communicators sharing one barrier; rank i is element i. Each must be
// used from its own thread (a rank that runs alone waits at the barrier for the others).
std::vector<std::unique_ptr<Communicator>> make_cpu_communicators(int size);

}  // namespace tern
