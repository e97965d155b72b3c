#include "runner/test_hooks.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
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
      } else {
        throw error("TERN_TEST_HOOKS: unknown hook \"", key, "\" (known: step_delay_ms, nan, fail, fail_step)");
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

}  // namespace tern::test_hooks
