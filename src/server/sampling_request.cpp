#include "server/sampling_request.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string_view>

#include "base/log.h"
#include "engine/context_length.h"
#include "server/api_error.h"
#include "server/structured_output.h"

namespace tern::server {
namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

ApiError unsupported(const std::string& param, const std::string& message) { return invalid_param(param, message); }

void read_stop(const JsonFields& body, SamplingParams& params) {
  const Json* stop = body.find("stop");
  if (!stop) return;
  std::vector<const Json*> items;
  if (stop->is_string()) {
    items.push_back(stop);
  } else if (stop->is_array()) {
    if (stop->size() > kMaxStopStrings) {
      throw invalid_param("stop", "at most " + std::to_string(kMaxStopStrings) + " stop strings are allowed, got " +
                                      std::to_string(stop->size()));
    }
    for (const Json& s : *stop) items.push_back(&s);
  } else {
    throw invalid_param("stop", std::string("expected a string or an array of strings, got ") + json_type_name(*stop));
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string param = stop->is_array() ? "stop[" + std::to_string(i) + "]" : "stop";
    if (!items[i]->is_string())
      throw invalid_param(param, std::string("expected a string, got ") + json_type_name(*items[i]));
    const auto& s = items[i]->get_ref<const std::string&>();
    if (s.empty()) throw invalid_param(param, "stop strings must not be empty");
    if (s.size() > kMaxStopStringBytes) {
      throw invalid_param(param, "stop strings are limited to " + std::to_string(kMaxStopStringBytes) + " bytes");
    }
    params.stop.push_back(s);
  }
}

void read_stop_token_ids(const JsonFields& body, int32_t vocab_size, SamplingParams& params) {
  const Json* ids = body.find("stop_token_ids");
  if (!ids) return;
  if (!ids->is_array()) throw invalid_param("stop_token_ids", "expected an array of token ids");
  if (ids->size() > kMaxStopTokenIds) {
    throw invalid_param("stop_token_ids", "at most " + std::to_string(kMaxStopTokenIds) + " ids are allowed");
  }
  for (size_t i = 0; i < ids->size(); ++i) {
    const std::optional<int64_t> id = json_int64((*ids)[i], /*integral_floats=*/true);
    if (!id || *id < 0 || *id >= vocab_size) {
      throw invalid_param("stop_token_ids[" + std::to_string(i) + "]",
                          "token ids must be integers in [0, " + std::to_string(vocab_size) + ")");
    }
    params.stop_token_ids.push_back(static_cast<int32_t>(*id));
  }
}

void read_logprobs(const JsonFields& body, RequestApi api, SamplingParams& params) {
  if (api == RequestApi::kChat) {
    const bool logprobs = body.boolean("logprobs").value_or(false);
    const std::optional<int64_t> top = body.integer("top_logprobs", 0, kMaxTopLogprobs);
    if (top && !logprobs) throw invalid_param("top_logprobs", "requires \"logprobs\": true");
    if (logprobs) params.logprobs = static_cast<int32_t>(top.value_or(0));
  } else if (const Json* v = body.find("logprobs"); v && v->is_boolean()) {
    throw invalid_param("logprobs", "/v1/completions takes the number of alternatives (0 to " +
                                        std::to_string(kMaxTopLogprobs) + "), not a boolean");
  } else if (const std::optional<int64_t> n = body.integer("logprobs", 0, kMaxTopLogprobs)) {
    params.logprobs = static_cast<int32_t>(*n);
  }
}

// OpenAI's logit_bias: {"<token id>": bias in [-100, 100]}, at most kMaxLogitBias entries.
void read_logit_bias(const JsonFields& body, int32_t vocab_size, SamplingParams& params) {
  const Json* bias = body.find("logit_bias");
  if (!bias) return;
  if (!bias->is_object()) throw invalid_param("logit_bias", "expected an object of token ids to biases");
  if (bias->size() > kMaxLogitBias)
    throw invalid_param("logit_bias", "at most " + std::to_string(kMaxLogitBias) + " entries are allowed");
  for (const auto& [key, value] : bias->items()) {
    int64_t id = -1;
    const bool digits = !key.empty() && key.size() <= 10 && key.find_first_not_of("0123456789") == std::string::npos;
    if (digits) id = std::stoll(key);
    if (id < 0 || id >= vocab_size)
      throw invalid_param("logit_bias", "keys must be token ids in [0, " + std::to_string(vocab_size) + "), got \"" +
                                            key.substr(0, 32) + "\"");
    if (!value.is_number() || !std::isfinite(value.get<double>()) || std::fabs(value.get<double>()) > 100.0)
      throw invalid_param("logit_bias", "the bias of token " + key + " must be a number in [-100, 100]");
    params.logit_bias.emplace_back(int32_t(id), value.get<float>());
  }
}

// echo and prompt_logprobs (completions): the prompt's text before each completion, and
// the prompt tokens' logprobs (in the logprobs arrays with echo, or vLLM's field).
void read_scoring_fields(const JsonFields& body, ValidRequest& request) {
  SamplingParams& p = request.params;
  if (request.api == RequestApi::kChat) {
    if (body.has("prompt_logprobs"))
      throw invalid_param("prompt_logprobs", "is supported on /v1/completions (scoring a prompt)");
    if (body.boolean("echo").value_or(false))
      throw invalid_param("echo", "is supported on /v1/completions; chat responses hold only the reply");
    return;
  }
  request.echo = body.boolean("echo").value_or(false);
  if (const std::optional<int64_t> n = body.integer("prompt_logprobs", 0, kMaxTopLogprobs)) {
    p.prompt_logprobs = int32_t(*n);
    request.return_prompt_logprobs = true;
  }
  if (request.echo && p.logprobs >= 0) p.prompt_logprobs = std::max(p.prompt_logprobs, p.logprobs);
}

// Fields that would change the output and that tern does not implement: a 400 naming
// them, never an answer that silently ignores them. Each is refused only with a value that
// asks for something (false / 1 / empty mean the default).
void reject_unsupported(const JsonFields& body, RequestApi api) {
  if (const std::optional<int64_t> best_of = body.integer("best_of", 1, kInt64Max); best_of && *best_of != 1) {
    throw unsupported("best_of", "best_of is not supported; use n");
  }
  if (body.boolean("use_beam_search").value_or(false))
    throw unsupported("use_beam_search", "beam search is not supported");
  if (const Json* v = body.find("length_penalty"); v && !(v->is_number() && v->get<double>() == 1.0))
    throw unsupported("length_penalty", "length_penalty applies to beam search, which is not supported");
  // vLLM's sampling extensions tern does not have.
  for (const char* field : {"allowed_token_ids", "bad_words", "logits_processors", "truncate_prompt_tokens"}) {
    if (const Json* v = body.find(field); v && !(v->is_array() && v->empty()))
      throw unsupported(field, std::string(field) + " is not supported");
  }
  if (body.boolean("return_tokens_as_token_ids").value_or(false))
    throw unsupported("return_tokens_as_token_ids", "return_tokens_as_token_ids is not supported");
  if (!body.boolean("spaces_between_special_tokens").value_or(true))
    throw unsupported("spaces_between_special_tokens", "spaces_between_special_tokens false is not supported");
  if (api == RequestApi::kCompletions) {
    if (const std::optional<std::string> suffix = body.string("suffix", 1 << 20); suffix && !suffix->empty()) {
      throw unsupported("suffix", "suffix (insertion) is not supported");
    }
    return;
  }
  if (body.has("functions") || body.has("function_call")) {
    throw unsupported(body.has("functions") ? "functions" : "function_call",
                      "the deprecated functions API is not supported; use tools and tool_choice");
  }
  // OpenAI features beyond text: audio output, predicted outputs, reasoning effort, web search.
  if (const Json* v = body.find("modalities"); v && !(v->is_array() && (v->empty() || *v == Json::array({"text"}))))
    throw unsupported("modalities", "only text output is supported");
  for (const char* field : {"audio", "prediction", "reasoning_effort", "web_search_options", "documents"}) {
    if (body.has(field)) throw unsupported(field, std::string(field) + " is not supported");
  }
  if (body.boolean("continue_final_message").value_or(false))
    throw unsupported("continue_final_message", "continue_final_message is not supported");
}

// int64's range, as vLLM takes it: a seed beyond it is refused rather than saturated, which
// would give every such seed the same samples.
std::optional<uint64_t> read_seed(const JsonFields& body) {
  const Json* seed = body.find("seed");
  if (seed && !json_int64(*seed, /*integral_floats=*/true)) {
    throw invalid_param("seed", "must be an integer in [-9223372036854775808, 9223372036854775807]");
  }
  const std::optional<int64_t> value = body.integer("seed", std::numeric_limits<int64_t>::min(), kInt64Max);
  if (!value) return std::nullopt;
  return static_cast<uint64_t>(*value);
}

void log_unknown_fields(const JsonFields& body, RequestApi api) {
  if (log_level() > LogLevel::kDebug) return;
  static constexpr std::string_view kShared[] = {"model",
                                                 "stream",
                                                 "stream_options",
                                                 "n",
                                                 "max_tokens",
                                                 "temperature",
                                                 "top_p",
                                                 "top_k",
                                                 "min_p",
                                                 "presence_penalty",
                                                 "frequency_penalty",
                                                 "repetition_penalty",
                                                 "seed",
                                                 "stop",
                                                 "stop_token_ids",
                                                 "logprobs",
                                                 "ignore_eos",
                                                 "min_tokens",
                                                 "skip_special_tokens",
                                                 "priority",
                                                 "split_special_tokens",
                                                 "response_format",
                                                 "structured_outputs",
                                                 "guided_json",
                                                 "guided_regex",
                                                 "guided_choice",
                                                 "guided_grammar",
                                                 "guided_decoding_backend",
                                                 "guided_whitespace_pattern",
                                                 "best_of",
                                                 "use_beam_search",
                                                 "length_penalty",
                                                 "allowed_token_ids",
                                                 "bad_words",
                                                 "logits_processors",
                                                 "truncate_prompt_tokens",
                                                 "return_tokens_as_token_ids",
                                                 "spaces_between_special_tokens",
                                                 "logit_bias",
                                                 "include_stop_str_in_output",
                                                 "prompt_logprobs",
                                                 "user"};
  static constexpr std::string_view kChat[] = {"messages",
                                               "tools",
                                               "tool_choice",
                                               "parallel_tool_calls",
                                               "top_logprobs",
                                               "max_completion_tokens",
                                               "add_generation_prompt",
                                               "chat_template",
                                               "chat_template_kwargs",
                                               "functions",
                                               "function_call",
                                               "modalities",
                                               "audio",
                                               "prediction",
                                               "reasoning_effort",
                                               "web_search_options",
                                               "documents",
                                               "continue_final_message",
                                               "echo"};
  static constexpr std::string_view kCompletions[] = {"prompt", "echo", "suffix", "add_special_tokens"};
  for (const auto& item : body.value().items()) {
    const std::string& key = item.key();
    const auto known = [&](std::span<const std::string_view> keys) {
      return std::ranges::find(keys, key) != keys.end();
    };
    if (!known(kShared) && !known(api == RequestApi::kChat ? std::span<const std::string_view>(kChat)
                                                           : std::span<const std::string_view>(kCompletions))) {
      log_debug("request field \"", key, "\" is not used and was ignored");
    }
  }
}

}  // namespace

