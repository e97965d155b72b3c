#include "jinja/jinja_ops.h"

#include <cmath>
#include <string>

#include "base/error.h"
#include "jinja/jinja_interpreter.h"
#include "jinja/jinja_text.h"

namespace tern::jinja {
namespace {

const char* symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kFloorDiv:
      return "//";
    case BinaryOp::kMod:
      return "%";
    case BinaryOp::kPow:
      return "**";
    default:
      return "?";
  }
}

[[noreturn]] void unsupported(BinaryOp op, const Value& a, const Value& b) {
  throw tern::error("chat template: unsupported operand type(s) for ", symbol(op), ": '", type_name(a), "' and '",
                    type_name(b), "'");
}

[[noreturn]] void overflow() { throw tern::error("chat template: integer result does not fit in 64 bits"); }

// x op y with the int64 overflow check of __builtin_<op>_overflow.
template <typename Op>
int64_t checked(Op op, int64_t x, int64_t y) {
  int64_t r = 0;
  if (op(x, y, &r)) overflow();
  return r;
}
constexpr auto kAdd = [](int64_t x, int64_t y, int64_t* r) { return __builtin_add_overflow(x, y, r); };
constexpr auto kSub = [](int64_t x, int64_t y, int64_t* r) { return __builtin_sub_overflow(x, y, r); };
constexpr auto kMul = [](int64_t x, int64_t y, int64_t* r) { return __builtin_mul_overflow(x, y, r); };

double float_mod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

// CPython's float_floor_div, so signs of zero and rounding match.
double float_floor_div(double x, double y) {
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0) {
    if ((y < 0) != (mod < 0)) div -= 1.0;
  }
  if (div == 0) return std::copysign(0.0, x / y);
  double floor_div = std::floor(div);
  if (div - floor_div > 0.5) floor_div += 1.0;
  return floor_div;
}

Value int_pow(int64_t base, int64_t exponent) {
  if (exponent < 0) {
    if (base == 0) throw tern::error("chat template: 0 cannot be raised to a negative power");
    return Value::number(std::pow(static_cast<double>(base), static_cast<double>(exponent)));
  }
  int64_t result = 1;
  while (exponent > 0) {
    if (exponent & 1) result = checked(kMul, result, base);
    exponent >>= 1;
    if (exponent > 0) base = checked(kMul, base, base);
  }
  return Value::integer(result);
}

Value arithmetic(BinaryOp op, const Value& a, const Value& b) {
  if (a.is_integral() && b.is_integral() && op != BinaryOp::kDiv) {
    int64_t x = a.as_int();
    int64_t y = b.as_int();
    switch (op) {
      case BinaryOp::kAdd:
        return Value::integer(checked(kAdd, x, y));
      case BinaryOp::kSub:
        return Value::integer(checked(kSub, x, y));
      case BinaryOp::kMul:
        return Value::integer(checked(kMul, x, y));
      case BinaryOp::kFloorDiv:
      case BinaryOp::kMod: {
        if (y == 0) throw tern::error("chat template: integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) overflow();
        int64_t q = x / y;
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          --q;
          m += y;
        }
        return Value::integer(op == BinaryOp::kFloorDiv ? q : m);
      }
      case BinaryOp::kPow:
        return int_pow(x, y);
      default:
        break;
    }
  }
  double x = a.as_double();
  double y = b.as_double();
  switch (op) {
    case BinaryOp::kAdd:
      return Value::number(x + y);
    case BinaryOp::kSub:
      return Value::number(x - y);
    case BinaryOp::kMul:
      return Value::number(x * y);
    case BinaryOp::kDiv:
      if (y == 0) throw tern::error("chat template: division by zero");
      return Value::number(x / y);
    case BinaryOp::kFloorDiv:
      if (y == 0) throw tern::error("chat template: float floor division by zero");
      return Value::number(float_floor_div(x, y));
    case BinaryOp::kMod:
      if (y == 0) throw tern::error("chat template: float modulo by zero");
      return Value::number(float_mod(x, y));
    case BinaryOp::kPow:
      if (x == 0 && y < 0) throw tern::error("chat template: 0.0 cannot be raised to a negative power");
      return Value::number(std::pow(x, y));
    default:
      break;
  }
  unsupported(op, a, b);
}

