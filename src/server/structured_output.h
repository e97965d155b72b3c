// The structured-output fields of a request, and the grammar its completions must match:
//   response_format {"type": "json_object"} or {"type": "json_schema", "json_schema":
//     {"name", "schema", "strict", "description"}} ({"type": "text"}: none);
//   vLLM's structured_outputs {"json" | "regex" | "choice" | "grammar" | "json_object"};
//   vLLM's older guided_json / guided_regex / guided_choice / guided_grammar.
// A request may use one of them. The grammar is compiled here, on the preprocessing
// thread, so a schema that fails is a 400 before anything is queued.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "grammar/compiled_grammar.h"
#include "grammar/grammar.h"
#include "server/json_fields.h"
#include "server/served_model.h"

namespace tern::server {

inline constexpr size_t kMaxChoices = 256;
inline constexpr size_t kMaxGrammarBytes = 64 * 1024;  // regex and grammar text

struct OutputGrammar {
  grammar::Grammar grammar;
  std::string param;  // the field it came from, for errors
};

// The grammar the fields ask for; nullopt when they ask for none. Throws ApiError 400
// naming the field: malformed, two constraints at once, an unsupported schema keyword,
// regex construct or grammar syntax.
std::optional<OutputGrammar> read_output_grammar(const JsonFields& body);

// Compiles through the model's cache. Throws ApiError 400 naming `output.param` when the
// grammar does not compile or matches only the empty output.
std::shared_ptr<const grammar::CompiledGrammar> compile_output_grammar(const OutputGrammar& output,
                                                                       const ServedModel& model);

}  // namespace tern::server
