// Executes a parsed template with Jinja2's semantics as transformers configures it
// (sandboxed, default Undefined, loopcontrols). One Interpreter serves one render.
//
// Safety: values are only those of jinja_value.h, so no attribute reaches the host;
// every statement and expression costs a step, bytes built cost steps too, and the
// render fails with tern::Error once it passes the step, output, memory or depth limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "jinja/jinja_args.h"
#include "jinja/jinja_ast.h"
#include "jinja/jinja_value.h"

namespace tern::jinja {

struct Limits {
  uint64_t max_steps = 10'000'000;
  size_t max_output_bytes = size_t{16} << 20;   // also caps any single string built
  size_t max_memory_bytes = size_t{256} << 20;  // everything the render allocates
  int max_depth = 400;                          // nested evaluation (macro recursion included)
};

// Variables of one frame (template top level, loop body, macro call, with block);
// lookups fall back to the parent, assignments stay local, as in Jinja.
class Scope {
 public:
  explicit Scope(Scope* parent) : parent_(parent) {}
  const Value* find(std::string_view name) const;
  void set(std::string_view name, const Value& v) { vars_[std::string(name)] = v; }
  // A macro or caller defined in this scope keeps it alive after its block ends.
  void capture() { captured_ = true; }
  bool captured() const { return captured_; }
  void reset(Scope* parent) {
    parent_ = parent;
    vars_.clear();
  }

 private:
  Scope* parent_;
  std::unordered_map<std::string, Value> vars_;
  bool captured_ = false;
};

class Interpreter {
 public:
  Interpreter(const Limits& limits, Heap& heap);

  // Renders `body` with `globals` as the outermost frame.
  std::string render(const Body& body, Scope& globals);

  // --- services for filters, tests, methods and builtins ---
  Heap& heap() { return heap_; }
  const Limits& limits() const { return limits_; }
  // A new string value; its size counts against steps and the output limit.
  Value make_string(std::string s);
  // A child frame; release it when its block ends (it is reused unless captured).
  Scope& new_scope(Scope* parent);
  void release_scope(Scope& scope);
  void charge_steps(uint64_t steps);
  // Jinja's sandboxed attribute (x.name) and item (x[key]) lookups.
  Value getattr(const Value& object, const std::string& name);
  Value getitem(const Value& object, const Value& key);
  Value call(const Value& callee, const CallArgs& args);
  Value apply_filter(std::string_view name, const Value& operand, const CallArgs& args);
  bool apply_test(std::string_view name, const Value& operand, const CallArgs& args);
  // The items a for loop over `v` visits (list items, dict keys, characters).
  std::vector<Value> iterate(const Value& v);
  // Python str(v) as a value.
  Value to_string(const Value& v);

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  struct DepthGuard;
  struct Frame;

  Flow exec_body(const Body& body, Scope& scope, std::string& out);
  Flow exec(const Stmt& stmt, Scope& scope, std::string& out);
  void exec_for(const ast::For& node, Scope& scope, std::string& out);
  void exec_call_block(const ast::CallBlock& node, Scope& scope, std::string& out);
  void assign(const Target& target, const Value& value, Scope& scope);
  void emit(std::string& out, std::string_view text);
  void emit_value(std::string& out, const Value& v);

  Value eval(const Expr& expr, Scope& scope);
  Value eval_filter(const ast::Filter& node, Scope& scope, const Value* seed);
  Value apply_filter_chain(const Expr& chain, Scope& scope, const Value& seed);
  CallArgs eval_args(const CallArgsExpr& args, Scope& scope);
  Value call_macro(const CallableObj& macro, const CallArgs& args, const Value& caller);
  Value loop_attribute(const LoopObj& loop, const Value& self, const std::string& name);

  const Limits& limits_;
  Heap& heap_;
  uint64_t steps_ = 0;
  size_t output_bytes_ = 0;
  int depth_ = 0;
  SourcePos pos_;  // of the statement or expression being evaluated, for errors
  std::deque<Scope> scopes_;
  std::vector<Scope*> free_scopes_;
};

}  // namespace tern::jinja