// s * n or list * n; the result size is checked before it is built.
Value repeat(Interpreter& in, const Value& seq, int64_t times) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.str();
    if (!s.empty() && static_cast<uint64_t>(times) > in.limits().max_output_bytes / s.size())
      throw tern::error("chat template: repeated string exceeds the output budget");
    std::string out;
    out.reserve(s.size() * times);
    for (int64_t i = 0; i < times; ++i) out += s;
    return in.make_string(std::move(out));
  }
  const ListObj& list = seq.list();
  if (!list.items.empty() && static_cast<uint64_t>(times) > in.limits().max_output_bytes / list.items.size())
    throw tern::error("chat template: repeated list is too large");
  ListObj* result = in.heap().make_list(list.is_tuple);
  in.charge_steps(list.items.size() * times);
  for (int64_t i = 0; i < times; ++i)
    for (const Value& v : list.items) in.heap().append(*result, v);
  return Value::list(result);
}

int three_way(const Value& a, const Value& b, CompareOp op);

// Python ordering for <, <=, >, >=: numbers, strings, and same-type sequences.
int order(const Value& a, const Value& b, CompareOp op) {
  if (a.is_undefined()) throw_undefined(a);
  if (b.is_undefined()) throw_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int();
    double x = a.as_double();
    double y = b.as_double();
    if (std::isnan(x) || std::isnan(y)) return 2;  // unordered: every comparison is false
    return x < y ? -1 : x > y;
  }
  if (a.is_string() && b.is_string()) return a.str().compare(b.str()) < 0 ? -1 : a.str() > b.str();
  if (a.is(Kind::kList) && b.is(Kind::kList) && a.list().is_tuple == b.list().is_tuple) return three_way(a, b, op);
  static const char* const kSymbols[] = {"==", "!=", "<", "<=", ">", ">="};
  throw tern::error("chat template: '", kSymbols[static_cast<int>(op)], "' not supported between instances of '",
                    type_name(a), "' and '", type_name(b), "'");
}

int three_way(const Value& a, const Value& b, CompareOp op) {
  const auto& x = a.list().items;
  const auto& y = b.list().items;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i)
    if (!py_equal(x[i], y[i])) return order(x[i], y[i], op);
  return x.size() < y.size() ? -1 : x.size() > y.size();
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::kUndefined:
      return false;
    case Kind::kString:
      if (!item.is_string())
        throw tern::error("chat template: 'in <string>' requires string as left operand, not ", type_name(item));
      return container.str().find(item.str()) != std::string::npos;
    case Kind::kList:
      for (const Value& v : container.list().items)
        if (py_equal(v, item)) return true;
      return false;
    case Kind::kDict:
      if (!is_hashable(item)) throw tern::error("chat template: unhashable type: '", type_name(item), "'");
      return container.dict().find(item) != nullptr;
    default:
      throw tern::error("chat template: argument of type '", type_name(container), "' is not iterable");
  }
}

// Python's slice.indices(length), then the visited indices.
std::vector<int64_t> slice_indices(int64_t length, const Value& start_v, const Value& stop_v, int64_t step) {
  int64_t lower = step > 0 ? 0 : -1;
  int64_t upper = step > 0 ? length : length - 1;
  auto clamp = [&](const Value& v, int64_t fallback) {
    if (v.is_none()) return fallback;
    int64_t i = v.as_int();
    if (i < 0) i += length;
    return i < lower ? lower : i > upper ? upper : i;
  };
  int64_t start = clamp(start_v, step > 0 ? lower : upper);
  int64_t stop = clamp(stop_v, step > 0 ? upper : lower);
  std::vector<int64_t> indices;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) indices.push_back(i);
  return indices;
}

}  // namespace

