#include "jinja/jinja_globals.h"

#include <ctime>

#include "jinja/jinja_interpreter.h"
#include "jinja/jinja_text.h"

namespace tern::jinja {
namespace {

// jinja2.sandbox.MAX_RANGE: larger ranges raise OverflowError in transformers too.
constexpr int64_t kMaxRange = 100000;

Value range(Interpreter& in, const CallArgs& args) {
  if (!args.keyword.empty()) throw tern::error("chat template: range() takes no keyword arguments");
  if (args.positional.empty() || args.positional.size() > 3)
    throw tern::error("chat template: range() expects 1 to 3 arguments");
  for (const Value& v : args.positional) {
    if (v.is_undefined()) throw_undefined(v);
    if (!v.is_integral()) throw tern::error("chat template: range() needs integers, got ", type_name(v));
  }
  int64_t start = 0;
  int64_t stop = 0;
  int64_t step = 1;
  if (args.positional.size() == 1) {
    stop = args.positional[0].as_int();
  } else {
    start = args.positional[0].as_int();
    stop = args.positional[1].as_int();
    if (args.positional.size() == 3) step = args.positional[2].as_int();
  }
  if (step == 0) throw tern::error("chat template: range() arg 3 must not be zero");
  // Count in long double: stop - start may overflow int64.
  long double span = step > 0 ? static_cast<long double>(stop) - start : static_cast<long double>(start) - stop;
  long double count = span <= 0 ? 0 : (span + (step > 0 ? step : -step) - 1) / (step > 0 ? step : -step);
  if (count > kMaxRange)
    throw tern::error("chat template: range too big: the sandbox blocks ranges larger than MAX_RANGE (", kMaxRange,
                      ")");
  ListObj* list = in.heap().make_list();
  in.charge_steps(static_cast<uint64_t>(count));
  for (int64_t i = 0, v = start; i < static_cast<int64_t>(count); ++i, v += step)
    in.heap().append(*list, Value::integer(v));
  return Value::list(list);
}

// dict(**kwargs) and namespace(mapping?, **kwargs) build a string-keyed mapping.
DictObj* mapping_from(Interpreter& in, const CallArgs& args, const char* what) {
  DictObj* dict = in.heap().make_dict();
  if (args.positional.size() > 1) throw tern::error("chat template: ", what, "() takes at most 1 positional argument");
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (!source.is(Kind::kDict) && !source.is(Kind::kNamespace))
      throw tern::error("chat template: ", what, "() argument must be a mapping, got ", type_name(source));
    for (const auto& [key, value] : source.dict().entries) in.heap().set(*dict, key, value);
  }
  for (const auto& [key, value] : args.keyword) in.heap().set(*dict, in.make_string(std::string(key)), value);
  return dict;
}

Value strftime_now(Interpreter& in, const CallArgs& args) {
  ArgReader a("strftime_now", args, {"format"});
  Value format = a.required(0);
  if (!format.is_string()) throw tern::error("chat template: strftime_now() format must be a string");
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::string buf(256 + format.str().size() * 8, '\0');
  size_t n = std::strftime(buf.data(), buf.size(), format.str().c_str(), &local);
  buf.resize(n);
  return in.make_string(std::move(buf));
}

}  // namespace

std::optional<Builtin> find_builtin(std::string_view name) {
  if (name == "range") return Builtin::kRange;
  if (name == "dict") return Builtin::kDict;
  if (name == "namespace") return Builtin::kNamespace;
  if (name == "raise_exception") return Builtin::kRaiseException;
  if (name == "strftime_now") return Builtin::kStrftimeNow;
  return std::nullopt;
}

Value call_builtin(Interpreter& in, Builtin builtin, const CallArgs& args) {
  switch (builtin) {
    case Builtin::kRange:
      return range(in, args);
    case Builtin::kDict:
      return Value::dict(mapping_from(in, args, "dict"));
    case Builtin::kNamespace:
      return Value::name_space(mapping_from(in, args, "namespace"));
    case Builtin::kRaiseException: {
      ArgReader a("raise_exception", args, {"message"});
      throw TemplateRaised("chat template: " + in.to_string(a.required(0)).str());
    }
    case Builtin::kStrftimeNow:
      return strftime_now(in, args);
  }
  return Value::undefined(nullptr);
}

}  // namespace tern::jinja
