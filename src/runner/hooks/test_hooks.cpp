#include "runner/test_hooks.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "base/error.h"
#include "base/log.h"

namespace tern::test_hooks {
namespace {

struct SeedTrigger {
  uint64_t seed = 0;
  int32_t after_tokens = 0;
  bool matches(const StepSequence& seq) const {
    return seq.seed == seed && static_cast<int32_t>(seq.output_token_ids.size()) >= after_tokens;
  }
};

struct Config {
  int64_t step_delay_ms = 0;
  std::optional<SeedTrigger> nan;
  std::optional<SeedTrigger> fail;
  int64_t fail_step = 0;  // 0: never
  double spec_accept = -1;  // < 0: off
};

// "S@K" or "S" (K = 0).
SeedTrigger parse_trigger(std::string_view value, std::string_view item) {
  SeedTrigger t;
  const size_t at = value.find('@');
  try {
    t.seed = std::stoull(std::string(value.substr(0, at)));
    if (at != std::string_view::npos) t.after_tokens = std::stoi(std::string(value.substr(at + 1)));
  } catch (const std::exception&) {
    throw error("TERN_TEST_HOOKS: cannot read \"", item, "\" (expected SEED or SEED@TOKENS)");
  }
  return t;
}

Config parse(const char* text) {
  Config c;
  if (text == nullptr) return c;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    try {
      if (key == "step_delay_ms") {
        c.step_delay_ms = std::stoll(std::string(value));
      } else if (key == "fail_step") {
        c.fail_step = std::stoll(std::string(value));
      } else if (key == "nan") {
        c.nan = parse_trigger(value, item);
      } else if (key == "fail") {
        c.fail = parse_trigger(value, item);
      } else if (key == "spec_accept") {
        c.spec_accept = std::stod(std::string(value));
        if (!(c.spec_accept >= 0 && c.spec_accept <= 1))
          throw error("TERN_TEST_HOOKS: spec_accept must be in [0, 1], got \"", value, "\"");
      } else {
        throw error("TERN_TEST_HOOKS: unknown hook \"", key,
                    "\" (known: step_delay_ms, nan, fail, fail_step, spec_accept)");
      }
    } catch (const std::invalid_argument&) {
      throw error("TERN_TEST_HOOKS: cannot read \"", item, "\"");
    } catch (const std::out_of_range&) {
      throw error("TERN_TEST_HOOKS: cannot read \"", item, "\"");
    }
  }
  return c;
}

const Config& config() {
  static const Config c = [] {
    const char* text = std::getenv("TERN_TEST_HOOKS");
    Config parsed = parse(text);
    if (text != nullptr && *text != '\0') log_warn("test hooks active (TERN_TEST_HOOKS=", text, ")");
    return parsed;
  }();
  return c;
}

std::atomic<int64_t> num_steps{0};

}  // namespace

void before_step(const StepBatch& batch) {
  const Config& c = config();
  const int64_t step = ++num_steps;
  if (c.step_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(c.step_delay_ms));
  if (c.fail_step > 0 && step == c.fail_step) throw error("test hook: injected backend failure at step ", step);
  if (c.fail) {
    for (const StepSequence& seq : batch.seqs) {
      if (c.fail->matches(seq)) throw error("test hook: injected backend failure at step ", step);
    }
  }
}

bool poison_logits(const StepSequence& seq) {
  const Config& c = config();
  return c.nan && c.nan->matches(seq);
}

bool force_acceptance(const StepSequence& seq, std::span<SampledToken> rows, std::vector<SampledToken>& out) {
  const Config& c = config();
  if (c.spec_accept < 0) return false;
  const auto drafts = seq.new_token_ids.last(size_t(seq.num_draft_tokens));
  // The draws depend only on (seed, output length), like sampling's.
  std::mt19937_64 rng(seq.seed ^ (uint64_t(seq.output_token_ids.size()) * 0x9e3779b97f4a7c15ull));
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  size_t accepted = 0;
  while (accepted < drafts.size() && uniform(rng) < c.spec_accept) ++accepted;
  for (size_t r = 0; r <= accepted; ++r) {
    SampledToken token = std::move(rows[r]);
    token.numerical_error = false;
    if (r < drafts.size()) {
      token.token_id = drafts[r];  // a refused draft's position still continues the text
    } else {
      // What followed the latest earlier occurrence of the last token (the last draft, or
      // the last known token), so the text keeps repeating.
      const std::span<const int32_t> prompt = seq.prompt_token_ids, output = seq.output_token_ids;
      const int32_t last = !drafts.empty() ? drafts.back() : !output.empty() ? output.back() : prompt.back();
      const size_t known = prompt.size() + output.size() - (drafts.empty() ? 1 : 0);
      const auto at = [&](size_t i) { return i < prompt.size() ? prompt[i] : output[i - prompt.size()]; };
      token.token_id = last;
      for (size_t i = known; i-- > 0;) {
        if (i + 1 < prompt.size() + output.size() && at(i) == last) {
          token.token_id = at(i + 1);
          break;
        }
      }
    }
    out.push_back(std::move(token));
  }
  return true;
}

}  // namespace tern::test_hooks
