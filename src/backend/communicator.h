// Collectives among the ranks of a tensor-parallel group: one Communicator per rank, each
// bound to that rank's backend. Every rank must make the same calls in the same order with
// tensors of the same shapes (the model forward does, in lockstep); a rank that calls alone
// waits for the others.
//
// Calls are enqueued like backend ops: on CUDA they run on the backend's stream, ordered
// with the ops around them, and can be captured into a CUDA graph. On the CPU they run at
// once, meeting the other ranks' threads at a barrier.
#pragma once

#include <memory>
#include <vector>

#include "backend/backend.h"

namespace tern {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;

  // x = the sum of every rank's x, in place, in x's dtype (the activation dtype); every
  // rank ends with bit-identical values. x is dense on this rank's device.
  virtual void all_reduce_sum(const Tensor& x) = 0;

  // Concatenates the ranks' column blocks: local [R, C] on every rank (the same R and C),
  // out [R, W] with (size - 1) * C < W <= size * C. Column j of rank r's local lands in
  // column r * C + j of out when that is < W (the last rank's block may be cut short: a
  // vocabulary that does not divide evenly). Every rank gets the whole of out.
  virtual void all_gather_columns(const Tensor& local, const Tensor& out) = 0;

  // Releases every rank waiting in a collective, now and later, with an error: called when
  // one rank failed and the others would wait forever. The group is unusable afterwards.
  virtual void abort() = 0;
};

// One communicator per backend, rank i bound to backends[i]: in-process for CPU backends,
// NCCL for CUDA backends (one GPU each, all different). NCCL's NVLink multicast (NVLS) is
// always off. Throws tern::Error for a mix of backends, a build without CUDA, or an NCCL
// library that cannot be loaded or initialised.
std::vector<std::unique_ptr<Communicator>> make_communicators(const std::vector<Backend*>& backends);

}  // namespace tern
