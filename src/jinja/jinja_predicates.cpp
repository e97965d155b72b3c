// Jinja's builtin predicates ("tests" in jinja2/tests.py).
#include "jinja/jinja_predicates.h"

#include <utf8proc.h>

#include <algorithm>

#include "base/error.h"
#include "jinja/jinja_filters.h"
#include "jinja/jinja_interpreter.h"
#include "jinja/jinja_ops.h"
#include "jinja/jinja_text.h"

namespace tern::jinja {
namespace {

struct TestEntry {
  std::string_view name;
  TestFn fn;
};

void no_args(std::string_view name, const CallArgs& args) { ArgReader(name, args, {}); }

bool test_defined(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("defined", args);
  return !v.is_undefined();
}
bool test_undefined(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("undefined", args);
  return v.is_undefined();
}
bool test_none(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("none", args);
  return v.is_none();
}
bool test_boolean(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("boolean", args);
  return v.is(Kind::kBool);
}
bool test_true(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("true", args);
  return v.is(Kind::kBool) && v.as_bool();
}
bool test_false(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("false", args);
  return v.is(Kind::kBool) && !v.as_bool();
}
bool test_integer(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("integer", args);
  return v.is(Kind::kInt);
}
bool test_float(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("float", args);
  return v.is(Kind::kFloat);
}
bool test_number(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("number", args);
  return v.is_number();
}
bool test_string(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("string", args);
  return v.is_string();
}
bool test_mapping(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("mapping", args);
  return v.is(Kind::kDict);
}
// Python: has len() and __getitem__ (Jinja's Undefined has both).
bool test_sequence(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("sequence", args);
  return v.is_undefined() || v.is_string() || v.is(Kind::kList) || v.is(Kind::kDict);
}
bool test_iterable(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("iterable", args);
  return v.is_undefined() || v.is_string() || v.is(Kind::kList) || v.is(Kind::kDict) || v.is(Kind::kLoop);
}
bool test_callable(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("callable", args);
  return v.is(Kind::kCallable);
}
bool test_escaped(Interpreter&, const Value&, const CallArgs& args) {
  no_args("escaped", args);
  return false;  // no Markup values without autoescaping
}

bool modulo_is(Interpreter& in, const Value& v, const Value& divisor, int64_t expected) {
  Value rest = binary_op(in, BinaryOp::kMod, v, divisor);
  return py_equal(rest, Value::integer(expected));
}
bool test_odd(Interpreter& in, const Value& v, const CallArgs& args) {
  no_args("odd", args);
  return modulo_is(in, v, Value::integer(2), 1);
}
bool test_even(Interpreter& in, const Value& v, const CallArgs& args) {
  no_args("even", args);
  return modulo_is(in, v, Value::integer(2), 0);
}
bool test_divisibleby(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("divisibleby", args, {"num"});
  return modulo_is(in, v, a.required(0), 0);
}

template <CompareOp Op>
bool test_compare(Interpreter&, const Value& v, const CallArgs& args) {
  ArgReader a("compare", args, {"other"});
  return compare_op(Op, v, a.required(0));
}

bool test_in(Interpreter&, const Value& v, const CallArgs& args) {
  ArgReader a("in", args, {"seq"});
  return compare_op(CompareOp::kIn, v, a.required(0));
}

bool test_sameas(Interpreter&, const Value& v, const CallArgs& args) {
  ArgReader a("sameas", args, {"other"});
  Value other = a.required(0);
  if (v.kind() != other.kind()) return false;
  switch (v.kind()) {
    case Kind::kNone:
    case Kind::kUndefined:
      return true;
    case Kind::kBool:
    case Kind::kInt:
    case Kind::kFloat:
    case Kind::kString:
      return py_equal(v, other);
    default:
      return v.identity() == other.identity();
  }
}

// str.islower()/isupper(): some cased character, and none of the other case.
bool case_test(Interpreter& in, const Value& v, bool want_lower) {
  std::string s = v.is_string() ? v.str() : in.to_string(v).str();
  bool cased = false;
  size_t pos = 0;
  while (pos < s.size()) {
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(next_code_point(s, pos)));
    bool upper = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT;
    bool lower = cat == UTF8PROC_CATEGORY_LL;
    if (want_lower ? upper : lower) return false;
    cased = cased || (want_lower ? lower : upper);
  }
  return cased;
}
bool test_lower(Interpreter& in, const Value& v, const CallArgs& args) {
  no_args("lower", args);
  return case_test(in, v, true);
}
bool test_upper(Interpreter& in, const Value& v, const CallArgs& args) {
  no_args("upper", args);
  return case_test(in, v, false);
}

bool test_filter(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("filter", args);
  return v.is_string() && find_filter(v.str()) != nullptr;
}
bool test_test(Interpreter&, const Value& v, const CallArgs& args) {
  no_args("test", args);
  return v.is_string() && find_test(v.str()) != nullptr;
}

constexpr TestEntry kTests[] = {
    {"defined", test_defined},
    {"undefined", test_undefined},
    {"none", test_none},
    {"boolean", test_boolean},
    {"true", test_true},
    {"false", test_false},
    {"integer", test_integer},
    {"float", test_float},
    {"number", test_number},
    {"string", test_string},
    {"mapping", test_mapping},
    {"sequence", test_sequence},
    {"iterable", test_iterable},
    {"callable", test_callable},
    {"escaped", test_escaped},
    {"odd", test_odd},
    {"even", test_even},
    {"divisibleby", test_divisibleby},
    {"sameas", test_sameas},
    {"in", test_in},
    {"lower", test_lower},
    {"upper", test_upper},
    {"filter", test_filter},
    {"test", test_test},
    {"==", test_compare<CompareOp::kEq>},
    {"eq", test_compare<CompareOp::kEq>},
    {"equalto", test_compare<CompareOp::kEq>},
    {"!=", test_compare<CompareOp::kNe>},
    {"ne", test_compare<CompareOp::kNe>},
    {">", test_compare<CompareOp::kGt>},
    {"gt", test_compare<CompareOp::kGt>},
    {"greaterthan", test_compare<CompareOp::kGt>},
    {">=", test_compare<CompareOp::kGe>},
    {"ge", test_compare<CompareOp::kGe>},
    {"<", test_compare<CompareOp::kLt>},
    {"lt", test_compare<CompareOp::kLt>},
    {"lessthan", test_compare<CompareOp::kLt>},
    {"<=", test_compare<CompareOp::kLe>},
    {"le", test_compare<CompareOp::kLe>},
};

}  // namespace

TestFn find_test(std::string_view name) {
  for (const TestEntry& entry : kTests)
    if (entry.name == name) return entry.fn;
  return nullptr;
}

bool is_known_test(std::string_view name) { return find_test(name) != nullptr; }

}  // namespace tern::jinja
