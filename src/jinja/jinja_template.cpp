#include "jinja/jinja_template.h"

#include "base/error.h"
#include "jinja/jinja_filters.h"
#include "jinja/jinja_lexer.h"
#include "jinja/jinja_parser.h"
#include "jinja/jinja_predicates.h"

namespace tern::jinja {
namespace {

// JSON input nested deeper than this is refused (no real message or tool is).
constexpr int kMaxJsonDepth = 256;

[[noreturn]] void fail_at(SourcePos pos, const std::string& message) {
  throw tern::error("chat template: line ", pos.line, ", column ", pos.column, ": ", message);
}

// Jinja resolves filter and test names at compile time, except inside if-statements
// and conditional expressions ("soft" frames), where an unknown name fails only when
// evaluated. Nested blocks with their own frame (for, macro, ...) are not soft.
class NameChecker {
 public:
  void body(const Body& stmts, bool soft) {
    for (const StmtPtr& s : stmts) stmt(*s, soft);
  }

 private:
  void stmt(const Stmt& s, bool soft) {
    const auto& node = s.node;
    if (const auto* n = std::get_if<ast::Print>(&node)) {
      expr(n->expr.get(), soft);
    } else if (const auto* n = std::get_if<ast::If>(&node)) {
      for (const auto& [test, branch] : n->branches) {
        expr(test.get(), true);
        body(branch, true);
      }
      body(n->otherwise, true);
    } else if (const auto* n = std::get_if<ast::For>(&node)) {
      expr(n->iterable.get(), soft);
      expr(n->filter.get(), false);
      body(n->body, false);
      body(n->otherwise, soft);
    } else if (const auto* n = std::get_if<ast::Set>(&node)) {
      expr(n->value.get(), soft);
    } else if (const auto* n = std::get_if<ast::SetBlock>(&node)) {
      expr(n->filter.get(), false);
      body(n->body, false);
    } else if (const auto* n = std::get_if<ast::MacroStmt>(&node)) {
      macro(n->def);
    } else if (const auto* n = std::get_if<ast::CallBlock>(&node)) {
      expr(n->call.get(), soft);
      macro(n->caller);
    } else if (const auto* n = std::get_if<ast::FilterBlock>(&node)) {
      expr(n->filter.get(), false);
      body(n->body, false);
    } else if (const auto* n = std::get_if<ast::With>(&node)) {
      for (const auto& [target, value] : n->assignments) expr(value.get(), soft);
      body(n->body, false);
    } else if (const auto* n = std::get_if<ast::Scoped>(&node)) {
      body(n->body, false);
    }
  }

  void macro(const MacroDef& def) {
    for (const MacroParam& p : def.params) expr(p.default_value.get(), false);
    body(def.body, false);
  }

  void args(const CallArgsExpr& a, bool soft) {
    for (const ExprPtr& e : a.positional) expr(e.get(), soft);
    for (const auto& [name, e] : a.keyword) expr(e.get(), soft);
  }

  void expr(const Expr* e, bool soft) {
    if (e == nullptr) return;
    const auto& node = e->node;
    if (const auto* n = std::get_if<ast::Filter>(&node)) {
      if (!soft && find_filter(n->name) == nullptr && !is_known_filter(n->name))
        fail_at(e->pos, "no filter named '" + n->name + "'");
      expr(n->operand.get(), soft);
      args(n->args, soft);
    } else if (const auto* n = std::get_if<ast::Test>(&node)) {
      if (!soft && !is_known_test(n->name)) fail_at(e->pos, "no test named '" + n->name + "'");
      expr(n->operand.get(), soft);
      args(n->args, soft);
    } else if (const auto* n = std::get_if<ast::CondExpr>(&node)) {
      expr(n->test.get(), true);
      expr(n->then.get(), true);
      expr(n->otherwise.get(), true);
    } else if (const auto* n = std::get_if<ast::ListLit>(&node)) {
      for (const ExprPtr& item : n->items) expr(item.get(), soft);
    } else if (const auto* n = std::get_if<ast::DictLit>(&node)) {
      for (const auto& [k, v] : n->items) {
        expr(k.get(), soft);
        expr(v.get(), soft);
      }
    } else if (const auto* n = std::get_if<ast::GetAttr>(&node)) {
      expr(n->object.get(), soft);
    } else if (const auto* n = std::get_if<ast::GetItem>(&node)) {
      expr(n->object.get(), soft);
      expr(n->index.get(), soft);
    } else if (const auto* n = std::get_if<ast::Slice>(&node)) {
      for (const ExprPtr* part : {&n->object, &n->start, &n->stop, &n->step}) expr(part->get(), soft);
    } else if (const auto* n = std::get_if<ast::Unary>(&node)) {
      expr(n->operand.get(), soft);
    } else if (const auto* n = std::get_if<ast::Binary>(&node)) {
      expr(n->left.get(), soft);
      expr(n->right.get(), soft);
    } else if (const auto* n = std::get_if<ast::Compare>(&node)) {
      expr(n->first.get(), soft);
      for (const auto& [op, operand] : n->rest) expr(operand.get(), soft);
    } else if (const auto* n = std::get_if<ast::Concat>(&node)) {
      for (const ExprPtr& part : n->parts) expr(part.get(), soft);
    } else if (const auto* n = std::get_if<ast::Call>(&node)) {
      expr(n->callee.get(), soft);
      args(n->args, soft);
    }
  }
};

Value from_json(Heap& heap, const nlohmann::ordered_json& j, int depth) {
  if (depth > kMaxJsonDepth) throw tern::error("chat template: input JSON nested deeper than ", kMaxJsonDepth);
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX))
        throw tern::error("chat template: integer ", u, " does not fit in 64 bits");
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return heap.make_string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      ListObj* list = heap.make_list();
      for (const auto& item : j) heap.append(*list, from_json(heap, item, depth + 1));
      return Value::list(list);
    }
    case nlohmann::ordered_json::value_t::object: {
      DictObj* dict = heap.make_dict();
      for (const auto& [key, value] : j.items())
        heap.set(*dict, heap.make_string(key), from_json(heap, value, depth + 1));
      return Value::dict(dict);
    }
    default:
      throw tern::error("chat template: unsupported JSON value in the context");
  }
}

}  // namespace

Template::Template(std::string_view source) {
  auto body = std::make_shared<Body>(parse(tokenize(source)));
  NameChecker().body(*body, false);
  body_ = std::move(body);
}

std::string Template::render(const nlohmann::ordered_json& context, const Limits& limits) const {
  if (!context.is_object()) throw tern::error("chat template: the render context must be a JSON object");
  Heap heap(limits.max_memory_bytes);
  Interpreter interpreter(limits, heap);
  Scope globals(nullptr);
  for (const auto& [key, value] : context.items()) globals.set(key, from_json(heap, value, 0));
  return interpreter.render(*body_, globals);
}

}  // namespace tern::jinja
