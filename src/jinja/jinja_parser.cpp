#include "jinja/jinja_parser.h"

#include <initializer_list>
#include <string_view>

#include "base/error.h"

namespace tern::jinja {
namespace {

// Each level is a chain of ~15 C++ frames; this keeps parsing well inside any stack.
constexpr int kMaxNesting = 100;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Body parse_template() {
    Body body = subparse({});
    if (current().kind != TokenKind::kEnd) fail("unexpected " + describe(current()));
    return body;
  }

 private:
  // --- token stream ---

  const Token& current() const { return tokens_[index_]; }
  const Token& look() const { return tokens_[std::min(index_ + 1, tokens_.size() - 1)]; }
  const Token& advance() {
    const Token& t = tokens_[index_];
    if (index_ + 1 < tokens_.size()) ++index_;
    return t;
  }

  static bool is_op(const Token& t, std::string_view op) { return t.kind == TokenKind::kOperator && t.text == op; }
  static bool is_name(const Token& t, std::string_view name) { return t.kind == TokenKind::kName && t.text == name; }
  bool skip_op(std::string_view op) {
    if (!is_op(current(), op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(current(), name)) return false;
    advance();
    return true;
  }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case TokenKind::kEnd:
        return "end of template";
      case TokenKind::kBlockBegin:
        return "'{%'";
      case TokenKind::kBlockEnd:
        return "end of statement block";
      case TokenKind::kVariableBegin:
        return "'{{'";
      case TokenKind::kVariableEnd:
        return "end of print statement";
      case TokenKind::kData:
        return "template data";
      case TokenKind::kString:
        return "string";
      case TokenKind::kInteger:
      case TokenKind::kFloat:
        return "number";
      default:
        return "'" + t.text + "'";
    }
  }

