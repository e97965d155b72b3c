#include "server/tool_call_grammar.h"

#include "base/error.h"
#include "grammar/json_primitives.h"
#include "grammar/json_schema.h"
#include "server/api_error.h"

namespace tern::server {

grammar::Grammar tool_call_grammar(ToolCallFormat format, const std::vector<ToolSpec>& tools, bool parallel) {
  grammar::Grammar g;
  const grammar::RuleId root = g.add_rule("root");
  g.set_root(root);
  const char* arguments_key = format == ToolCallFormat::kLlama3Json ? "parameters" : "arguments";
  std::vector<grammar::ExprId> calls;
  for (const ToolSpec& tool : tools) {
    const std::string& name = (*tool.function)["name"].get_ref<const std::string&>();
    const auto parameters = tool.function->find("parameters");
    grammar::ExprId arguments;
    try {
      arguments = parameters == tool.function->end() || parameters->is_null()
                      ? grammar::json_any_object(g)
                      : grammar::add_json_schema(g, *parameters, name);
    } catch (const Error& e) {
      throw invalid_param(tool.param + ".parameters", e.what());
    }
    const std::string head = "{\"name\": " + grammar::write_json(Json(name)) + ", \"" + arguments_key + "\": ";
    grammar::ExprId call = g.seq({g.bytes(head), arguments, g.bytes("}")});
    if (format == ToolCallFormat::kHermes) call = g.seq({g.bytes("<tool_call>\n"), call, g.bytes("\n</tool_call>")});
    calls.push_back(call);
  }
  // One rule for "any one call", so that a parallel list repeats a reference, not a copy.
  const grammar::RuleId one = g.add_rule("call");
  g.set_body(one, g.alt(std::move(calls)));
  const char* separator = format == ToolCallFormat::kHermes       ? "\n"
                          : format == ToolCallFormat::kLlama3Json ? "; "
                                                                  : ", ";
  grammar::ExprId list = g.ref(one);
  if (parallel) list = g.seq({list, g.star(g.seq({g.bytes(separator), g.ref(one)}))});
  if (format == ToolCallFormat::kMistral) list = g.seq({g.bytes("["), list, g.bytes("]")});
  g.set_body(root, list);
  return g;
}

}  // namespace tern::server
