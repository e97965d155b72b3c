#include "jinja/jinja_filters.h"

#include <algorithm>

#include "jinja/jinja_filter_tables.h"

namespace tern::jinja {
namespace {

// Jinja 3.1's builtin filter names; those tern lacks fail only when called.
constexpr std::string_view kJinjaFilters[] = {
    "abs",    "attr",       "batch",       "capitalize", "center",   "count",
    "d",      "default",    "dictsort",    "e",          "escape",   "filesizeformat",
    "first",  "float",      "forceescape", "format",     "groupby",  "indent",
    "int",    "items",      "join",        "last",       "length",   "list",
    "lower",  "map",        "max",         "min",        "pprint",   "random",
    "reject", "rejectattr", "replace",     "reverse",    "round",    "safe",
    "select", "selectattr", "slice",       "sort",       "string",   "striptags",
    "sum",    "title",      "tojson",      "trim",       "truncate", "unique",
    "upper",  "urlencode",  "urlize",      "wordcount",  "wordwrap", "xmlattr",
};

}  // namespace

FilterFn find_filter(std::string_view name) {
  for (auto table : {text_filters(), sequence_filters()})
    for (const FilterEntry& entry : table)
      if (entry.name == name) return entry.fn;
  return nullptr;
}

bool is_known_filter(std::string_view name) {
  return std::find(std::begin(kJinjaFilters), std::end(kJinjaFilters), name) != std::end(kJinjaFilters);
}

}  // namespace tern::jinja
