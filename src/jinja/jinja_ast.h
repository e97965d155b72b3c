// Syntax tree of a parsed template. Nodes are immutable after parsing; a compiled
// template is shared by concurrent renders. String literals and names live in the
// nodes, and values created while rendering may point at them.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "jinja/jinja_lexer.h"

namespace tern::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct CallArgsExpr {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kAnd, kOr };
enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };
enum class UnaryOp { kNeg, kPos, kNot };

namespace ast {

struct NoneLit {};
struct BoolLit {
  bool value;
};
struct IntLit {
  int64_t value;
};
struct FloatLit {
  double value;
};
struct StringLit {
  std::string value;
};
struct ListLit {
  std::vector<ExprPtr> items;
  bool is_tuple = false;
};
struct DictLit {
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};
struct Name {
  std::string name;
};
struct GetAttr {  // x.name (tries a method or attribute before the item)
  ExprPtr object;
  std::string name;
};
struct GetItem {  // x[index] (tries the item before an attribute)
  ExprPtr object;
  ExprPtr index;
};
struct Slice {  // x[start:stop:step]; absent parts are null
  ExprPtr object;
  ExprPtr start, stop, step;
};
struct Unary {
  UnaryOp op;
  ExprPtr operand;
};
struct Binary {
  BinaryOp op;
  ExprPtr left, right;
};
struct Compare {  // a < b <= c chains like Python
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};
struct Concat {  // a ~ b ~ c
  std::vector<ExprPtr> parts;
};
struct CondExpr {  // then if test else otherwise; otherwise may be null (-> Undefined)
  ExprPtr test, then, otherwise;
};
struct Call {
  ExprPtr callee;
  CallArgsExpr args;
};
struct Filter {  // operand | name(args); operand is null inside {% filter %} blocks
  ExprPtr operand;
  std::string name;
  CallArgsExpr args;
};
struct Test {  // operand is [not] name(args)
  ExprPtr operand;
  std::string name;
  CallArgsExpr args;
  bool negated = false;
};

}  // namespace ast

struct Expr {
  SourcePos pos;
  std::variant<ast::NoneLit, ast::BoolLit, ast::IntLit, ast::FloatLit, ast::StringLit, ast::ListLit, ast::DictLit,
               ast::Name, ast::GetAttr, ast::GetItem, ast::Slice, ast::Unary, ast::Binary, ast::Compare, ast::Concat,
               ast::CondExpr, ast::Call, ast::Filter, ast::Test>
      node;
};

// Left side of set/for/with: a name, `ns.attr`, or a tuple of names to unpack.
struct Target {
  std::vector<std::string> names;
  bool is_tuple = false;
  std::string attribute;  // non-empty: assign names[0].attribute (a namespace)
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

// A macro or the body of a {% call %} block (which the macro invokes as caller()).
struct MacroDef {
  std::string name;
  std::vector<MacroParam> params;
  Body body;
  // Jinja lets extra arguments through only when the body mentions these names.
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool uses_caller = false;
};

namespace ast {

struct Output {  // template text
  std::string text;
};
struct Print {  // {{ expr }}
  ExprPtr expr;
};
struct If {
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
  Body otherwise;
};
struct For {
  Target target;
  ExprPtr iterable;
  ExprPtr filter;  // `for x in xs if cond`; may be null
  Body body;
  Body otherwise;  // runs when no item was iterated
};
struct Set {
  Target target;
  ExprPtr value;
};
struct SetBlock {  // {% set x %}...{% endset %}, optionally `{% set x | filter %}`
  Target target;
  ExprPtr filter;  // Filter chain with a null innermost operand; may be null
  Body body;
};
struct MacroStmt {
  MacroDef def;
};
struct CallBlock {  // {% call(params) callee(args) %}body{% endcall %}
  ExprPtr call;     // an ast::Call
  MacroDef caller;  // body and params of caller()
};
struct FilterBlock {
  ExprPtr filter;  // Filter chain with a null innermost operand
  Body body;
};
struct With {
  std::vector<std::pair<Target, ExprPtr>> assignments;
  Body body;
};
struct Scoped {  // {% generation %} and other blocks that only group statements
  Body body;
};
struct Break {};
struct Continue {};

}  // namespace ast

struct Stmt {
  SourcePos pos;
  std::variant<ast::Output, ast::Print, ast::If, ast::For, ast::Set, ast::SetBlock, ast::MacroStmt, ast::CallBlock,
               ast::FilterBlock, ast::With, ast::Scoped, ast::Break, ast::Continue>
      node;
};

}  // namespace tern::jinja
