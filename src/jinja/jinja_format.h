// How Python prints values, byte for byte: str() for {{ }} output, repr() for items
// inside printed containers, float repr, and json.dumps() for the tojson filter (which
// transformers defines as json.dumps(x, ensure_ascii=False, indent, separators, sort_keys)).
//
// Every function appends to `out` and throws tern::Error once `out` grows past
// `max_bytes` (the render's output budget) or on containers nested too deeply.
#pragma once

#include <cstddef>
#include <string>

#include "jinja/jinja_value.h"

namespace tern::jinja {

// Python repr(float): shortest round-trip digits, "1e+16" past 16 digits, "1.0" for
// integral values, "inf"/"nan".
std::string py_float_repr(double x);

void append_py_str(std::string& out, const Value& v, size_t max_bytes);
void append_py_repr(std::string& out, const Value& v, size_t max_bytes);

struct JsonOptions {
  bool ensure_ascii = false;
  bool indent_set = false;  // json.dumps(indent=None) vs indent=0 differ
  std::string indent;       // the indent unit (an int indent becomes that many spaces)
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};

// json.dumps(v, ...). Throws tern::Error for values JSON cannot hold (Undefined,
// namespaces, callables), as Python raises TypeError.
void append_json(std::string& out, const Value& v, const JsonOptions& options, size_t max_bytes);

}  // namespace tern::jinja
