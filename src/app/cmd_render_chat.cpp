// tern render-chat: renders a model's chat template for an OpenAI chat request read on
// stdin and prints the prompt exactly (no newline added), to compare with
// transformers' apply_chat_template(..., tokenize=False).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "app/commands.h"
#include "app/hf_cache.h"
#include "app/engine_options.h"
#include "base/error.h"
#include "tokenizer/chat_template.h"

namespace tern::app {
namespace {

struct RenderChatOptions {
  std::string model;
  std::string revision = kDefaultRevision;
  bool no_generation_prompt = false;
};

std::string read_stdin() {
  std::string input;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), stdin)) > 0) input.append(buffer, n);
  if (std::ferror(stdin)) throw error("render-chat: cannot read stdin");
  return input;
}

void run_render_chat(const RenderChatOptions& options) {
  const std::string input = read_stdin();
  nlohmann::ordered_json request;
  try {
    request = nlohmann::ordered_json::parse(input);
  } catch (const nlohmann::json::exception& e) {
    throw error("render-chat: stdin is not valid JSON: ", e.what());
  }
  if (!request.is_object() || !request.contains("messages"))
    throw error("render-chat: stdin must be a JSON object with \"messages\"");

  ChatRenderRequest render;
  render.messages = request["messages"];
  if (request.contains("tools")) render.tools = request["tools"];
  if (request.contains("chat_template_kwargs")) render.extra_variables = request["chat_template_kwargs"];
  render.add_generation_prompt = !options.no_generation_prompt;

  ModelChatTemplate model = read_model_chat_template(resolve_model_option(options.model, options.revision).dir);
  const std::string prompt = ChatTemplate(model.source, model.special_tokens).render(render);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

void add_render_chat_command(CLI::App& app) {
  auto options = std::make_shared<RenderChatOptions>();
  CLI::App* cmd =
      app.add_subcommand("render-chat",
                         "Print the prompt a model's chat template makes of an OpenAI chat request on stdin "
                         "({\"messages\": [...], \"tools\": [...], \"chat_template_kwargs\": {...}})");
  add_model_options(*cmd, options->model, options->revision,
                    "a folder with tokenizer_config.json or chat_template.jinja")
      ->required();
  cmd->add_flag("--no-generation-prompt", options->no_generation_prompt,
                "Render with add_generation_prompt=false (default: true)");
  cmd->callback([options] { run_render_chat(*options); });
}

}  // namespace tern::app
