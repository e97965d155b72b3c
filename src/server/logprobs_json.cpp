#include "server/logprobs_json.h"

#include <cmath>
#include <span>

namespace tern::server {
namespace {

double finite_logprob(float logprob) { return std::isfinite(logprob) ? static_cast<double>(logprob) : -9999.0; }

std::string token_text(int32_t id, const Tokenizer& tokenizer) {
  const int32_t ids[1] = {id};
  return tokenizer.decode(std::span<const int32_t>(ids), /*skip_special_tokens=*/false);
}

Json token_entry(int32_t id, float logprob, const Tokenizer& tokenizer) {
  Json bytes = Json::array();
  for (unsigned char c : tokenizer.token_bytes(id, /*skip_special=*/false)) bytes.push_back(static_cast<int>(c));
  return {{"token", token_text(id, tokenizer)}, {"logprob", finite_logprob(logprob)}, {"bytes", std::move(bytes)}};
}

}  // namespace

Json chat_logprobs(const std::vector<TokenLogprob>& logprobs, const Tokenizer& tokenizer) {
  Json content = Json::array();
  for (const TokenLogprob& lp : logprobs) {
    Json entry = token_entry(lp.token_id, lp.logprob, tokenizer);
    Json top = Json::array();
    for (const auto& [id, value] : lp.top_logprobs) top.push_back(token_entry(id, value, tokenizer));
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  return content;
}

Json completion_logprobs(const std::vector<TokenLogprob>& logprobs, const Tokenizer& tokenizer, int64_t& text_offset) {
  Json tokens = Json::array(), token_logprobs = Json::array(), top_logprobs = Json::array(), offsets = Json::array();
  for (const TokenLogprob& lp : logprobs) {
    const std::string text = token_text(lp.token_id, tokenizer);
    tokens.push_back(text);
    token_logprobs.push_back(finite_logprob(lp.logprob));
    Json top = Json::object();
    for (const auto& [id, value] : lp.top_logprobs) top[token_text(id, tokenizer)] = finite_logprob(value);
    top_logprobs.push_back(std::move(top));
    offsets.push_back(text_offset);
    text_offset += static_cast<int64_t>(text.size());
  }
  return {{"tokens", std::move(tokens)},
          {"token_logprobs", std::move(token_logprobs)},
          {"top_logprobs", std::move(top_logprobs)},
          {"text_offset", std::move(offsets)}};
}

Json echo_logprobs(std::span<const int32_t> prompt, const std::vector<TokenLogprob>& scores, const Tokenizer& tokenizer,
                   int64_t& text_offset) {
  Json tokens = Json::array(), token_logprobs = Json::array(), top_logprobs = Json::array(), offsets = Json::array();
  for (size_t i = 0; i < prompt.size(); ++i) {
    const std::string text = token_text(prompt[i], tokenizer);
    tokens.push_back(text);
    if (i == 0 || i > scores.size()) {
      token_logprobs.push_back(nullptr);
      top_logprobs.push_back(nullptr);
    } else {
      const TokenLogprob& lp = scores[i - 1];
      token_logprobs.push_back(finite_logprob(lp.logprob));
      Json top = Json::object();
      for (const auto& [id, value] : lp.top_logprobs) top[token_text(id, tokenizer)] = finite_logprob(value);
      top_logprobs.push_back(std::move(top));
    }
    offsets.push_back(text_offset);
    text_offset += static_cast<int64_t>(text.size());
  }
  return {{"tokens", std::move(tokens)},
          {"token_logprobs", std::move(token_logprobs)},
          {"top_logprobs", std::move(top_logprobs)},
          {"text_offset", std::move(offsets)}};
}

Json vllm_prompt_logprobs(std::span<const int32_t> prompt, const std::vector<TokenLogprob>& scores,
                          const Tokenizer& tokenizer) {
  Json out = Json::array({nullptr});
  for (size_t i = 1; i < prompt.size() && i <= scores.size(); ++i) {
    const TokenLogprob& lp = scores[i - 1];
    Json position = Json::object();
    position[std::to_string(prompt[i])] = {{"logprob", finite_logprob(lp.logprob)},
                                           {"rank", lp.rank},
                                           {"decoded_token", token_text(prompt[i], tokenizer)}};
    int32_t rank = 0;
    for (const auto& [id, value] : lp.top_logprobs) {
      ++rank;
      const std::string key = std::to_string(id);
      if (!position.contains(key))
        position[key] = {
            {"logprob", finite_logprob(value)}, {"rank", rank}, {"decoded_token", token_text(id, tokenizer)}};
    }
    out.push_back(std::move(position));
  }
  return out;
}

}  // namespace tern::server
