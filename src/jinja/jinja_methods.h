// Methods templates call on values: str (startswith, split, strip, replace, ...), dict
// (items, keys, values, get) and list.append. Only these exist; any other attribute
// of a value is an item lookup or Undefined, never a host attribute.
//
// list.append mutates the list in place, as in Python. transformers' immutable sandbox
// refuses it, llama.cpp and vLLM templates use it; tern allows it.
#pragma once

#include <optional>
#include <string_view>

#include "jinja/jinja_args.h"
#include "jinja/jinja_value.h"

namespace tern::jinja {

class Interpreter;

enum class Method {
  // str
  kStartswith,
  kEndswith,
  kSplit,
  kRsplit,
  kStrip,
  kLstrip,
  kRstrip,
  kUpper,
  kLower,
  kTitle,
  kCapitalize,
  kReplace,
  kCount,
  kFind,
  kJoin,
  kSplitlines,
  kFormat,
  kIsdigit,
  kIsalpha,
  kIsspace,
  // dict
  kItems,
  kKeys,
  kValues,
  kGet,
  // list
  kAppend,
};

// The method `name` of `self`'s type, if it has one.
std::optional<Method> find_method(const Value& self, std::string_view name);
Value call_method(Interpreter& in, Method method, const Value& self, const CallArgs& args);

}  // namespace tern::jinja
