// Global functions of transformers' chat-template environment: Jinja's range, dict
// and namespace, plus transformers' raise_exception and strftime_now. range() keeps
// the sandbox's MAX_RANGE of 100000 items.
#pragma once

#include <optional>
#include <string_view>

#include "base/error.h"
#include "jinja/jinja_args.h"
#include "jinja/jinja_value.h"

namespace tern::jinja {

class Interpreter;

enum class Builtin { kRange, kDict, kNamespace, kRaiseException, kStrftimeNow };

std::optional<Builtin> find_builtin(std::string_view name);
Value call_builtin(Interpreter& in, Builtin builtin, const CallArgs& args);

// Thrown by raise_exception(): "chat template: <the template's message>", passed to the
// caller without the line prefix other runtime errors get.
class TemplateRaised : public tern::Error {
 public:
  using tern::Error::Error;
};

}  // namespace tern::jinja
