// `--chat` for the CLI: one user message rendered with the model's own chat template.
#pragma once

#include <string>

namespace tern::app {

// The prompt text for a single user turn (with the generation prompt), exactly as
// transformers' apply_chat_template renders it. Throws tern::Error when the model has
// no chat template.
std::string render_user_prompt(const std::string& model_dir, const std::string& user_text);

}  // namespace tern::app
