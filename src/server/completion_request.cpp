#include "server/completion_request.h"

#include "server/api_error.h"
#include "server/prompt_tokens.h"
#include "server/sampling_request.h"

namespace tern::server {
namespace {

std::vector<int32_t> token_ids_of(const Json& ids, const std::string& param, int32_t vocab_size) {
  std::vector<int32_t> out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::optional<int64_t> id = json_int64(ids[i], /*integral_floats=*/true);
    if (!id || *id < 0 || *id >= vocab_size) {
      throw invalid_param(param + "[" + std::to_string(i) + "]",
                          "token id out of vocabulary: ids must be integers in [0, " + std::to_string(vocab_size) +
                              "), got " + ids[i].dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    out.push_back(static_cast<int32_t>(*id));
  }
  if (out.empty()) throw invalid_param(param, "the prompt must not be empty");
  return out;
}

std::vector<int32_t> text_ids_of(const Json& text, const std::string& param, const Tokenizer& tokenizer,
                                 const EncodeOptions& options) {
  const auto& s = text.get_ref<const std::string&>();
  if (s.empty()) throw invalid_param(param, "the prompt must not be empty");
  std::vector<int32_t> ids = encode_prompt(tokenizer, s, options, param);
  if (ids.empty()) throw invalid_param(param, "the prompt must not be empty");
  return ids;
}

bool is_token_list(const Json& value) { return value.is_array() && !value.empty() && value[0].is_number(); }

struct PromptInput {
  std::vector<int32_t> token_ids;
  const Json* text = nullptr;  // the string it came from, if any
};

std::vector<PromptInput> read_prompts(const Json* prompt, const Tokenizer& tokenizer, const EncodeOptions& options) {
  if (!prompt) throw invalid_param("prompt", "is required");
  const int32_t vocab = tokenizer.vocab_size();
  if (prompt->is_string()) return {{text_ids_of(*prompt, "prompt", tokenizer, options), prompt}};
  if (!prompt->is_array()) {
    throw invalid_param("prompt", std::string("expected a string, an array of strings, an array of token ids or an "
                                              "array of token id arrays, got ") +
                                      json_type_name(*prompt));
  }
  if (prompt->empty()) throw invalid_param("prompt", "the prompt must not be empty");
  if (is_token_list(*prompt)) return {{token_ids_of(*prompt, "prompt", vocab)}};
  if (prompt->size() > kMaxPrompts) {
    throw invalid_param("prompt", "at most " + std::to_string(kMaxPrompts) + " prompts per request, got " +
                                      std::to_string(prompt->size()));
  }
  std::vector<PromptInput> prompts;
  for (size_t i = 0; i < prompt->size(); ++i) {
    const Json& item = (*prompt)[i];
    const std::string param = "prompt[" + std::to_string(i) + "]";
    if (item.is_string()) {
      prompts.push_back({text_ids_of(item, param, tokenizer, options), &item});
    } else if (item.is_array()) {
      prompts.push_back({token_ids_of(item, param, vocab)});
    } else {
      throw invalid_param(param,
                          std::string("expected a string or an array of token ids, got ") + json_type_name(item));
    }
  }
  return prompts;
}

}  // namespace

ValidRequest parse_completion_request(const Json& body, const ServedModel& model, const PrepareOptions& prepare) {
  const JsonFields fields = request_fields(body, "");
  ValidRequest request;
  request.api = RequestApi::kCompletions;
  const MaxTokensField max_tokens = read_shared_fields(fields, model, request);
  // A completions prompt is the client's own text with the template's markers written in,
  // so --split-special-tokens-in-content leaves it alone; split_special_tokens does not.
  // vLLM's add_special_tokens: false leaves out the tokenizer's own (a Llama <|begin_of_text|>).
  const EncodeOptions options{.add_special_tokens = fields.boolean("add_special_tokens").value_or(true),
                              .split_special_tokens = read_split_special_tokens(fields),
                              .cancel = prepare.cancel};
  for (PromptInput& input : read_prompts(fields.find("prompt"), *model.tokenizer, options)) {
    ValidPrompt prompt{.token_ids = std::move(input.token_ids)};
    if (request.echo) {
      prompt.echo_text = input.text ? input.text->get<std::string>()
                                    : model.tokenizer->decode(prompt.token_ids, /*skip_special_tokens=*/false);
    }
    request.prompts.push_back(std::move(prompt));
  }
  resolve_max_tokens(request, max_tokens, model.max_model_len(), "prompt");
  return request;
}

}  // namespace tern::server
