// libFuzzer target: chat templates, both sides of the trust boundary.
//   - The input is a template source: compile it and render it over a fixed conversation
//     with small step, output and depth budgets. It may only fail with tern::Error.
//   - The input is message content: render it through the tiny model's ChatML template;
//     it must come out verbatim (content is data, never evaluated).
#include <cstdint>

#include "base/error.h"
#include "base/utf8.h"
#include "fuzz_support.h"

namespace {

nlohmann::ordered_json conversation(std::string_view content) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  messages.push_back({{"role", "system"}, {"content", "You are terse."}});
  messages.push_back({{"role", "user"}, {"content", std::string(content)}});
  messages.push_back({{"role", "assistant"}, {"content", "ok"}});
  return messages;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = tern::fuzz::as_text(data, size);
  const tern::ChatTemplateLimits limits{
      .max_steps = 200'000, .max_output_bytes = 1 << 20, .max_memory_bytes = 32 << 20, .max_depth = 64};
  tern::ChatRenderRequest request;
  request.messages = conversation("hello {{ 7*7 }}");
  request.tools = nlohmann::ordered_json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
  try {
    const tern::ChatTemplate hostile(text, tern::ChatSpecialTokens{.bos_token = "<s>", .eos_token = "</s>"}, limits);
    hostile.render(request);
  } catch (const tern::Error&) {
  }
  // As content: valid UTF-8 only (the server rejects anything else before rendering).
  if (tern::utf8::is_valid(text)) {
    request.messages = conversation(text);
    request.tools = nullptr;
    const std::string rendered = tern::fuzz::tiny_chat_template().render(request);
    if (rendered.find(std::string("<|im_start|>user\n") + std::string(text) + "<|im_end|>") == std::string::npos)
      __builtin_trap();
  }
  return 0;
}
