#include "grammar/compiled_grammar.h"

#include "base/error.h"

namespace tern::grammar {

CompiledGrammar::CompiledGrammar(Automaton automaton, std::shared_ptr<const Vocabulary> vocabulary)
    : automaton_(std::move(automaton)),
      vocabulary_(std::move(vocabulary)),
      masks_(new std::atomic<const NodeMask*>[size_t(automaton_.num_states())]),
      builder_(automaton_, *vocabulary_) {
  for (int32_t s = 0; s < automaton_.num_states(); ++s) masks_[size_t(s)].store(nullptr, std::memory_order_relaxed);
}

CompiledGrammar::~CompiledGrammar() {
  for (int32_t s = 0; s < automaton_.num_states(); ++s) delete masks_[size_t(s)].load(std::memory_order_relaxed);
}

std::shared_ptr<const CompiledGrammar> CompiledGrammar::compile(const Grammar& grammar,
                                                                std::shared_ptr<const Vocabulary> vocabulary,
                                                                const AutomatonLimits& limits) {
  TERN_CHECK(vocabulary != nullptr, "compiling a grammar needs a vocabulary");
  return std::shared_ptr<const CompiledGrammar>(
      new CompiledGrammar(Automaton::build(grammar, limits), std::move(vocabulary)));
}

const NodeMask& CompiledGrammar::build_mask(int32_t state) const {
  TERN_CHECK(automaton_.has_byte_edges(state), "state ", state, " consumes no bytes and has no token mask");
  std::lock_guard lock(build_mutex_);
  if (const NodeMask* mask = masks_[size_t(state)].load(std::memory_order_acquire)) return *mask;
  auto mask = std::make_unique<NodeMask>(builder_.build(state));
  ++num_masks_;
  memory_bytes_ += mask->memory_bytes();
  masks_[size_t(state)].store(mask.get(), std::memory_order_release);
  return *mask.release();
}

size_t CompiledGrammar::num_masks() const {
  std::lock_guard lock(build_mutex_);
  return num_masks_;
}

size_t CompiledGrammar::memory_bytes() const {
  std::lock_guard lock(build_mutex_);
  return memory_bytes_;
}

}  // namespace tern::grammar
