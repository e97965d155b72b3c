#include "engine/waiting_queue.h"

#include <algorithm>
#include <tuple>

namespace tern {

bool WaitingQueue::more_important(const Sequence* a, const Sequence* b) {
  return std::tuple(a->request->priority, a->request->arrival_order, a->index) <
         std::tuple(b->request->priority, b->request->arrival_order, b->index);
}

void WaitingQueue::push(Sequence* seq) {
  // Sorted ascending by importance: the first element that seq is more important than.
  const auto pos =
      std::ranges::upper_bound(seqs_, seq, [](const Sequence* a, const Sequence* b) { return more_important(b, a); });
  seqs_.insert(pos, seq);
}

void WaitingQueue::erase(const Sequence* seq) {
  const auto it = std::ranges::find(seqs_, seq);
  if (it != seqs_.end()) seqs_.erase(it);
}

}  // namespace tern
