#include "app/chat_prompt.h"

#include "tokenizer/chat_template.h"

namespace tern::app {

std::string render_user_prompt(const std::string& model_dir, const std::string& user_text) {
  ModelChatTemplate source = read_model_chat_template(model_dir);
  ChatTemplate chat(source.source, source.special_tokens);
  ChatRenderRequest request;
  request.messages.push_back({{"role", "user"}, {"content", user_text}});
  return chat.render(request);
}

}  // namespace tern::app