Value slice_value(Interpreter& in, const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) throw_undefined(obj);
  if (!obj.is_string() && !obj.is(Kind::kList))
    throw tern::error("chat template: '", type_name(obj), "' object is not subscriptable");
  for (const Value* part : {&start, &stop, &step})
    if (!part->is_none() && !part->is_integral())
      throw tern::error("chat template: slice indices must be integers or None");
  int64_t stride = step.is_none() ? 1 : step.as_int();
  if (stride == 0) throw tern::error("chat template: slice step cannot be zero");
  if (obj.is_string()) {
    const std::string& s = obj.str();
    in.charge_steps(s.size() / 64);
    std::vector<size_t> offsets = code_point_offsets(s);
    std::string out;
    for (int64_t i : slice_indices(static_cast<int64_t>(offsets.size()) - 1, start, stop, stride))
      out.append(s, offsets[i], offsets[i + 1] - offsets[i]);
    return in.make_string(std::move(out));
  }
  if (obj.is(Kind::kList)) {
    const ListObj& list = obj.list();
    ListObj* result = in.heap().make_list(list.is_tuple);
    std::vector<int64_t> indices = slice_indices(static_cast<int64_t>(list.items.size()), start, stop, stride);
    in.charge_steps(indices.size());
    for (int64_t i : indices) in.heap().append(*result, list.items[i]);
    return Value::list(result);
  }
  return Value::undefined(nullptr);  // unreachable: checked above
}

Value binary_op(Interpreter& in, BinaryOp op, const Value& a, const Value& b) {
  if (a.is_undefined()) throw_undefined(a);
  if (b.is_undefined()) throw_undefined(b);
  if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
  if (op == BinaryOp::kAdd) {
    if (a.is_string() && b.is_string()) {
      std::string s;
      s.reserve(a.str().size() + b.str().size());
      s += a.str();
      s += b.str();
      return in.make_string(std::move(s));
    }
    if (a.is(Kind::kList) && b.is(Kind::kList) && a.list().is_tuple == b.list().is_tuple) {
      ListObj* result = in.heap().make_list(a.list().is_tuple);
      in.charge_steps(a.list().items.size() + b.list().items.size());
      for (const Value& v : a.list().items) in.heap().append(*result, v);
      for (const Value& v : b.list().items) in.heap().append(*result, v);
      return Value::list(result);
    }
  }
  if (op == BinaryOp::kMul) {
    bool a_seq = a.is_string() || a.is(Kind::kList);
    bool b_seq = b.is_string() || b.is(Kind::kList);
    if (a_seq && b.is_integral()) return repeat(in, a, b.as_int());
    if (b_seq && a.is_integral()) return repeat(in, b, a.as_int());
  }
  if (op == BinaryOp::kMod && a.is_string())
    throw tern::error("chat template: printf-style string formatting ('%') is not supported");
  unsupported(op, a, b);
}

Value negate(const Value& v, bool minus) {
  if (v.is_undefined()) throw_undefined(v);
  if (v.is_integral()) {
    if (!minus) return Value::integer(v.as_int());
    if (v.as_int() == INT64_MIN) overflow();
    return Value::integer(-v.as_int());
  }
  if (v.is(Kind::kFloat)) return Value::number(minus ? -v.as_double() : v.as_double());
  throw tern::error("chat template: bad operand type for unary ", minus ? "-" : "+", ": '", type_name(v), "'");
}

bool compare_op(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::kEq:
      return py_equal(a, b);
    case CompareOp::kNe:
      return !py_equal(a, b);
    case CompareOp::kIn:
      return contains(b, a);
    case CompareOp::kNotIn:
      return !contains(b, a);
    default:
      break;
  }
  int c = order(a, b, op);
  if (c == 2) return false;
  switch (op) {
    case CompareOp::kLt:
      return c < 0;
    case CompareOp::kLe:
      return c <= 0;
    case CompareOp::kGt:
      return c > 0;
    default:
      return c >= 0;
  }
}

}  // namespace tern::jinja