ApiError model_not_found(const ServedModel& model) {
  std::string served;
  for (const std::string& name : model.names) served += (served.empty() ? "\"" : ", \"") + name + "\"";
  return ApiError(ApiErrorKind::kNotFound, "The model does not exist; this server serves " + served + ".", "model",
                  "model_not_found");
}

void check_model_field(const JsonFields& body, const ServedModel& served) {
  const Json* model = body.find("model");
  if (!model) return;
  if (!model->is_string())
    throw invalid_param("model", std::string("expected a string, got ") + json_type_name(*model));
  if (!served.serves(model->get_ref<const std::string&>())) throw model_not_found(served);
}

MaxTokensField read_shared_fields(const JsonFields& body, const ServedModel& model, ValidRequest& request) {
  check_model_field(body, model);
  reject_unsupported(body, request.api);
  log_unknown_fields(body, request.api);
  SamplingParams& p = request.params;
  // Left out: the model's defaults (generation_config.json), else the neutral values.
  const SamplingDefaults& d = model.sampling_defaults;
  p.temperature = static_cast<float>(body.number("temperature", 0.0, 2.0).value_or(d.temperature.value_or(1.0)));
  p.top_p = static_cast<float>(body.number("top_p", 0.0, 1.0).value_or(d.top_p.value_or(1.0)));
  if (p.top_p <= 0.0f) throw invalid_param("top_p", "must be in (0, 1], got 0");
  const int64_t top_k = body.integer("top_k", -1, kInt32Max).value_or(d.top_k.value_or(0));
  p.top_k = static_cast<int32_t>(top_k);
  p.min_p = static_cast<float>(body.number("min_p", 0.0, 1.0).value_or(d.min_p.value_or(0.0)));
  p.presence_penalty = static_cast<float>(body.number("presence_penalty", -2.0, 2.0).value_or(0.0));
  p.frequency_penalty = static_cast<float>(body.number("frequency_penalty", -2.0, 2.0).value_or(0.0));
  p.repetition_penalty =
      static_cast<float>(body.number("repetition_penalty", 0.0, 100.0).value_or(d.repetition_penalty.value_or(1.0)));
  if (p.repetition_penalty <= 0.0f) throw invalid_param("repetition_penalty", "must be greater than 0");
  p.seed = read_seed(body);
  // Each of the n completions is a sequence of the running batch.
  p.n = static_cast<int32_t>(
      body.integer("n", 1, std::min<int64_t>(kMaxN, model.engine->sizes().max_num_seqs)).value_or(1));
  p.ignore_eos = body.boolean("ignore_eos").value_or(false);
  p.min_tokens = static_cast<int32_t>(body.integer("min_tokens", 0, kInt32Max).value_or(0));
  p.skip_special_tokens = body.boolean("skip_special_tokens").value_or(true);
  read_stop(body, p);
  read_stop_token_ids(body, model.tokenizer->vocab_size(), p);
  read_logprobs(body, request.api, p);
  read_logit_bias(body, model.tokenizer->vocab_size(), p);
  p.include_stop_str_in_output = body.boolean("include_stop_str_in_output").value_or(false);
  if (std::optional<OutputGrammar> output = read_output_grammar(body))
    p.grammar = compile_output_grammar(*output, model);

  request.priority =
      static_cast<int32_t>(body.integer("priority", std::numeric_limits<int32_t>::min(), kInt32Max).value_or(0));
  request.stream = body.boolean("stream").value_or(false);
  if (const std::optional<JsonFields> options = body.object("stream_options")) {
    if (!request.stream) throw invalid_param("stream_options", "is only allowed with \"stream\": true");
    request.include_usage = options->boolean("include_usage").value_or(false);
  }
  body.string("user", 1 << 16);  // accepted for compatibility; only its type is checked

  // max_completion_tokens is OpenAI's newer name; when both are given it wins.
  MaxTokensField max_tokens;
  if (request.api == RequestApi::kChat) {
    if (const std::optional<int64_t> v = body.integer("max_completion_tokens", 1, kInt64Max)) {
      max_tokens.value = v;
      max_tokens.param = "max_completion_tokens";
    }
  }
  // max_tokens 0 asks only for the prompt's scores (lm-eval's loglikelihood requests).
  const std::optional<int64_t> legacy = body.integer("max_tokens", 0, kInt64Max);
  if (!max_tokens.value) max_tokens.value = legacy;
  read_scoring_fields(body, request);
  if (max_tokens.value == 0) {
    if (p.prompt_logprobs < 0)
      throw invalid_param(max_tokens.param,
                          "must be at least 1; 0 only scores the prompt (echo with logprobs, or "
                          "prompt_logprobs)");
    if (p.n != 1) throw invalid_param("n", "must be 1 when max_tokens is 0 (scoring the prompt)");
  }
  return max_tokens;
}

