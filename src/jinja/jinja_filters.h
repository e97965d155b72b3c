// Jinja's builtin filters as transformers sees them (tojson replaced by transformers'
// json.dumps wrapper). Each takes the value before the pipe and the call arguments.
#pragma once

#include <string_view>

#include "jinja/jinja_args.h"
#include "jinja/jinja_value.h"

namespace tern::jinja {

class Interpreter;

using FilterFn = Value (*)(Interpreter& in, const Value& operand, const CallArgs& args);

// nullptr when tern does not implement the filter.
FilterFn find_filter(std::string_view name);
// Whether Jinja 2/transformers defines a filter of that name (implemented or not):
// unknown names fail at compile time, known but unimplemented ones when called.
bool is_known_filter(std::string_view name);

}  // namespace tern::jinja
