// Filters on sequences and mappings, following jinja2/filters.py. Jinja returns
// generators from map/select/unique/items/reverse; tern returns lists, which print
// differently only when such a generator is printed directly (a template bug).
#include <algorithm>
#include <optional>
#include <utility>

#include "base/error.h"
#include "jinja/jinja_filter_tables.h"
#include "jinja/jinja_interpreter.h"
#include "jinja/jinja_methods.h"
#include "jinja/jinja_ops.h"
#include "jinja/jinja_text.h"

namespace tern::jinja {
namespace {

// A path part Jinja reads as an index: digits that fit an int64 (longer ones stay keys).
bool is_digits(const std::string& s) {
  return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Jinja's make_attrgetter: looks up a dotted path ("function.name", "items.0") with
// item-first lookups; no attribute (None) yields the item itself.
Value attribute_of(Interpreter& in, const Value& item, const Value& attribute) {
  if (attribute.is_none() || attribute.is_undefined()) return item;
  if (!attribute.is_string()) return in.getitem(item, attribute);
  const std::string& path = attribute.str();
  if (path.find('.') == std::string::npos && !is_digits(path)) return in.getitem(item, attribute);
  Value current = item;
  for (const std::string& part : py_split(path, ".", -1)) {
    Value key = is_digits(part) ? Value::integer(std::stoll(part)) : in.make_string(part);
    current = in.getitem(current, key);
  }
  return current;
}

Value ignore_case(Interpreter& in, const Value& v) { return v.is_string() ? in.make_string(py_lower(v.str())) : v; }

Value list_of(Interpreter& in, std::vector<Value> items, bool is_tuple = false) {
  in.heap().charge(items.size() * sizeof(Value));
  ListObj* list = in.heap().make_list(is_tuple);
  list->items = std::move(items);
  return Value::list(list);
}

bool less(const Value& a, const Value& b) { return compare_op(CompareOp::kLt, a, b); }

Value filter_length(Interpreter&, const Value& v, const CallArgs& args) {
  ArgReader("length", args, {});
  switch (v.kind()) {
    case Kind::kUndefined:
      return Value::integer(0);
    case Kind::kString:
      return Value::integer(static_cast<int64_t>(code_point_count(v.str())));
    case Kind::kList:
      return Value::integer(static_cast<int64_t>(v.list().items.size()));
    case Kind::kDict:
      return Value::integer(static_cast<int64_t>(v.dict().entries.size()));
    default:
      throw tern::error("chat template: object of type '", type_name(v), "' has no len()");
  }
}

Value filter_default(Interpreter&, const Value& v, const CallArgs& args) {
  ArgReader a("default", args, {"default_value", "boolean"});
  static const std::string kEmpty;
  Value fallback = a.get_or(0, Value::string(&kEmpty));
  bool boolean = truthy(a.get_or(1, Value::boolean(false)));
  if (v.is_undefined() || (boolean && !truthy(v))) return fallback;
  return v;
}

Value filter_list(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader("list", args, {});
  return list_of(in, in.iterate(v));
}

Value filter_first(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader("first", args, {});
  std::vector<Value> items = in.iterate(v);
  return items.empty() ? Value::undefined(nullptr) : items.front();
}

Value filter_last(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader("last", args, {});
  std::vector<Value> items = in.iterate(v);
  return items.empty() ? Value::undefined(nullptr) : items.back();
}

Value filter_reverse(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader("reverse", args, {});
  std::vector<Value> items = in.iterate(v);
  std::reverse(items.begin(), items.end());
  if (v.is_string()) {
    std::string s;
    for (const Value& c : items) s += c.str();
    return in.make_string(std::move(s));
  }
  return list_of(in, std::move(items));
}

Value filter_items(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader("items", args, {});
  if (v.is_undefined()) return list_of(in, {});
  if (!v.is(Kind::kDict)) throw tern::error("chat template: items filter: can only get item pairs from a mapping");
  std::vector<Value> pairs;
  for (const auto& [key, value] : v.dict().entries) pairs.push_back(list_of(in, {key, value}, true));
  return list_of(in, std::move(pairs));
}

Value filter_dictsort(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("dictsort", args, {"case_sensitive", "by", "reverse"});
  bool case_sensitive = truthy(a.get_or(0, Value::boolean(false)));
  Value by = a.get_or(1, Value::none());
  size_t position = 0;
  if (!by.is_none()) {
    if (!by.is_string() || (by.str() != "key" && by.str() != "value"))
      throw tern::error("chat template: dictsort: you can only sort by either \"key\" or \"value\"");
    position = by.str() == "value";
  }
  bool reverse = truthy(a.get_or(2, Value::boolean(false)));
  if (!v.is(Kind::kDict)) throw tern::error("chat template: dictsort needs a mapping, got ", type_name(v));
  std::vector<std::pair<Value, Value>> keyed;  // (sort key, (k, v) tuple)
  for (const auto& [key, value] : v.dict().entries) {
    Value sort_key = position == 0 ? key : value;
    keyed.emplace_back(case_sensitive ? sort_key : ignore_case(in, sort_key), list_of(in, {key, value}, true));
  }
  std::stable_sort(keyed.begin(), keyed.end(), [reverse](const auto& x, const auto& y) {
    return reverse ? less(y.first, x.first) : less(x.first, y.first);
  });
  std::vector<Value> out;
  for (auto& entry : keyed) out.push_back(entry.second);
  return list_of(in, std::move(out));
}

Value filter_join(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("join", args, {"d", "attribute"});
  std::string separator = a.get(0) ? soft_str(in, *a.get(0)) : "";
  Value attribute = a.get_or(1, Value::none());
  std::string out;
  bool first = true;
  for (const Value& item : in.iterate(v)) {
    if (!first) out += separator;
    first = false;
    out += soft_str(in, attribute_of(in, item, attribute));
    if (out.size() > in.limits().max_output_bytes)
      throw tern::error("chat template: join result exceeds the output budget");
  }
  return in.make_string(std::move(out));
}

Value filter_attr(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("attr", args, {"name"});
  Value name = in.to_string(a.required(0));
  // Only real attributes: methods, namespace and loop attributes (not dict items).
  if (find_method(v, name.str()) || v.is(Kind::kNamespace) || v.is(Kind::kLoop)) return in.getattr(v, name.str());
  return Value::undefined(&name.str());
}

Value filter_map(Interpreter& in, const Value& v, const CallArgs& args) {
  std::vector<Value> out;
  if (!truthy(v)) return list_of(in, std::move(out));
  if (args.positional.empty()) {
    ArgReader a("map", args, {"attribute", "default"});
    Value attribute = a.required(0);
    Value fallback = a.get_or(1, Value::none());
    for (const Value& item : in.iterate(v)) {
      Value mapped = attribute_of(in, item, attribute);
      out.push_back(!fallback.is_none() && mapped.is_undefined() ? fallback : mapped);
    }
    return list_of(in, std::move(out));
  }
  if (!args.positional[0].is_string()) throw tern::error("chat template: map() needs a filter name");
  std::string_view name = args.positional[0].str();
  CallArgs rest{{args.positional.begin() + 1, args.positional.end()}, args.keyword};
  for (const Value& item : in.iterate(v)) out.push_back(in.apply_filter(name, item, rest));
  return list_of(in, std::move(out));
}

// select/reject/selectattr/rejectattr (jinja2.filters.select_or_reject).
Value select_or_reject(Interpreter& in, const Value& v, const CallArgs& args, bool keep_if, bool by_attribute) {
  std::vector<Value> out;
  if (!truthy(v)) return list_of(in, std::move(out));
  size_t offset = 0;
  Value attribute = Value::none();
  if (by_attribute) {
    if (args.positional.empty()) throw tern::error("chat template: missing parameter for attribute name");
    attribute = args.positional[0];
    offset = 1;
  }
  bool has_test = args.positional.size() > offset;
  if (has_test && !args.positional[offset].is_string()) throw tern::error("chat template: test name must be a string");
  std::string_view test = has_test ? std::string_view(args.positional[offset].str()) : std::string_view();
  CallArgs rest;
  if (has_test) rest.positional.assign(args.positional.begin() + offset + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : in.iterate(v)) {
    Value subject = attribute_of(in, item, attribute);
    bool passed = has_test ? in.apply_test(test, subject, rest) : truthy(subject);
    if (passed == keep_if) out.push_back(item);
  }
  return list_of(in, std::move(out));
}

Value filter_select(Interpreter& in, const Value& v, const CallArgs& args) {
  return select_or_reject(in, v, args, true, false);
}
Value filter_reject(Interpreter& in, const Value& v, const CallArgs& args) {
  return select_or_reject(in, v, args, false, false);
}
Value filter_selectattr(Interpreter& in, const Value& v, const CallArgs& args) {
  return select_or_reject(in, v, args, true, true);
}
Value filter_rejectattr(Interpreter& in, const Value& v, const CallArgs& args) {
  return select_or_reject(in, v, args, false, true);
}

Value filter_batch(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("batch", args, {"linecount", "fill_with"});
  Value count = a.required(0);
  if (!count.is_integral() || count.as_int() < 1) throw tern::error("chat template: batch() needs a positive count");
  auto size = static_cast<size_t>(count.as_int());
  std::optional<Value> fill = a.get(1);
  if (fill && fill->is_none()) fill.reset();
  std::vector<Value> batches;
  std::vector<Value> current;
  for (const Value& item : in.iterate(v)) {
    if (current.size() == size) batches.push_back(list_of(in, std::exchange(current, {})));
    current.push_back(item);
  }
  if (!current.empty()) {
    if (fill && size <= in.limits().max_output_bytes) current.resize(std::max(current.size(), size), *fill);
    batches.push_back(list_of(in, std::move(current)));
  }
  return list_of(in, std::move(batches));
}

Value filter_sort(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("sort", args, {"reverse", "case_sensitive", "attribute"});
  bool reverse = truthy(a.get_or(0, Value::boolean(false)));
  bool case_sensitive = truthy(a.get_or(1, Value::boolean(false)));
  Value attribute = a.get_or(2, Value::none());
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& item : in.iterate(v)) {
    Value key = attribute_of(in, item, attribute);
    keyed.emplace_back(case_sensitive ? key : ignore_case(in, key), item);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [reverse](const auto& x, const auto& y) {
    return reverse ? less(y.first, x.first) : less(x.first, y.first);
  });
  std::vector<Value> out;
  for (auto& entry : keyed) out.push_back(entry.second);
  return list_of(in, std::move(out));
}

Value filter_unique(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("unique", args, {"case_sensitive", "attribute"});
  bool case_sensitive = truthy(a.get_or(0, Value::boolean(false)));
  Value attribute = a.get_or(1, Value::none());
  DictObj* seen = in.heap().make_dict();
  std::vector<Value> out;
  for (const Value& item : in.iterate(v)) {
    Value key = attribute_of(in, item, attribute);
    if (!case_sensitive) key = ignore_case(in, key);
    if (!is_hashable(key)) throw tern::error("chat template: unique: unhashable type: '", type_name(key), "'");
    if (seen->find(key) != nullptr) continue;
    in.heap().set(*seen, key, Value::none());
    out.push_back(item);
  }
  return list_of(in, std::move(out));
}

Value min_or_max(Interpreter& in, const Value& v, const CallArgs& args, const char* name, bool want_max) {
  ArgReader a(name, args, {"case_sensitive", "attribute"});
  bool case_sensitive = truthy(a.get_or(0, Value::boolean(false)));
  Value attribute = a.get_or(1, Value::none());
  std::vector<Value> items = in.iterate(v);
  if (items.empty()) return Value::undefined(nullptr);
  auto key_of = [&](const Value& item) {
    Value key = attribute_of(in, item, attribute);
    return case_sensitive ? key : ignore_case(in, key);
  };
  Value best = items[0];
  Value best_key = key_of(best);
  for (size_t i = 1; i < items.size(); ++i) {
    Value key = key_of(items[i]);
    if (want_max ? less(best_key, key) : less(key, best_key)) {
      best = items[i];
      best_key = key;
    }
  }
  return best;
}

Value filter_max(Interpreter& in, const Value& v, const CallArgs& args) { return min_or_max(in, v, args, "max", true); }
Value filter_min(Interpreter& in, const Value& v, const CallArgs& args) {
  return min_or_max(in, v, args, "min", false);
}

Value filter_sum(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("sum", args, {"attribute", "start"});
  Value attribute = a.get_or(0, Value::none());
  Value total = a.get_or(1, Value::integer(0));
  for (const Value& item : in.iterate(v))
    total = binary_op(in, BinaryOp::kAdd, total, attribute_of(in, item, attribute));
  return total;
}

constexpr FilterEntry kSequenceFilters[] = {
    {"attr", filter_attr},
    {"batch", filter_batch},
    {"count", filter_length},
    {"d", filter_default},
    {"default", filter_default},
    {"dictsort", filter_dictsort},
    {"first", filter_first},
    {"items", filter_items},
    {"join", filter_join},
    {"last", filter_last},
    {"length", filter_length},
    {"list", filter_list},
    {"map", filter_map},
    {"max", filter_max},
    {"min", filter_min},
    {"reject", filter_reject},
    {"rejectattr", filter_rejectattr},
    {"reverse", filter_reverse},
    {"select", filter_select},
    {"selectattr", filter_selectattr},
    {"sort", filter_sort},
    {"sum", filter_sum},
    {"unique", filter_unique},
};

}  // namespace

std::span<const FilterEntry> sequence_filters() { return kSequenceFilters; }

}  // namespace tern::jinja
