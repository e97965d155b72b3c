// The waiting sequences, most important first: lower priority value, then earlier
// arrival, then lower index among a request's completions. A preempted sequence keeps its
// arrival order, so it goes back ahead of everything that arrived after it.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/request.h"

namespace tern {

class WaitingQueue {
 public:
  bool empty() const { return seqs_.empty(); }
  size_t size() const { return seqs_.size(); }
  Sequence* front() const { return seqs_.back(); }
  void push(Sequence* seq);
  void pop_front() { seqs_.pop_back(); }
  // Removes `seq` if it is waiting.
  void erase(const Sequence* seq);
  // Least important first.
  const std::vector<Sequence*>& seqs() const { return seqs_; }

  // True when a goes before b.
  static bool more_important(const Sequence* a, const Sequence* b);

 private:
  std::vector<Sequence*> seqs_;  // least important first, so front() is the back
};

}  // namespace tern
