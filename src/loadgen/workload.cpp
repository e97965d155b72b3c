#include "loadgen/workload.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <random>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace tern::loadgen {
namespace {

// Common short English words; in the usual BPE vocabularies " word" is one token.
constexpr const char* kWords[] = {
    "the",   "of",    "and",   "to",    "in",    "is",    "you",   "that",  "it",    "he",    "was",   "for",
    "on",    "are",   "as",    "with",  "his",   "they",  "at",    "be",    "this",  "have",  "from",  "or",
    "one",   "had",   "by",    "word",  "but",   "not",   "what",  "all",   "were",  "we",    "when",  "your",
    "can",   "said",  "there", "use",   "an",    "each",  "which", "she",   "do",    "how",   "their", "if",
    "will",  "up",    "other", "about", "out",   "many",  "then",  "them",  "these", "so",    "some",  "her",
    "would", "make",  "like",  "him",   "into",  "time",  "has",   "look",  "two",   "more",  "write", "go",
    "see",   "number", "no",   "way",   "could", "people", "my",   "than",  "first", "water", "been",  "call",
    "who",   "oil",   "its",   "now",   "find",  "long",  "down",  "day",   "did",   "get",   "come",  "made",
    "may",   "part",  "over",  "new",   "sound", "take",  "only",  "little", "work", "know",  "place", "year",
    "live",  "me",    "back",  "give",  "most",  "very",  "after", "thing", "our",   "just",  "name",  "good",
    "man",   "think", "say",   "great", "where", "help",  "line",  "right", "too",   "mean",  "old",   "any",
    "same",  "tell",  "boy",   "follow", "came", "want",  "show",  "also",  "around", "form", "three", "small",
    "set",   "put",   "end",   "does",  "another", "well", "large", "must", "big",   "even",  "such",  "because",
    "turn",  "here",  "why",   "ask",   "went",  "men",   "read",  "need",  "land",  "home",  "us",    "move",
    "try",   "kind",  "hand",  "picture", "again", "change", "off", "play", "spell", "air",   "away",  "animal",
    "house", "point", "page",  "letter", "mother", "answer", "found", "study", "still", "learn", "should", "world"};

class PromptMaker {
 public:
  PromptMaker(const WorkloadSpec& spec, const Tokenizer* tokenizer) : spec_(spec), tok_(tokenizer), rng_(spec.seed) {
    if (tok_ == nullptr) return;
    for (int32_t id = 0; id < tok_->vocab_size(); ++id) {
      if (!tok_->is_special(id)) allowed_ids_.push_back(id);
    }
    if (allowed_ids_.empty()) throw error("the tokenizer has no ordinary tokens to make prompts of");
  }

  int32_t ranged(int32_t len) {
    const double lo = std::max(1.0, std::round(len * (1.0 - spec_.range_ratio)));
    const double hi = std::max(lo, std::round(len * (1.0 + spec_.range_ratio)));
    return static_cast<int32_t>(std::uniform_int_distribution<int64_t>(int64_t(lo), int64_t(hi))(rng_));
  }

  std::vector<int32_t> random_ids(int32_t n) {
    std::uniform_int_distribution<size_t> pick(0, allowed_ids_.size() - 1);
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (int32_t& id : ids) id = allowed_ids_[pick(rng_)];
    return ids;
  }

  std::string random_words(int32_t n) {
    std::uniform_int_distribution<size_t> pick(0, std::size(kWords) - 1);
    std::string text;
    for (int32_t i = 0; i < n; ++i) {
      if (i > 0) text += ' ';
      text += kWords[pick(rng_)];
    }
    return text;
  }

  // Text that encodes to exactly n tokens when a few rounds of decode / re-encode / trim
  // or pad converge (they nearly always do); else the closest text found.
  std::string exact_text(int32_t n) {
    std::vector<int32_t> ids = random_ids(n);
    std::string text;
    for (int round = 0; round < 16; ++round) {
      text = tok_->decode(ids);
      std::vector<int32_t> again = tok_->encode(text, false);
      if (static_cast<int32_t>(again.size()) == n) break;
      if (static_cast<int32_t>(again.size()) > n) {
        again.resize(static_cast<size_t>(n));
      } else {
        const std::vector<int32_t> more = random_ids(n - static_cast<int32_t>(again.size()));
        again.insert(again.end(), more.begin(), more.end());
      }
      ids = std::move(again);
    }
    return text;
  }

  // A part of a prompt of n tokens, in the form the spec asks for.
  BenchPrompt part(int32_t n) {
    BenchPrompt p;
    if (n <= 0) return p;
    if (spec_.token_ids) {
      p.token_ids = random_ids(n);
    } else if (tok_ != nullptr) {
      p.text = exact_text(n);
    } else {
      p.text = random_words(n);
    }
    return p;
  }

