#include "jinja/jinja_value.h"

#include <cmath>
#include <functional>

#include "base/error.h"

namespace tern::jinja {
namespace {

// Python would raise RecursionError on self-referencing or absurdly deep containers.
constexpr int kMaxCompareDepth = 512;

bool equal_at(const Value& a, const Value& b, int depth) {
  if (depth > kMaxCompareDepth) throw tern::error("chat template: values nested too deeply to compare");
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kString:
      return a.str() == b.str();
    case Kind::kList: {
      const ListObj& x = a.list();
      const ListObj& y = b.list();
      if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!equal_at(x.items[i], y.items[i], depth + 1)) return false;
      return true;
    }
    case Kind::kDict: {
      const DictObj& x = a.dict();
      const DictObj& y = b.dict();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [key, value] : x.entries) {
        const Value* other = y.find(key);
        if (other == nullptr || !equal_at(value, *other, depth + 1)) return false;
      }
      return true;
    }
    default:
      return a.identity() == b.identity();
  }
}

}  // namespace

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
    case Kind::kInt:
      return v.as_int() != 0;
    case Kind::kFloat:
      return v.as_double() != 0.0;
    case Kind::kString:
      return !v.str().empty();
    case Kind::kList:
      return !v.list().items.empty();
    case Kind::kDict:
      return !v.dict().entries.empty();
    default:
      return true;
  }
}

bool py_equal(const Value& a, const Value& b) { return equal_at(a, b, 0); }

void throw_undefined(const Value& v) {
  if (v.undefined_name() != nullptr) throw tern::error("chat template: '", *v.undefined_name(), "' is undefined");
  throw tern::error("chat template: an undefined value was used");
}

const char* type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kList:
      return v.list().is_tuple ? "tuple" : "list";
    case Kind::kDict:
      return "dict";
    case Kind::kNamespace:
      return "Namespace";
    case Kind::kLoop:
      return "LoopContext";
    case Kind::kCallable:
      return "function";
  }
  return "object";
}

namespace {

// Tuples nested deeper than this are not used as keys (keeps hashing non-recursive-deep).
constexpr int kMaxKeyDepth = 32;

bool hashable_at(const Value& v, int depth) {
  switch (v.kind()) {
    case Kind::kNone:
    case Kind::kBool:
    case Kind::kInt:
    case Kind::kFloat:
    case Kind::kString:
      return true;
    case Kind::kList:
      if (!v.list().is_tuple || depth >= kMaxKeyDepth) return false;
      for (const Value& item : v.list().items)
        if (!hashable_at(item, depth + 1)) return false;
      return true;
    default:
      return false;
  }
}

}  // namespace

bool is_hashable(const Value& v) { return hashable_at(v, 0); }

size_t ValueHash::operator()(const Value& v) const {
  switch (v.kind()) {
    case Kind::kString:
      return std::hash<std::string_view>()(v.str());
    case Kind::kBool:
    case Kind::kInt:
      return std::hash<int64_t>()(v.as_int());
    case Kind::kFloat: {
      // Equal numbers must hash alike: 1.0 == 1.
      double f = v.as_double();
      if (std::nearbyint(f) == f && std::fabs(f) < 9.2e18) return std::hash<int64_t>()(static_cast<int64_t>(f));
      return std::hash<double>()(f);
    }
    case Kind::kList: {
      size_t h = 0x345678;
      for (const Value& item : v.list().items) h = h * 1000003 ^ (*this)(item);
      return h;
    }
    default:
      return 0;
  }
}

const Value* DictObj::find(const Value& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries[it->second].second;
}

void DictObj::set(const Value& key, const Value& value) {
  auto [it, inserted] = index_.try_emplace(key, entries.size());
  if (inserted) {
    entries.emplace_back(key, value);
  } else {
    entries[it->second].second = value;
  }
}

void Heap::charge(size_t bytes) {
  bytes_ += bytes;
  if (bytes_ > max_bytes_) throw tern::error("chat template: memory budget of ", max_bytes_, " bytes exceeded");
}

Value Heap::make_string(std::string s) {
  charge(s.size() + sizeof(std::string));
  strings_.push_back(std::move(s));
  return Value::string(&strings_.back());
}

ListObj* Heap::make_list(bool is_tuple) {
  charge(sizeof(ListObj));
  lists_.emplace_back().is_tuple = is_tuple;
  return &lists_.back();
}

DictObj* Heap::make_dict() {
  charge(sizeof(DictObj));
  return &dicts_.emplace_back();
}

LoopObj* Heap::make_loop() {
  charge(sizeof(LoopObj));
  return &loops_.emplace_back();
}

CallableObj* Heap::make_callable(CallableObj c) {
  charge(sizeof(CallableObj));
  callables_.push_back(c);
  return &callables_.back();
}

void Heap::append(ListObj& list, const Value& v) {
  charge(sizeof(Value));
  list.items.push_back(v);
}

void Heap::set(DictObj& dict, const Value& key, const Value& v) {
  charge(2 * sizeof(Value) + 2 * sizeof(size_t));
  dict.set(key, v);
}

}  // namespace tern::jinja
