// A compiled Jinja template rendered the way transformers renders chat templates
// (jinja2 ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
// transformers' tojson/raise_exception/strftime_now). Thread-safe to render
// concurrently: rendering never mutates the compiled template.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "jinja/jinja_interpreter.h"

namespace tern::jinja {

class Template {
 public:
  // Throws tern::Error "chat template: line L, column C: ..." on syntax errors and, as
  // Jinja does at compile time, on unknown filters or tests outside if-branches.
  explicit Template(std::string_view source);

  // Renders with every key of `context` (a JSON object) as a variable. JSON values
  // become Python-like values: objects keep their key order, integers stay integers.
  // Throws tern::Error on runtime errors, raise_exception() and exhausted limits.
  std::string render(const nlohmann::ordered_json& context, const Limits& limits = {}) const;

 private:
  std::shared_ptr<const Body> body_;
};

}  // namespace tern::jinja
