#include "jinja/jinja_interpreter.h"

#include <string_view>

#include "base/error.h"
#include "jinja/jinja_filters.h"
#include "jinja/jinja_format.h"
#include "jinja/jinja_globals.h"
#include "jinja/jinja_methods.h"
#include "jinja/jinja_ops.h"
#include "jinja/jinja_predicates.h"
#include "jinja/jinja_text.h"

namespace tern::jinja {
namespace {

// Bytes of text produced or copied per interpreter step charged for them.
constexpr size_t kBytesPerStep = 64;

constexpr std::string_view kErrorPrefix = "chat template: ";

std::string_view without_prefix(std::string_view message) {
  if (message.substr(0, kErrorPrefix.size()) == kErrorPrefix) message.remove_prefix(kErrorPrefix.size());
  return message;
}

}  // namespace

const Value* Scope::find(std::string_view name) const {
  std::string key(name);
  for (const Scope* s = this; s != nullptr; s = s->parent_) {
    auto it = s->vars_.find(key);
    if (it != s->vars_.end()) return &it->second;
  }
  return nullptr;
}

struct Interpreter::DepthGuard {
  explicit DepthGuard(Interpreter& in) : in_(in) {
    if (++in_.depth_ > in_.limits_.max_depth)
      throw tern::error("chat template: nesting depth limit of ", in_.limits_.max_depth,
                        " exceeded (runaway recursion?)");
  }
  ~DepthGuard() { --in_.depth_; }
  Interpreter& in_;
};

// A child scope for the duration of a block.
struct Interpreter::Frame {
  Frame(Interpreter& in, Scope* parent) : in_(in), scope(in.new_scope(parent)) {}
  ~Frame() { in_.release_scope(scope); }
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;
  Interpreter& in_;
  Scope& scope;
};

Interpreter::Interpreter(const Limits& limits, Heap& heap) : limits_(limits), heap_(heap) {}

std::string Interpreter::render(const Body& body, Scope& globals) {
  std::string out;
  try {
    exec_body(body, globals, out);
  } catch (const TemplateRaised&) {
    throw;
  } catch (const tern::Error& e) {
    throw tern::error(kErrorPrefix, "line ", pos_.line, ": ", without_prefix(e.what()));
  } catch (const std::exception& e) {
    // A library exception (allocation failure, say) still fails only this render.
    throw tern::error(kErrorPrefix, "line ", pos_.line, ": internal error: ", e.what());
  }
  return out;
}

void Interpreter::charge_steps(uint64_t steps) {
  steps_ += steps;
  if (steps_ > limits_.max_steps)
    throw tern::error("chat template: step budget of ", limits_.max_steps, " exceeded (runaway loop?)");
}

Value Interpreter::make_string(std::string s) {
  if (s.size() > limits_.max_output_bytes)
    throw tern::error("chat template: string of ", s.size(), " bytes exceeds the output budget");
  charge_steps(s.size() / kBytesPerStep);
  return heap_.make_string(std::move(s));
}

Scope& Interpreter::new_scope(Scope* parent) {
  if (!free_scopes_.empty()) {
    Scope* scope = free_scopes_.back();
    free_scopes_.pop_back();
    scope->reset(parent);
    return *scope;
  }
  heap_.charge(sizeof(Scope) + 64);
  return scopes_.emplace_back(parent);
}

void Interpreter::release_scope(Scope& scope) {
  if (!scope.captured()) free_scopes_.push_back(&scope);
}

Value Interpreter::to_string(const Value& v) {
  if (v.is_string()) return v;
  std::string s;
  append_py_str(s, v, limits_.max_output_bytes);
  return make_string(std::move(s));
}

void Interpreter::emit(std::string& out, std::string_view text) {
  output_bytes_ += text.size();
  if (output_bytes_ > limits_.max_output_bytes)
    throw tern::error("chat template: output budget of ", limits_.max_output_bytes, " bytes exceeded");
  charge_steps(text.size() / kBytesPerStep);
  out += text;
}

void Interpreter::emit_value(std::string& out, const Value& v) {
  if (v.is_string()) {
    emit(out, v.str());
    return;
  }
  std::string s;
  append_py_str(s, v, limits_.max_output_bytes);
  emit(out, s);
}

// --- statements ---

Interpreter::Flow Interpreter::exec_body(const Body& body, Scope& scope, std::string& out) {
  for (const StmtPtr& stmt : body) {
    Flow flow = exec(*stmt, scope, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt, Scope& scope, std::string& out) {
  DepthGuard guard(*this);
  charge_steps(1);
  pos_ = stmt.pos;
  const auto& node = stmt.node;
  if (const auto* n = std::get_if<ast::Output>(&node)) {
    emit(out, n->text);
  } else if (const auto* n = std::get_if<ast::Print>(&node)) {
    emit_value(out, eval(*n->expr, scope));
  } else if (const auto* n = std::get_if<ast::If>(&node)) {
    for (const auto& [test, body] : n->branches)
      if (truthy(eval(*test, scope))) return exec_body(body, scope, out);
    return exec_body(n->otherwise, scope, out);
  } else if (const auto* n = std::get_if<ast::For>(&node)) {
    exec_for(*n, scope, out);
  } else if (const auto* n = std::get_if<ast::Set>(&node)) {
    assign(n->target, eval(*n->value, scope), scope);
  } else if (const auto* n = std::get_if<ast::SetBlock>(&node)) {
    std::string captured;
    {
      Frame frame(*this, &scope);
      exec_body(n->body, frame.scope, captured);
    }
    Value value = make_string(std::move(captured));
    if (n->filter) value = apply_filter_chain(*n->filter, scope, value);
    assign(n->target, value, scope);
  } else if (const auto* n = std::get_if<ast::MacroStmt>(&node)) {
    CallableObj macro;
    macro.type = CallableObj::Type::kMacro;
    macro.macro = &n->def;
    macro.closure = &scope;
    scope.capture();
    scope.set(n->def.name, Value::callable(heap_.make_callable(macro)));
  } else if (const auto* n = std::get_if<ast::CallBlock>(&node)) {
    exec_call_block(*n, scope, out);
  } else if (const auto* n = std::get_if<ast::FilterBlock>(&node)) {
    std::string captured;
    {
      Frame frame(*this, &scope);
      exec_body(n->body, frame.scope, captured);
    }
    emit_value(out, apply_filter_chain(*n->filter, scope, make_string(std::move(captured))));
  } else if (const auto* n = std::get_if<ast::With>(&node)) {
    Frame frame(*this, &scope);
    for (const auto& [target, value] : n->assignments) assign(target, eval(*value, scope), frame.scope);
    return exec_body(n->body, frame.scope, out);
  } else if (const auto* n = std::get_if<ast::Scoped>(&node)) {
    Frame frame(*this, &scope);
    return exec_body(n->body, frame.scope, out);
  } else if (std::holds_alternative<ast::Break>(node)) {
    return Flow::kBreak;
  } else if (std::holds_alternative<ast::Continue>(node)) {
    return Flow::kContinue;
  }
  return Flow::kNormal;
}

void Interpreter::exec_for(const ast::For& node, Scope& scope, std::string& out) {
  std::vector<Value> all = iterate(eval(*node.iterable, scope));
  // The items live on the heap: `loop` may outlive this call (stored in a namespace).
  ListObj* items = heap_.make_list();
  heap_.charge(all.size() * sizeof(Value));
  if (node.filter) {
    for (const Value& item : all) {
      charge_steps(1);
      Frame frame(*this, &scope);
      assign(node.target, item, frame.scope);
      if (truthy(eval(*node.filter, frame.scope))) items->items.push_back(item);
    }
  } else {
    items->items = std::move(all);
  }
  if (items->items.empty()) {
    Frame frame(*this, &scope);
    exec_body(node.otherwise, frame.scope, out);
    return;
  }
  LoopObj* loop = heap_.make_loop();
  loop->items = &items->items;
  // Each iteration starts from the outer variables: Jinja re-resolves loop-body
  // names per iteration, so a {% set %} does not carry over to the next one.
  for (size_t i = 0; i < items->items.size(); ++i) {
    charge_steps(1);
    Frame frame(*this, &scope);
    loop->index0 = static_cast<int64_t>(i);
    frame.scope.set("loop", Value::loop(loop));
    assign(node.target, items->items[i], frame.scope);
    if (exec_body(node.body, frame.scope, out) == Flow::kBreak) break;
  }
}

void Interpreter::exec_call_block(const ast::CallBlock& node, Scope& scope, std::string& out) {
  const auto& call = std::get<ast::Call>(node.call->node);
  Value callee = eval(*call.callee, scope);
  CallArgs args = eval_args(call.args, scope);
  if (!callee.is(Kind::kCallable) || callee.callable().type != CallableObj::Type::kMacro)
    throw tern::error("chat template: {% call %} needs a macro, got ", type_name(callee));
  CallableObj caller;
  caller.type = CallableObj::Type::kMacro;
  caller.macro = &node.caller;
  caller.closure = &scope;
  scope.capture();
  emit_value(out, call_macro(callee.callable(), args, Value::callable(heap_.make_callable(caller))));
}

void Interpreter::assign(const Target& target, const Value& value, Scope& scope) {
  if (!target.attribute.empty()) {
    const Value* ns = scope.find(target.names[0]);
    if (ns == nullptr || !ns->is(Kind::kNamespace))
      throw tern::error("chat template: cannot assign attribute on non-namespace object");
    heap_.set(ns->dict(), Value::string(&target.attribute), value);
    return;
  }
  if (!target.is_tuple) {
    scope.set(target.names[0], value);
    return;
  }
  if (value.is_undefined()) throw_undefined(value);
  std::vector<Value> parts = iterate(value);
  if (parts.size() != target.names.size())
    throw tern::error("chat template: cannot unpack ", parts.size(), " values into ", target.names.size(), " names");
  for (size_t i = 0; i < parts.size(); ++i) scope.set(target.names[i], parts[i]);
}

// --- expressions ---

CallArgs Interpreter::eval_args(const CallArgsExpr& args, Scope& scope) {
  CallArgs result;
  result.positional.reserve(args.positional.size());
  for (const ExprPtr& e : args.positional) result.positional.push_back(eval(*e, scope));
  for (const auto& [name, e] : args.keyword) result.keyword.emplace_back(name, eval(*e, scope));
  return result;
}

Value Interpreter::eval(const Expr& expr, Scope& scope) {
  DepthGuard guard(*this);
  charge_steps(1);
  pos_ = expr.pos;
  const auto& node = expr.node;
  if (std::holds_alternative<ast::NoneLit>(node)) return Value::none();
  if (const auto* n = std::get_if<ast::BoolLit>(&node)) return Value::boolean(n->value);
  if (const auto* n = std::get_if<ast::IntLit>(&node)) return Value::integer(n->value);
  if (const auto* n = std::get_if<ast::FloatLit>(&node)) return Value::number(n->value);
  if (const auto* n = std::get_if<ast::StringLit>(&node)) return Value::string(&n->value);
  if (const auto* n = std::get_if<ast::Name>(&node)) {
    if (const Value* v = scope.find(n->name)) return *v;
    if (auto builtin = find_builtin(n->name)) {
      CallableObj c;
      c.type = CallableObj::Type::kBuiltin;
      c.id = static_cast<int>(*builtin);
      return Value::callable(heap_.make_callable(c));
    }
    return Value::undefined(&n->name);
  }
  if (const auto* n = std::get_if<ast::ListLit>(&node)) {
    ListObj* list = heap_.make_list(n->is_tuple);
    for (const ExprPtr& item : n->items) heap_.append(*list, eval(*item, scope));
    return Value::list(list);
  }
  if (const auto* n = std::get_if<ast::DictLit>(&node)) {
    DictObj* dict = heap_.make_dict();
    for (const auto& [key_expr, value_expr] : n->items) {
      Value key = eval(*key_expr, scope);
      if (!is_hashable(key)) throw tern::error("chat template: unhashable type: '", type_name(key), "'");
      heap_.set(*dict, key, eval(*value_expr, scope));
    }
    return Value::dict(dict);
  }
  if (const auto* n = std::get_if<ast::GetAttr>(&node)) return getattr(eval(*n->object, scope), n->name);
  if (const auto* n = std::get_if<ast::GetItem>(&node)) {
    Value object = eval(*n->object, scope);
    return getitem(object, eval(*n->index, scope));
  }
  if (const auto* n = std::get_if<ast::Slice>(&node)) {
    Value object = eval(*n->object, scope);
    auto part = [&](const ExprPtr& e) { return e ? eval(*e, scope) : Value::none(); };
    Value start = part(n->start);
    Value stop = part(n->stop);
    return slice_value(*this, object, start, stop, part(n->step));
  }
  if (const auto* n = std::get_if<ast::Unary>(&node)) {
    Value v = eval(*n->operand, scope);
    if (n->op == UnaryOp::kNot) return Value::boolean(!truthy(v));
    return negate(v, n->op == UnaryOp::kNeg);
  }
  if (const auto* n = std::get_if<ast::Binary>(&node)) {
    Value left = eval(*n->left, scope);
    if (n->op == BinaryOp::kAnd) return truthy(left) ? eval(*n->right, scope) : left;
    if (n->op == BinaryOp::kOr) return truthy(left) ? left : eval(*n->right, scope);
    Value right = eval(*n->right, scope);
    return binary_op(*this, n->op, left, right);
  }
  if (const auto* n = std::get_if<ast::Compare>(&node)) {
    Value left = eval(*n->first, scope);
    for (const auto& [op, operand] : n->rest) {
      Value right = eval(*operand, scope);
      if (!compare_op(op, left, right)) return Value::boolean(false);
      left = right;
    }
    return Value::boolean(true);
  }
  if (const auto* n = std::get_if<ast::Concat>(&node)) {
    std::string s;
    for (const ExprPtr& part : n->parts) append_py_str(s, eval(*part, scope), limits_.max_output_bytes);
    return make_string(std::move(s));
  }
  if (const auto* n = std::get_if<ast::CondExpr>(&node)) {
    if (truthy(eval(*n->test, scope))) return eval(*n->then, scope);
    return n->otherwise ? eval(*n->otherwise, scope) : Value::undefined(nullptr);
  }
  if (const auto* n = std::get_if<ast::Call>(&node)) {
    Value callee = eval(*n->callee, scope);
    return call(callee, eval_args(n->args, scope));
  }
  if (const auto* n = std::get_if<ast::Filter>(&node)) return eval_filter(*n, scope, nullptr);
  const auto& test = std::get<ast::Test>(node);
  Value operand = eval(*test.operand, scope);
  bool result = apply_test(test.name, operand, eval_args(test.args, scope));
  return Value::boolean(result != test.negated);
}

Value Interpreter::eval_filter(const ast::Filter& node, Scope& scope, const Value* seed) {
  Value operand;
  if (!node.operand) {
    operand = *seed;
  } else if (seed != nullptr) {
    operand = apply_filter_chain(*node.operand, scope, *seed);
  } else {
    operand = eval(*node.operand, scope);
  }
  return apply_filter(node.name, operand, eval_args(node.args, scope));
}

Value Interpreter::apply_filter_chain(const Expr& chain, Scope& scope, const Value& seed) {
  return eval_filter(std::get<ast::Filter>(chain.node), scope, &seed);
}

Value Interpreter::apply_filter(std::string_view name, const Value& operand, const CallArgs& args) {
  FilterFn fn = find_filter(name);
  if (fn == nullptr) throw tern::error("chat template: no filter named '", name, "'");
  return fn(*this, operand, args);
}

bool Interpreter::apply_test(std::string_view name, const Value& operand, const CallArgs& args) {
  TestFn fn = find_test(name);
  if (fn == nullptr) throw tern::error("chat template: no test named '", name, "'");
  return fn(*this, operand, args);
}

// --- lookups and calls ---

Value Interpreter::getattr(const Value& object, const std::string& name) {
  if (object.is_undefined()) throw_undefined(object);
  if (auto method = find_method(object, name)) {
    CallableObj c;
    c.type = CallableObj::Type::kMethod;
    c.id = static_cast<int>(*method);
    c.self = object;
    return Value::callable(heap_.make_callable(c));
  }
  if (object.is(Kind::kDict) || object.is(Kind::kNamespace)) {
    if (const Value* v = object.dict().find_string(name)) return *v;
  } else if (object.is(Kind::kLoop)) {
    return loop_attribute(object.loop(), object, name);
  }
  return Value::undefined(&name);
}

Value Interpreter::getitem(const Value& object, const Value& key) {
  if (object.is_undefined()) throw_undefined(object);
  switch (object.kind()) {
    case Kind::kDict:
      if (is_hashable(key))
        if (const Value* v = object.dict().find(key)) return *v;
      break;
    case Kind::kNamespace:
    case Kind::kLoop:
      if (key.is_string()) return getattr(object, key.str());
      break;
    case Kind::kList:
      if (key.is_integral()) {
        const auto& items = object.list().items;
        int64_t i = key.as_int();
        if (i < 0) i += static_cast<int64_t>(items.size());
        if (i >= 0 && i < static_cast<int64_t>(items.size())) return items[i];
      }
      break;
    case Kind::kString:
      if (key.is_integral()) {
        const std::string& s = object.str();
        charge_steps(s.size() / kBytesPerStep);
        std::vector<size_t> offsets = code_point_offsets(s);
        int64_t count = static_cast<int64_t>(offsets.size()) - 1;
        int64_t i = key.as_int();
        if (i < 0) i += count;
        if (i >= 0 && i < count) return make_string(s.substr(offsets[i], offsets[i + 1] - offsets[i]));
      }
      break;
    default:
      break;
  }
  if (key.is_string()) {
    if (auto method = find_method(object, key.str())) return getattr(object, key.str());
    return Value::undefined(&key.str());
  }
  return Value::undefined(nullptr);
}

Value Interpreter::loop_attribute(const LoopObj& loop, const Value& self, const std::string& name) {
  int64_t n = loop.length();
  int64_t i = loop.index0;
  if (name == "index") return Value::integer(i + 1);
  if (name == "index0") return Value::integer(i);
  if (name == "revindex") return Value::integer(n - i);
  if (name == "revindex0") return Value::integer(n - i - 1);
  if (name == "first") return Value::boolean(i == 0);
  if (name == "last") return Value::boolean(i == n - 1);
  if (name == "length") return Value::integer(n);
  if (name == "depth") return Value::integer(1);
  if (name == "depth0") return Value::integer(0);
  if (name == "previtem") return i > 0 ? (*loop.items)[i - 1] : Value::undefined(&name);
  if (name == "nextitem") return i + 1 < n ? (*loop.items)[i + 1] : Value::undefined(&name);
  if (name == "cycle") {
    CallableObj c;
    c.type = CallableObj::Type::kLoopCycle;
    c.self = self;
    return Value::callable(heap_.make_callable(c));
  }
  return Value::undefined(&name);
}

Value Interpreter::call(const Value& callee, const CallArgs& args) {
  if (callee.is_undefined()) throw_undefined(callee);
  if (!callee.is(Kind::kCallable)) throw tern::error("chat template: '", type_name(callee), "' object is not callable");
  const CallableObj& c = callee.callable();
  switch (c.type) {
    case CallableObj::Type::kBuiltin:
      return call_builtin(*this, static_cast<Builtin>(c.id), args);
    case CallableObj::Type::kMethod:
      return call_method(*this, static_cast<Method>(c.id), c.self, args);
    case CallableObj::Type::kMacro:
      return call_macro(c, args, Value::undefined(nullptr));
    case CallableObj::Type::kLoopCycle: {
      if (args.positional.empty()) throw tern::error("chat template: no items for cycling given");
      const LoopObj& loop = c.self.loop();
      return args.positional[static_cast<size_t>(loop.index0) % args.positional.size()];
    }
  }
  return Value::undefined(nullptr);
}

Value Interpreter::call_macro(const CallableObj& callable, const CallArgs& args, const Value& caller) {
  const MacroDef& def = *callable.macro;
  DepthGuard guard(*this);
  Frame frame(*this, callable.closure);
  Scope& scope = frame.scope;
  size_t n = def.params.size();
  if (args.positional.size() > n && !def.uses_varargs)
    throw tern::error("chat template: macro '", def.name, "' takes not more than ", n, " argument(s)");
  std::vector<bool> used_keyword(args.keyword.size(), false);
  for (size_t i = 0; i < n; ++i) {
    const MacroParam& param = def.params[i];
    if (i < args.positional.size()) {
      scope.set(param.name, args.positional[i]);
      continue;
    }
    bool found = false;
    for (size_t k = 0; k < args.keyword.size(); ++k) {
      if (args.keyword[k].first != param.name) continue;
      scope.set(param.name, args.keyword[k].second);
      used_keyword[k] = found = true;
      break;
    }
    if (found) continue;
    // Defaults see the parameters bound before them, as in Jinja.
    scope.set(param.name, param.default_value ? eval(*param.default_value, scope) : Value::undefined(&param.name));
  }
  if (def.uses_varargs) {
    ListObj* extra = heap_.make_list(true);
    for (size_t i = n; i < args.positional.size(); ++i) heap_.append(*extra, args.positional[i]);
    scope.set("varargs", Value::list(extra));
  }
  DictObj* kwargs = def.uses_kwargs ? heap_.make_dict() : nullptr;
  for (size_t k = 0; k < args.keyword.size(); ++k) {
    if (used_keyword[k]) continue;
    if (kwargs == nullptr)
      throw tern::error("chat template: macro '", def.name, "' takes no keyword argument '", args.keyword[k].first,
                        "'");
    heap_.set(*kwargs, make_string(std::string(args.keyword[k].first)), args.keyword[k].second);
  }
  if (kwargs != nullptr) scope.set("kwargs", Value::dict(kwargs));
  if (!caller.is_undefined() && !def.uses_caller)
    throw tern::error("chat template: macro '", def.name, "' was called with {% call %} but never uses caller");
  if (def.uses_caller) {
    static const std::string kCaller = "caller";
    scope.set("caller", caller.is_undefined() ? Value::undefined(&kCaller) : caller);
  }
  std::string out;
  exec_body(def.body, scope, out);
  return make_string(std::move(out));
}

std::vector<Value> Interpreter::iterate(const Value& v) {
  std::vector<Value> items;
  switch (v.kind()) {
    case Kind::kUndefined:
      break;
    case Kind::kList:
      items = v.list().items;
      break;
    case Kind::kDict:
      items.reserve(v.dict().entries.size());
      for (const auto& entry : v.dict().entries) items.push_back(entry.first);
      break;
    case Kind::kString: {
      const std::string& s = v.str();
      size_t pos = 0;
      while (pos < s.size()) {
        size_t start = pos;
        next_code_point(s, pos);
        items.push_back(make_string(s.substr(start, pos - start)));
      }
      break;
    }
    default:
      throw tern::error("chat template: '", type_name(v), "' object is not iterable");
  }
  charge_steps(items.size());
  return items;
}

}  // namespace tern::jinja
