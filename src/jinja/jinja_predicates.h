// Jinja's builtin predicates, which Jinja calls "tests": the right side of `is` (`x is defined`,
// `x is divisibleby 3`) and the test names of select('equalto', y).
#pragma once

#include <string_view>

#include "jinja/jinja_args.h"
#include "jinja/jinja_value.h"

namespace tern::jinja {

class Interpreter;

using TestFn = bool (*)(Interpreter& in, const Value& operand, const CallArgs& args);

// nullptr when tern does not implement the test.
TestFn find_test(std::string_view name);
// Whether Jinja defines a test of that name (implemented or not).
bool is_known_test(std::string_view name);

}  // namespace tern::jinja
