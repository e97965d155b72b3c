#include "server/structured_output.h"

#include "base/error.h"
#include "grammar/choice.h"
#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/regex.h"
#include "server/api_error.h"

namespace tern::server {
namespace {

// Runs a grammar source, turning its tern::Error (which names the keyword, construct or
// line) into a 400 for `param`.
template <typename Build>
grammar::Grammar build(const std::string& param, Build&& make) {
  try {
    return make();
  } catch (const Error& e) {
    throw invalid_param(param, e.what());
  }
}

// A JSON schema given as an object, or as its JSON text (vLLM accepts both).
Json schema_value(const Json& value, const std::string& param) {
  if (value.is_object() || value.is_boolean()) return value;
  if (value.is_string()) return parse_json_text(value.get_ref<const std::string&>(), param);
  throw invalid_param(param, std::string("expected a JSON schema (an object), got ") + json_type_name(value));
}

std::string text_value(const Json& value, const std::string& param) {
  if (!value.is_string()) throw invalid_param(param, std::string("expected a string, got ") + json_type_name(value));
  const auto& s = value.get_ref<const std::string&>();
  if (s.empty()) throw invalid_param(param, "must not be empty");
  if (s.size() > kMaxGrammarBytes)
    throw invalid_param(param, "is limited to " + std::to_string(kMaxGrammarBytes) + " bytes");
  return s;
}

std::vector<std::string> choices_value(const Json& value, const std::string& param) {
  if (!value.is_array() || value.empty()) throw invalid_param(param, "expected a non-empty array of strings");
  if (value.size() > kMaxChoices)
    throw invalid_param(param, "at most " + std::to_string(kMaxChoices) + " choices are allowed");
  std::vector<std::string> out;
  for (size_t i = 0; i < value.size(); ++i) out.push_back(text_value(value[i], param + "[" + std::to_string(i) + "]"));
  return out;
}

// One constraint: kind is json, regex, choice, grammar or json_object.
OutputGrammar from_kind(const std::string& kind, const Json& value, const std::string& param) {
  if (kind == "json") {
    const Json schema = schema_value(value, param);
    return {build(param, [&] { return grammar::json_schema_grammar(schema); }), param};
  }
  if (kind == "regex") {
    const std::string regex = text_value(value, param);
    return {build(param, [&] { return grammar::regex_grammar(regex); }), param};
  }
  if (kind == "choice") {
    const std::vector<std::string> choices = choices_value(value, param);
    return {build(param, [&] { return grammar::choice_grammar(choices); }), param};
  }
  if (kind == "grammar") {
    const std::string text = text_value(value, param);
    return {build(param, [&] { return grammar::parse_gbnf(text); }), param};
  }
  TERN_CHECK(kind == "json_object", "unknown constraint kind ", kind);
  if (!value.is_boolean() || !value.get<bool>()) throw invalid_param(param, "expected true");
  return {grammar::json_object_grammar(), param};
}

std::optional<OutputGrammar> from_response_format(const JsonFields& body) {
  const std::optional<JsonFields> format = body.object("response_format");
  if (!format) return std::nullopt;
  const std::optional<std::string> type = format->string("type", 64);
  if (!type) throw invalid_param("response_format.type", "is required (text, json_object or json_schema)");
  if (*type == "text") return std::nullopt;
  if (*type == "json_object") return OutputGrammar{grammar::json_object_grammar(), "response_format"};
  if (*type != "json_schema")
    throw invalid_param("response_format.type", "expected text, json_object or json_schema, got \"" + *type + "\"");
  const std::optional<JsonFields> spec = format->object("json_schema");
  if (!spec) throw invalid_param("response_format.json_schema", "is required with \"type\": \"json_schema\"");
  spec->string("name", 256);  // OpenAI's label for the schema; not used
  spec->string("description", 1 << 16);
  spec->boolean("strict");  // the schema is always enforced
  const Json* schema = spec->find("schema");
  if (!schema) throw invalid_param("response_format.json_schema.schema", "is required");
  return from_kind("json", *schema, "response_format.json_schema.schema");
}

std::optional<OutputGrammar> from_structured_outputs(const JsonFields& body) {
  const std::optional<JsonFields> so = body.object("structured_outputs");
  if (!so) return std::nullopt;
  std::optional<OutputGrammar> out;
  for (const auto& [key, value] : so->value().items()) {
    if (value.is_null()) continue;
    const std::string param = so->field_path(key);
    if (key == "json" || key == "regex" || key == "choice" || key == "grammar" || key == "json_object") {
      if (out) throw invalid_param(param, "give one of json, regex, choice, grammar and json_object");
      out = from_kind(key, value, param);
    } else if (key == "disable_any_whitespace" || key == "disable_fallback") {
      so->boolean(key);  // tern's JSON never has free white space, and never falls back
    } else {
      throw invalid_param(param,
                          "is not supported (supported: json, regex, choice, grammar, json_object, "
                          "disable_any_whitespace, disable_fallback)");
    }
  }
  if (!out) throw invalid_param("structured_outputs", "give one of json, regex, choice, grammar and json_object");
  return out;
}

}  // namespace

std::optional<OutputGrammar> read_output_grammar(const JsonFields& body) {
  std::optional<OutputGrammar> out;
  const auto take = [&](std::optional<OutputGrammar> next) {
    if (!next) return;
    if (out)
      throw invalid_param(next->param, "conflicts with " + out->param + ": a request may ask for one output format");
    out = std::move(next);
  };
  take(from_response_format(body));
  take(from_structured_outputs(body));
  for (const char* kind : {"json", "regex", "choice", "grammar"}) {
    const std::string field = std::string("guided_") + kind;
    if (const Json* value = body.find(field)) take(from_kind(kind, *value, field));
  }
  body.string("guided_decoding_backend", 64);  // vLLM's choice of engine; tern has one
  if (body.has("guided_whitespace_pattern"))
    throw invalid_param("guided_whitespace_pattern", "is not supported: tern's JSON has no free white space");
  return out;
}

std::shared_ptr<const grammar::CompiledGrammar> compile_output_grammar(const OutputGrammar& output,
                                                                       const ServedModel& model) {
  std::shared_ptr<const grammar::CompiledGrammar> compiled;
  try {
    compiled = model.grammars->get(output.grammar);
  } catch (const Error& e) {
    throw invalid_param(output.param, e.what());
  }
  if (grammar::Matcher(compiled).is_terminated()) throw invalid_param(output.param, "matches only the empty output");
  return compiled;
}

}  // namespace tern::server