  [[noreturn]] void fail(const std::string& message) const { fail_at(current().pos, message); }
  [[noreturn]] static void fail_at(SourcePos pos, const std::string& message) {
    throw tern::error("chat template: line ", pos.line, ", column ", pos.column, ": ", message);
  }

  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail("expected '" + std::string(op) + "', got " + describe(current()));
  }
  void expect_kind(TokenKind kind, const char* what) {
    if (current().kind != kind) fail(std::string("expected ") + what + ", got " + describe(current()));
    advance();
  }
  std::string expect_identifier() {
    if (current().kind != TokenKind::kName) fail("expected a name, got " + describe(current()));
    return advance().text;
  }

  // RAII nesting counter shared by statements and expressions.
  struct Nest {
    explicit Nest(Parser& p) : parser(p) {
      if (++parser.depth_ > kMaxNesting) parser.fail("template nested too deeply");
    }
    ~Nest() { --parser.depth_; }
    Parser& parser;
  };

  template <typename Node>
  ExprPtr make_expr(SourcePos pos, Node node) {
    auto e = std::make_unique<Expr>();
    e->pos = pos;
    e->node = std::move(node);
    return e;
  }
  template <typename Node>
  StmtPtr make_stmt(SourcePos pos, Node node) {
    auto s = std::make_unique<Stmt>();
    s->pos = pos;
    s->node = std::move(node);
    return s;
  }

  // --- statements ---

  // Parses until a block whose first name is one of `end_names` (left unconsumed, as
  // the current token) or the end of the template.
  Body subparse(std::initializer_list<std::string_view> end_names) {
    Body body;
    while (true) {
      const Token& t = current();
      if (t.kind == TokenKind::kEnd) return body;
      if (t.kind == TokenKind::kData) {
        body.push_back(make_stmt(t.pos, ast::Output{t.text}));
        advance();
      } else if (t.kind == TokenKind::kVariableBegin) {
        SourcePos pos = t.pos;
        advance();
        ExprPtr e = parse_tuple(true, false);
        expect_kind(TokenKind::kVariableEnd, "end of print statement");
        body.push_back(make_stmt(pos, ast::Print{std::move(e)}));
      } else if (t.kind == TokenKind::kBlockBegin) {
        advance();
        for (std::string_view name : end_names)
          if (is_name(current(), name)) return body;
        body.push_back(parse_statement());
        expect_kind(TokenKind::kBlockEnd, "end of statement block");
      } else {
        fail("unexpected " + describe(t));
      }
    }
  }

  // `{% tag ... %}` body up to one of `end_names`; with drop_end the end name is consumed.
  Body parse_statements(std::initializer_list<std::string_view> end_names, bool drop_end) {
    skip_op(":");
    expect_kind(TokenKind::kBlockEnd, "end of statement block");
    Body body = subparse(end_names);
    if (current().kind == TokenKind::kEnd) {
      std::string expected;
      for (std::string_view name : end_names) expected += (expected.empty() ? "'" : " or '") + std::string(name) + "'";
      fail("unexpected end of template, expected " + expected);
    }
    if (drop_end) advance();
    return body;
  }

  StmtPtr parse_statement() {
    Nest nest(*this);
    const Token& t = current();
    if (t.kind != TokenKind::kName) fail("tag name expected");
    SourcePos pos = t.pos;
    const std::string tag = t.text;
    if (tag == "if") return parse_if(pos);
    if (tag == "for") return parse_for(pos);
    if (tag == "set") return parse_set(pos);
    if (tag == "macro") return parse_macro(pos);
    if (tag == "call") return parse_call_block(pos);
    if (tag == "filter") return parse_filter_block(pos);
    if (tag == "with") return parse_with(pos);
    if (tag == "print") return parse_print(pos);
    if (tag == "generation") {
      advance();
      return make_stmt(pos, ast::Scoped{parse_statements({"endgeneration"}, true)});
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail("'" + tag + "' outside of a loop");
      advance();
      return tag == "break" ? make_stmt(pos, ast::Break{}) : make_stmt(pos, ast::Continue{});
    }
    fail("unknown or unsupported tag '" + tag + "'");
  }

  StmtPtr parse_if(SourcePos pos) {
    advance();
    ast::If node;
    while (true) {
      ExprPtr test = parse_tuple(false, false);
      Body body = parse_statements({"elif", "else", "endif"}, false);
      node.branches.emplace_back(std::move(test), std::move(body));
      std::string end = advance().text;
      if (end == "elif") continue;
      if (end == "else") node.otherwise = parse_statements({"endif"}, true);
      break;
    }
    return make_stmt(pos, std::move(node));
  }

  StmtPtr parse_for(SourcePos pos) {
    advance();
    ast::For node;
    node.target = parse_target(false, "in");
    if (!skip_name("in")) fail("expected 'in', got " + describe(current()));
    node.iterable = parse_tuple(false, false, "recursive");
    if (skip_name("if")) node.filter = parse_expression(true);
    if (is_name(current(), "recursive")) fail("recursive loops are not supported");
    ++loop_depth_;
    node.body = parse_statements({"endfor", "else"}, false);
    --loop_depth_;
    if (advance().text == "else") node.otherwise = parse_statements({"endfor"}, true);
    return make_stmt(pos, std::move(node));
  }

  StmtPtr parse_set(SourcePos pos) {
    advance();
    Target target = parse_target(true, "");
    if (skip_op("=")) return make_stmt(pos, ast::Set{std::move(target), parse_tuple(true, false)});
    ast::SetBlock node;
    node.target = std::move(target);
    if (is_op(current(), "|")) node.filter = parse_filters(nullptr, false);
    node.body = parse_statements({"endset"}, true);
    return make_stmt(pos, std::move(node));
  }

  StmtPtr parse_macro(SourcePos pos) {
    advance();
    ast::MacroStmt node;
    node.def.name = expect_identifier();
    if (!is_op(current(), "(")) fail("expected '(' after the macro name");
    parse_signature(node.def);
    parse_macro_body(node.def, "endmacro");
    return make_stmt(pos, std::move(node));
  }

  StmtPtr parse_call_block(SourcePos pos) {
    advance();
    ast::CallBlock node;
    node.caller.name = "caller";
    if (is_op(current(), "(")) parse_signature(node.caller);
    node.call = parse_expression(true);
    if (!std::holds_alternative<ast::Call>(node.call->node)) fail_at(pos, "expected a call after 'call'");
    parse_macro_body(node.caller, "endcall");
    return make_stmt(pos, std::move(node));
  }

  void parse_macro_body(MacroDef& def, std::string_view end) {
    int saved_loops = loop_depth_;
    loop_depth_ = 0;
    macros_.push_back(&def);
    def.body = parse_statements({end}, true);
    macros_.pop_back();
    loop_depth_ = saved_loops;
  }

  void parse_signature(MacroDef& def) {
    expect_op("(");
    while (!is_op(current(), ")")) {
      if (!def.params.empty()) expect_op(",");
      if (is_op(current(), ")")) break;
      MacroParam param;
      param.name = expect_identifier();
      if (skip_op("=")) {
        param.default_value = parse_expression(true);
      } else if (!def.params.empty() && def.params.back().default_value) {
        fail("non-default argument follows default argument");
      }
      def.params.push_back(std::move(param));
    }
    expect_op(")");
  }

  StmtPtr parse_filter_block(SourcePos pos) {
    advance();
    ast::FilterBlock node;
    node.filter = parse_filters(nullptr, true);
    node.body = parse_statements({"endfilter"}, true);
    return make_stmt(pos, std::move(node));
  }

  StmtPtr parse_with(SourcePos pos) {
    advance();
    ast::With node;
    while (current().kind != TokenKind::kBlockEnd) {
      if (!node.assignments.empty()) expect_op(",");
      Target target = parse_target(false, "");
      expect_op("=");
      node.assignments.emplace_back(std::move(target), parse_expression(true));
    }
    node.body = parse_statements({"endwith"}, true);
    return make_stmt(pos, std::move(node));
  }

  StmtPtr parse_print(SourcePos pos) {
    advance();
    ast::Concat all;
    while (current().kind != TokenKind::kBlockEnd) {
      if (!all.parts.empty()) expect_op(",");
      all.parts.push_back(parse_expression(true));
    }
    return make_stmt(pos, ast::Print{make_expr(pos, std::move(all))});
  }

  // A name, `ns.attr` (with_namespace) or names separated by commas, optionally in
  // parentheses; stops before `end_name`.
  Target parse_target(bool with_namespace, std::string_view end_name) {
    Target target;
    if (with_namespace && current().kind == TokenKind::kName && is_op(look(), ".")) {
      target.names.push_back(advance().text);
      advance();
      target.attribute = expect_identifier();
      return target;
    }
    bool parens = skip_op("(");
    while (true) {
      target.names.push_back(expect_identifier());
      if (!is_op(current(), ",")) break;
      advance();
      target.is_tuple = true;
      if (current().kind != TokenKind::kName || (!end_name.empty() && is_name(current(), end_name))) break;
    }
    if (parens) {
      expect_op(")");
      target.is_tuple = true;
    }
    for (const std::string& name : target.names)
      if (name == "true" || name == "false" || name == "none" || name == "True" || name == "False" || name == "None")
        fail("cannot assign to '" + name + "'");
    return target;
  }

  // --- expressions ---

  // Comma-separated expressions; more than one (or a trailing comma) make a tuple.
  ExprPtr parse_tuple(bool with_condexpr, bool explicit_parens, std::string_view extra_end = "") {
    SourcePos pos = current().pos;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      const Token& t = current();
      if (t.kind == TokenKind::kVariableEnd || t.kind == TokenKind::kBlockEnd || is_op(t, ")") ||
          (!extra_end.empty() && is_name(t, extra_end)))
        break;
      items.push_back(parse_expression(with_condexpr));
      if (!is_op(current(), ",")) break;
      is_tuple = true;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) fail("expected an expression, got " + describe(current()));
    }
    return make_expr(pos, ast::ListLit{std::move(items), true});
  }

  ExprPtr parse_expression(bool with_condexpr) {
    Nest nest(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr = parse_or();
    while (is_name(current(), "if")) {
      SourcePos pos = advance().pos;
      ExprPtr test = parse_or();
      ExprPtr otherwise = skip_name("else") ? parse_condexpr() : nullptr;
      expr = make_expr(pos, ast::CondExpr{std::move(test), std::move(expr), std::move(otherwise)});
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name(current(), "or")) {
      SourcePos pos = advance().pos;
      left = make_expr(pos, ast::Binary{BinaryOp::kOr, std::move(left), parse_and()});
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name(current(), "and")) {
      SourcePos pos = advance().pos;
      left = make_expr(pos, ast::Binary{BinaryOp::kAnd, std::move(left), parse_not()});
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name(current(), "not")) {
      Nest nest(*this);
      SourcePos pos = advance().pos;
      return make_expr(pos, ast::Unary{UnaryOp::kNot, parse_not()});
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    SourcePos pos = current().pos;
    ExprPtr first = parse_math1();
    std::vector<std::pair<CompareOp, ExprPtr>> rest;
    while (true) {
      const Token& t = current();
      CompareOp op;
      if (is_op(t, "==")) {
        op = CompareOp::kEq;
      } else if (is_op(t, "!=")) {
        op = CompareOp::kNe;
      } else if (is_op(t, "<")) {
        op = CompareOp::kLt;
      } else if (is_op(t, "<=")) {
        op = CompareOp::kLe;
      } else if (is_op(t, ">")) {
        op = CompareOp::kGt;
      } else if (is_op(t, ">=")) {
        op = CompareOp::kGe;
      } else if (is_name(t, "in")) {
        op = CompareOp::kIn;
      } else if (is_name(t, "not") && is_name(look(), "in")) {
        advance();
        op = CompareOp::kNotIn;
      } else {
        break;
      }
      advance();
      rest.emplace_back(op, parse_math1());
    }
    if (rest.empty()) return first;
    return make_expr(pos, ast::Compare{std::move(first), std::move(rest)});
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op(current(), "+") || is_op(current(), "-")) {
      const Token& t = advance();
      BinaryOp op = t.text == "+" ? BinaryOp::kAdd : BinaryOp::kSub;
      left = make_expr(t.pos, ast::Binary{op, std::move(left), parse_concat()});
    }
    return left;
  }

  ExprPtr parse_concat() {
    SourcePos pos = current().pos;
    ExprPtr first = parse_math2();
    if (!is_op(current(), "~")) return first;
    ast::Concat concat;
    concat.parts.push_back(std::move(first));
    while (skip_op("~")) concat.parts.push_back(parse_math2());
    return make_expr(pos, std::move(concat));
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (true) {
      const Token& t = current();
      BinaryOp op;
      if (is_op(t, "*")) {
        op = BinaryOp::kMul;
      } else if (is_op(t, "/")) {
        op = BinaryOp::kDiv;
      } else if (is_op(t, "//")) {
        op = BinaryOp::kFloorDiv;
      } else if (is_op(t, "%")) {
        op = BinaryOp::kMod;
      } else {
        break;
      }
      SourcePos pos = advance().pos;
      left = make_expr(pos, ast::Binary{op, std::move(left), parse_pow()});
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op(current(), "**")) {
      SourcePos pos = advance().pos;
      left = make_expr(pos, ast::Binary{BinaryOp::kPow, std::move(left), parse_unary(true)});
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    Nest nest(*this);
    ExprPtr node;
    SourcePos pos = current().pos;
    if (is_op(current(), "-") || is_op(current(), "+")) {
      UnaryOp op = advance().text == "-" ? UnaryOp::kNeg : UnaryOp::kPos;
      node = make_expr(pos, ast::Unary{op, parse_unary(false)});
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = current();
    SourcePos pos = t.pos;
    switch (t.kind) {
      case TokenKind::kName: {
        std::string name = advance().text;
        if (name == "true" || name == "True") return make_expr(pos, ast::BoolLit{true});
        if (name == "false" || name == "False") return make_expr(pos, ast::BoolLit{false});
        if (name == "none" || name == "None") return make_expr(pos, ast::NoneLit{});
        note_name(name);
        return make_expr(pos, ast::Name{std::move(name)});
      }
      case TokenKind::kString: {
        std::string value = advance().text;
        while (current().kind == TokenKind::kString) value += advance().text;  // 'a' 'b' == 'ab'
        return make_expr(pos, ast::StringLit{std::move(value)});
      }
      case TokenKind::kInteger:
        return make_expr(pos, ast::IntLit{advance().int_value});
      case TokenKind::kFloat:
        return make_expr(pos, ast::FloatLit{advance().float_value});
      case TokenKind::kOperator:
        if (t.text == "(") {
          advance();
          ExprPtr e = parse_tuple(true, true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default:
        break;
    }
    fail("unexpected " + describe(t));
  }

  // Macros accept extra arguments only when their body names varargs/kwargs/caller.
  void note_name(const std::string& name) {
    if (macros_.empty()) return;
    if (name == "varargs") macros_.back()->uses_varargs = true;
    if (name == "kwargs") macros_.back()->uses_kwargs = true;
    if (name == "caller") macros_.back()->uses_caller = true;
  }

  ExprPtr parse_list() {
    SourcePos pos = advance().pos;
    ast::ListLit list;
    while (!is_op(current(), "]")) {
      if (!list.items.empty()) expect_op(",");
      if (is_op(current(), "]")) break;
      list.items.push_back(parse_expression(true));
    }
    expect_op("]");
    return make_expr(pos, std::move(list));
  }

  ExprPtr parse_dict() {
    SourcePos pos = advance().pos;
    ast::DictLit dict;
    while (!is_op(current(), "}")) {
      if (!dict.items.empty()) expect_op(",");
      if (is_op(current(), "}")) break;
      ExprPtr key = parse_expression(true);
      expect_op(":");
      dict.items.emplace_back(std::move(key), parse_expression(true));
    }
    expect_op("}");
    return make_expr(pos, std::move(dict));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(current(), ".") || is_op(current(), "[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op(current(), "(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op(current(), "|")) {
        node = parse_filters(std::move(node), false);
      } else if (is_name(current(), "is")) {
        node = parse_test(std::move(node));
      } else if (is_op(current(), "(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& t = advance();
    SourcePos pos = t.pos;
    if (t.text == ".") {
      const Token& attr = current();
      if (attr.kind == TokenKind::kName) {
        return make_expr(pos, ast::GetAttr{std::move(node), advance().text});
      }
      if (attr.kind == TokenKind::kInteger) {
        int64_t index = advance().int_value;
        return make_expr(pos, ast::GetItem{std::move(node), make_expr(attr.pos, ast::IntLit{index})});
      }
      fail("expected name or number after '.'");
    }
    // '[': an index or a slice.
    ExprPtr parts[3];
    bool is_slice = false;
    if (!is_op(current(), ":")) parts[0] = parse_expression(true);
    if (skip_op(":")) {
      is_slice = true;
      if (!is_op(current(), ":") && !is_op(current(), "]")) parts[1] = parse_expression(true);
      if (skip_op(":") && !is_op(current(), "]")) parts[2] = parse_expression(true);
    }
    if (is_op(current(), ",")) fail("tuple subscripts are not supported");
    expect_op("]");
    if (!is_slice) return make_expr(pos, ast::GetItem{std::move(node), std::move(parts[0])});
    return make_expr(pos, ast::Slice{std::move(node), std::move(parts[0]), std::move(parts[1]), std::move(parts[2])});
  }

  CallArgsExpr parse_call_args() {
    expect_op("(");
    CallArgsExpr args;
    while (!is_op(current(), ")")) {
      if (!args.positional.empty() || !args.keyword.empty()) expect_op(",");
      if (is_op(current(), ")")) break;
      if (is_op(current(), "*") || is_op(current(), "**")) fail("*args and **kwargs in calls are not supported");
      if (current().kind == TokenKind::kName && is_op(look(), "=")) {
        std::string key = advance().text;
        advance();
        args.keyword.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!args.keyword.empty()) fail("positional argument follows keyword argument");
        args.positional.push_back(parse_expression(true));
      }
    }
    expect_op(")");
    return args;
  }

  ExprPtr parse_call(ExprPtr callee) {
    SourcePos pos = current().pos;
    CallArgsExpr args = parse_call_args();
    return make_expr(pos, ast::Call{std::move(callee), std::move(args)});
  }

  std::string parse_dotted_name() {
    std::string name = expect_identifier();
    while (skip_op(".")) name += "." + expect_identifier();
    return name;
  }

  // `| f | g(args)`; with `inline_first` the first filter has no leading pipe.
  ExprPtr parse_filters(ExprPtr node, bool inline_first) {
    while (inline_first || is_op(current(), "|")) {
      if (!inline_first) advance();
      inline_first = false;
      SourcePos pos = current().pos;
      ast::Filter filter;
      filter.operand = std::move(node);
      filter.name = parse_dotted_name();
      if (is_op(current(), "(")) filter.args = parse_call_args();
      node = make_expr(pos, std::move(filter));
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    SourcePos pos = advance().pos;
    ast::Test test;
    test.operand = std::move(node);
    test.negated = skip_name("not");
    test.name = parse_dotted_name();
    const Token& t = current();
    if (is_op(t, "(")) {
      test.args = parse_call_args();
    } else if ((t.kind == TokenKind::kName || t.kind == TokenKind::kString || t.kind == TokenKind::kInteger ||
                t.kind == TokenKind::kFloat || is_op(t, "[") || is_op(t, "{")) &&
               !is_name(t, "else") && !is_name(t, "or") && !is_name(t, "and")) {
      if (is_name(t, "is")) fail("you cannot chain multiple tests with is");
      test.args.positional.push_back(parse_postfix(parse_primary()));
    }
    return make_expr(pos, std::move(test));
  }

  std::vector<Token> tokens_;
  size_t index_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<MacroDef*> macros_;
};

}  // namespace

Body parse(std::vector<Token> tokens) { return Parser(std::move(tokens)).parse_template(); }

}  // namespace tern::jinja
