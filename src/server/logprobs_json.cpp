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

// The four parallel arrays of /v1/completions logprobs, one entry per token.
class CompletionLogprobArrays {
 public:
  CompletionLogprobArrays(const Tokenizer& tokenizer, int64_t& text_offset)
      : tokenizer_(tokenizer), text_offset_(text_offset) {}

  // `scored`: the token's logprob and alternatives; null (both written as null) when
  // nothing was computed for it.
  void add(int32_t token_id, const TokenLogprob* scored) {
    const std::string text = token_text(token_id, tokenizer_);
    tokens_.push_back(text);
    if (scored) {
      token_logprobs_.push_back(finite_logprob(scored->logprob));
      Json top = Json::object();
      for (const auto& [id, value] : scored->top_logprobs) top[token_text(id, tokenizer_)] = finite_logprob(value);
      top_logprobs_.push_back(std::move(top));
    } else {
      token_logprobs_.push_back(nullptr);
      top_logprobs_.push_back(nullptr);
    }
    offsets_.push_back(text_offset_);
    text_offset_ += static_cast<int64_t>(text.size());
  }

  Json take() {
    return {{"tokens", std::move(tokens_)},
            {"token_logprobs", std::move(token_logprobs_)},
            {"top_logprobs", std::move(top_logprobs_)},
            {"text_offset", std::move(offsets_)}};
  }

 private:
  const Tokenizer& tokenizer_;
  int64_t& text_offset_;
  Json tokens_ = Json::array(), token_logprobs_ = Json::array(), top_logprobs_ = Json::array(),
       offsets_ = Json::array();
};

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
  CompletionLogprobArrays arrays(tokenizer, text_offset);
  for (const TokenLogprob& lp : logprobs) arrays.add(lp.token_id, &lp);
  return arrays.take();
}

Json echo_logprobs(std::span<const int32_t> prompt, const std::vector<TokenLogprob>& scores, const Tokenizer& tokenizer,
                   int64_t& text_offset) {
  CompletionLogprobArrays arrays(tokenizer, text_offset);
  // scores[i - 1] scores prompt[i]; the first token has nothing before it.
  for (size_t i = 0; i < prompt.size(); ++i)
    arrays.add(prompt[i], i == 0 || i > scores.size() ? nullptr : &scores[i - 1]);
  return arrays.take();
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