  int32_t count_tokens(const BenchPrompt& p) const {
    if (spec_.token_ids) return static_cast<int32_t>(p.token_ids.size());
    return tok_ ? static_cast<int32_t>(tok_->encode(p.text, false).size()) : 0;
  }

  std::vector<BenchPrompt> random_workload() {
    const BenchPrompt prefix = part(spec_.shared_prefix_len);
    std::vector<BenchPrompt> prompts;
    for (int32_t i = 0; i < spec_.num_prompts; ++i) {
      const int32_t input_len = ranged(spec_.input_len);
      const int32_t output_len = ranged(spec_.output_len);
      BenchPrompt p = part(input_len);
      p.token_ids.insert(p.token_ids.begin(), prefix.token_ids.begin(), prefix.token_ids.end());
      if (!prefix.text.empty()) p.text = prefix.text + " " + p.text;
      p.num_prompt_tokens = count_tokens(p);
      p.max_tokens = output_len;
      prompts.push_back(std::move(p));
    }
    return prompts;
  }

  std::vector<BenchPrompt> dataset_workload() {
    std::ifstream f(spec_.dataset_path);
    if (!f) throw error(spec_.dataset_path, ": cannot open the dataset");
    const nlohmann::json data = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
    if (!data.is_array()) throw error(spec_.dataset_path, ": not a ShareGPT dataset (expected a JSON array)");
    std::vector<BenchPrompt> usable;
    for (const nlohmann::json& entry : data) {
      const auto [prompt, reply] = first_exchange(entry);
      if (prompt.empty() || reply.empty()) continue;
      BenchPrompt p;
      if (tok_ != nullptr) {
        std::vector<int32_t> ids = tok_->encode(prompt, false);
        const int32_t output_len = spec_.dataset_output_len > 0
                                       ? spec_.dataset_output_len
                                       : static_cast<int32_t>(tok_->encode(reply, false).size());
        // vLLM's ShareGPT filter, so the same file gives the same requests.
        const int32_t input_len = static_cast<int32_t>(ids.size());
        if (input_len < 4 || output_len < 4 || input_len > 1024 || input_len + output_len > 2048) continue;
        p.num_prompt_tokens = input_len;
        p.max_tokens = output_len;
        if (spec_.token_ids) p.token_ids = std::move(ids);
      } else {
        p.max_tokens = spec_.dataset_output_len;
      }
      if (!spec_.token_ids) p.text = prompt;
      usable.push_back(std::move(p));
    }
    if (usable.empty()) {
      throw error(spec_.dataset_path, ": no usable conversation (each needs a prompt and a reply turn",
                  tok_ ? ", a prompt of 4..1024 tokens and prompt + reply at most 2048" : "", ")");
    }
    std::shuffle(usable.begin(), usable.end(), rng_);
    std::vector<BenchPrompt> prompts;
    for (int32_t i = 0; i < spec_.num_prompts; ++i) prompts.push_back(usable[static_cast<size_t>(i) % usable.size()]);
    return prompts;
  }

 private:
  // The first turn and the one after it, from {"conversations"|"conversation": [{"value"|"content"}]}.
  static std::pair<std::string, std::string> first_exchange(const nlohmann::json& entry) {
    if (!entry.is_object()) return {};
    const nlohmann::json* turns = nullptr;
    for (const char* key : {"conversations", "conversation"}) {
      if (const auto it = entry.find(key); it != entry.end() && it->is_array()) turns = &*it;
    }
    if (turns == nullptr || turns->size() < 2) return {};
    const auto text = [](const nlohmann::json& turn) -> std::string {
      if (!turn.is_object()) return {};
      for (const char* key : {"value", "content"}) {
        if (const auto it = turn.find(key); it != turn.end() && it->is_string()) return it->get<std::string>();
      }
      return {};
    };
    return {text((*turns)[0]), text((*turns)[1])};
  }

  const WorkloadSpec& spec_;
  const Tokenizer* tok_;
  std::mt19937_64 rng_;
  std::vector<int32_t> allowed_ids_;
};

}  // namespace

std::vector<BenchPrompt> make_workload(const WorkloadSpec& spec, const Tokenizer* tokenizer) {
  if (spec.token_ids && tokenizer == nullptr) throw error("token-id prompts need a tokenizer (--tokenizer DIR)");
  if (spec.num_prompts < 1) throw error("the workload needs at least one prompt");
  if (spec.range_ratio < 0 || spec.range_ratio >= 1) throw error("--range-ratio must be in [0, 1), got ", spec.range_ratio);
  PromptMaker maker(spec, tokenizer);
  if (spec.dataset_path.empty()) return maker.random_workload();
  if (tokenizer == nullptr && spec.dataset_output_len <= 0) {
    throw error("--dataset without --tokenizer needs --output-len (the reply lengths cannot be counted)");
  }
  return maker.dataset_workload();
}

}  // namespace tern::loadgen
