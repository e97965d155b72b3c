// Token-mask time per sequence-step with the Qwen2.5 vocabulary (151,665 ids): a
// constrained sequence replays a valid output token by token, and each step's
// Matcher::fill_mask (the bitmask the sampler applies) plus accept_token is timed. The
// counters give p50 / p99 / max over all steps of the repetitions after the first, in
// microseconds, and of the first ("cold_"), which also computes each state's masks on
// first use; compile_ms is building the automaton.
//
//   build/bench/grammar_mask_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "grammar/compiled_grammar.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/regex.h"
#include "tokenizer/tokenizer.h"

namespace tern {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// The source tree it was built from, or the working directory (a copied tree on another
// machine, run from its root).
const std::shared_ptr<const Tokenizer>& qwen() {
  static const std::shared_ptr<const Tokenizer> tokenizer = [] {
    const std::string built = std::string(TERN_SOURCE_DIR) + "/tests/data/tokenizers/qwen2.5";
    return Tokenizer::load(std::filesystem::exists(built) ? built : "tests/data/tokenizers/qwen2.5");
  }();
  return tokenizer;
}

const std::shared_ptr<const grammar::Vocabulary>& vocabulary() {
  static const std::shared_ptr<const grammar::Vocabulary> vocab = [] {
    const Tokenizer& t = *qwen();
    std::vector<std::string> bytes;
    std::vector<bool> special;
    for (int32_t id = 0; id < t.vocab_size(); ++id) {
      bytes.push_back(t.token_bytes(id, false));
      special.push_back(t.is_special(id));
    }
    return std::make_shared<grammar::Vocabulary>(std::move(bytes), std::move(special));
  }();
  return vocab;
}

// The issue's benchmark schema: ten fields, nested objects and arrays, enums, bounds.
const Json& nested_schema() {
  static const Json schema = Json::parse(R"({
    "type": "object",
    "properties": {
      "id": {"type": "integer", "minimum": 0},
      "name": {"type": "string", "maxLength": 40},
      "email": {"type": "string", "format": "email"},
      "active": {"type": "boolean"},
      "score": {"type": "number", "minimum": 0, "maximum": 100},
      "role": {"enum": ["admin", "editor", "viewer"]},
      "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
      "address": {"type": "object", "properties": {
          "street": {"type": "string"}, "city": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
        "required": ["street", "city", "zip"]},
      "created": {"type": "string", "format": "date-time"},
      "manager": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"id": {"type": "integer"},
          "name": {"type": "string"}}, "required": ["id", "name"]}]}
    },
    "required": ["id", "name", "email", "active", "score", "role", "tags", "address", "created", "manager"]})");
  return schema;
}

const std::string kNestedOutput =
    R"({"id": 4182, "name": "Zoë Müller-Østergaard", "email": "zoe.mueller@example.org", "active": true, )"
    R"("score": 87.25, "role": "editor", "tags": ["json", "grammar", "naïve \"quotes\"", "日本語"], )"
    R"("address": {"street": "12 Rue de l'Église", "city": "Zürich", "zip": "80331"}, )"
    R"("created": "2025-11-03T14:05:09.123+01:00", "manager": {"id": 7, "name": "Ann"}})";

void run_mask_steps(benchmark::State& state, const grammar::Grammar& g, const std::string& output) {
  const std::shared_ptr<const grammar::Vocabulary>& vocab = vocabulary();  // loaded once, untimed
  const auto t0 = Clock::now();
  const auto compiled = grammar::CompiledGrammar::compile(g, vocab);
  const double compile_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  const std::vector<int32_t> tokens = qwen()->encode(output, false);
  std::vector<uint32_t> words(size_t(vocabulary()->mask_words()));
  std::vector<double> step_us, cold_us;
  for (auto _ : state) {
    std::vector<double>& times = cold_us.empty() ? cold_us : step_us;
    grammar::Matcher m(compiled);
    for (int32_t token : tokens) {
      const auto start = Clock::now();
      m.fill_mask(words);
      const auto filled = Clock::now();
      if (!((words[size_t(token) >> 5] >> (token & 31)) & 1u)) state.SkipWithError("the output's token is masked");
      if (!m.accept_token(token)) state.SkipWithError("the output's token was refused");
      times.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      benchmark::DoNotOptimize(filled);
    }
    if (!m.can_end()) state.SkipWithError("the output is not complete");
  }
  const auto pct = [](std::vector<double>& us, double p) {
    std::sort(us.begin(), us.end());
    return us[std::min(us.size() - 1, size_t(p * double(us.size())))];
  };
  state.counters["steps"] = double(tokens.size());
  state.counters["p50_us"] = pct(step_us, 0.50);
  state.counters["p99_us"] = pct(step_us, 0.99);
  state.counters["max_us"] = step_us.back();
  state.counters["cold_p99_us"] = pct(cold_us, 0.99);
  state.counters["cold_max_us"] = cold_us.back();
  state.counters["compile_ms"] = compile_ms;
  state.counters["masks_MiB"] = double(compiled->memory_bytes()) / (1 << 20);
}

void BM_MaskNestedSchema(benchmark::State& state) {
  run_mask_steps(state, grammar::json_schema_grammar(nested_schema()), kNestedOutput);
}
BENCHMARK(BM_MaskNestedSchema)->Unit(benchmark::kMillisecond)->Iterations(20);

void BM_MaskJsonObject(benchmark::State& state) {
  run_mask_steps(state, grammar::json_object_grammar(), kNestedOutput);
}
BENCHMARK(BM_MaskJsonObject)->Unit(benchmark::kMillisecond)->Iterations(20);

void BM_MaskRegex(benchmark::State& state) {
  run_mask_steps(state, grammar::regex_grammar("[A-Z][a-z]+ (of|in) [A-Z][a-z]+, [0-9]{4}\\."),
                 "Pride of Lions, 1999.");
}
BENCHMARK(BM_MaskRegex)->Unit(benchmark::kMillisecond)->Iterations(20);

}  // namespace
}  // namespace tern
BENCHMARK_MAIN();
