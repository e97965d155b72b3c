#include "grammar/choice.h"

#include "base/error.h"

namespace tern::grammar {

Grammar choice_grammar(const std::vector<std::string>& choices) {
  if (choices.empty()) throw error("choice: expected at least one string");
  Grammar g;
  std::vector<ExprId> alts;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i].empty()) throw error("choice[", i, "]: the strings must not be empty");
    alts.push_back(g.bytes(choices[i]));
  }
  const RuleId root = g.add_rule("root");
  g.set_body(root, g.alt(std::move(alts)));
  g.set_root(root);
  return g;
}

}  // namespace tern::grammar