void resolve_max_tokens(ValidRequest& request, const MaxTokensField& max_tokens, int32_t max_model_len,
                        const std::string& prompt_param) {
  const char* what = request.api == RequestApi::kChat ? "messages" : "prompt";
  for (ValidPrompt& prompt : request.prompts) {
    const int64_t num_prompt = static_cast<int64_t>(prompt.token_ids.size());
    if (const auto too_long = context_length_error(num_prompt, std::nullopt, max_model_len, what))
      throw ApiError(ApiErrorKind::kInvalidRequest, *too_long, prompt_param, "context_length_exceeded");
    const int64_t room = max_model_len - num_prompt;
    if (max_tokens.value) {
      if (const auto too_long = context_length_error(num_prompt, max_tokens.value, max_model_len, what))
        throw ApiError(ApiErrorKind::kInvalidRequest, *too_long, max_tokens.param, "context_length_exceeded");
      prompt.max_tokens = static_cast<int32_t>(*max_tokens.value);
    } else {
      prompt.max_tokens = static_cast<int32_t>(request.api == RequestApi::kChat ? room : std::min<int64_t>(16, room));
    }
    if (request.params.min_tokens > prompt.max_tokens) {
      throw invalid_param("min_tokens", "must not exceed max_tokens (" + std::to_string(prompt.max_tokens) + ")");
    }
  }
}

}  // namespace tern::server
