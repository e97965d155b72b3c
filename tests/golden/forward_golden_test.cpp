// The CPU backend reproduces Hugging Face transformers on the tiny random-weight models
// of tests/data/models (made by tools/make_tiny_models.py): fp32 logits at every prompt
// position within 1e-3, and identical greedy continuations, whether the prompt is
// computed in one step or in chunks, with KV blocks scattered through the pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "../unit/forward_support.h"
#include "model/load_model.h"
#include "model/safetensors.h"
#include "runner/model_runner.h"

namespace tern {
namespace {

namespace fs = std::filesystem;
using testing::greedy;
using testing::scattered_blocks;
const fs::path kData = TERN_TEST_DATA;

struct GoldenCase {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> greedy_ids;
  Tensor logits;  // [len, vocab] F32 from HF
};

std::vector<GoldenCase> load_cases(const std::string& name) {
  std::ifstream f(kData / "golden" / (name + ".json"));
  nlohmann::json j = nlohmann::json::parse(f);
  SafetensorsFile logits = SafetensorsFile::open((kData / "golden" / (name + ".logits.safetensors")).string());
  std::vector<GoldenCase> cases;
  for (size_t i = 0; i < j["cases"].size(); ++i) {
    const auto& c = j["cases"][i];
    cases.push_back({c["prompt_ids"].get<std::vector<int32_t>>(), c["greedy_ids"].get<std::vector<int32_t>>(),
                     logits.tensor("prompt_" + std::to_string(i))});
  }
  return cases;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kData / "golden")) {
    std::string file = e.path().filename().string();
    if (file.ends_with(".json")) names.push_back(file.substr(0, file.size() - 5));
  }
  std::sort(names.begin(), names.end());
  return names;
}

class ForwardGolden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { backend_ = make_backend("cpu"); }
  std::unique_ptr<LlamaModel> load() { return load_model((kData / "models" / GetParam()).string(), *backend_); }
  std::unique_ptr<Backend> backend_;
};

TEST_P(ForwardGolden, LogitsMatchTransformersAtEveryPosition) {
  auto model = load();
  const int64_t vocab = model->config().vocab_size;
  const int block_size = 16, pool = 32;
  auto cache = model->make_kv_cache(pool, block_size);
  Workspace ws = model->make_workspace(128, 128);
  for (const GoldenCase& c : load_cases(GetParam())) {
    const int32_t n = int32_t(c.prompt_ids.size());
    std::vector<int32_t> table = scattered_blocks((n + block_size - 1) / block_size, pool, uint32_t(n));
    std::vector<int32_t> positions(static_cast<size_t>(n)), slots(positions), rows(positions);
    for (int32_t i = 0; i < n; ++i) {
      positions[size_t(i)] = i;
      slots[size_t(i)] = table[size_t(i / block_size)] * block_size + i % block_size;
      rows[size_t(i)] = i;
    }
    int32_t query_start[2] = {0, n}, seq_len = n;
    auto view = [](auto* data, int64_t count) { return make_view((void*)data, DType::kI32, Device::kCpu, {count}); };
    ForwardInputs in;
    in.token_ids = view(c.prompt_ids.data(), n);
    in.positions = view(positions.data(), n);
    in.slot_mapping = view(slots.data(), n);
    in.logits_indices = view(rows.data(), n);
    in.attention.num_seqs = 1;
    in.attention.max_query_len = n;
    in.attention.max_seq_len = n;
    in.attention.query_start = view(query_start, 2);
    in.attention.seq_lens = view(&seq_len, 1);
    in.attention.block_tables = make_view(table.data(), DType::kI32, Device::kCpu, {1, int64_t(table.size())});
    Tensor logits = model->forward(in, cache, ws);
    ASSERT_EQ(logits.numel(), c.logits.numel());
    for (int32_t pos = 0; pos < n; ++pos) {
      const float* got = logits.ptr<const float>() + pos * vocab;
      const float* want = c.logits.ptr<const float>() + pos * vocab;
      float max_ref = 0, max_err = 0;
      for (int64_t v = 0; v < vocab; ++v) {
        max_ref = std::max(max_ref, std::abs(want[v]));
        max_err = std::max(max_err, std::abs(got[v] - want[v]));
      }
      ASSERT_LE(max_err, 1e-3f * std::max(1.0f, max_ref))
          << GetParam() << " prompt of " << n << " tokens, position " << pos;
    }
  }
}

TEST_P(ForwardGolden, GreedyContinuationsMatchTransformers) {
  ModelRunner runner(
      load(), ModelRunnerConfig{
                  .sizes = {.block_size = 4, .num_kv_blocks = 64, .max_num_batched_tokens = 64, .max_num_seqs = 8}});
  for (const GoldenCase& c : load_cases(GetParam())) {
    for (int chunk : {64, 5}) {
      EXPECT_EQ(greedy(runner, c.prompt_ids, int(c.greedy_ids.size()), chunk, 17), c.greedy_ids)
          << GetParam() << " prompt of " << c.prompt_ids.size() << " tokens, prefill chunk " << chunk;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ForwardGolden, ::testing::ValuesIn(model_names()), [](const auto& info) {
  std::string s = info.param;
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
});

}  // namespace
}  // namespace tern
