// Evaluated arguments of a call, filter or test, and Python-style binding of them to
// named parameters (positional first, then by keyword).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jinja/jinja_value.h"

namespace tern::jinja {

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string_view, Value>> keyword;  // names live in the template
};

// Binds `args` to the parameters `names` of the function `what`. Throws tern::Error
// (as Python raises TypeError) for too many positional arguments, unknown keywords or
// a parameter given twice.
class ArgReader {
 public:
  ArgReader(std::string_view what, const CallArgs& args, std::initializer_list<std::string_view> names);

  // The argument for parameter `index` (its position in `names`), if given.
  std::optional<Value> get(size_t index) const { return values_[index]; }
  Value get_or(size_t index, const Value& fallback) const { return values_[index].value_or(fallback); }
  // Throws "<what>() missing required argument '<name>'" when absent.
  Value required(size_t index) const;

 private:
  std::string what_;
  std::vector<std::string_view> names_;
  std::vector<std::optional<Value>> values_;
};

}  // namespace tern::jinja
