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

}  // namespace tern::server
