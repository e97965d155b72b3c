// Internal to the filter files: each contributes a table, jinja_filters.cpp joins them.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "jinja/jinja_filters.h"

namespace tern::jinja {

struct FilterEntry {
  std::string_view name;
  FilterFn fn;
};

std::span<const FilterEntry> text_filters();      // strings, numbers, tojson
std::span<const FilterEntry> sequence_filters();  // lists, dicts, map/select/sort

// Python str(v), with Undefined as "" (Jinja's soft_str).
std::string soft_str(Interpreter& in, const Value& v);

}  // namespace tern::jinja
