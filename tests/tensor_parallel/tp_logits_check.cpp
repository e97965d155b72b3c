// tp_logits_check: a model split over N ranks against the same model whole on one device,
// logit by logit. Random prompts of the given lengths are computed in one prefill step, as
// the engine batches them; the last position of each is compared over the whole
// vocabulary. Prints a JSON report and exits 1 when a row is off: its error
// ||split - whole|| / ||whole|| above --tolerance, or a different argmax where the whole
// model's top two logits are further apart than --margin.
//
//   tp_logits_check --model DIR --tensor-parallel-size N [--backend cuda] [--lengths 7,100,2048]
//
// On CUDA the whole model runs on GPU 0, then rank r of the split one on GPU r.
// scripts/gpu-tp.sh runs it on the GPU machine.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "backend/backend.h"
#include "backend/communicator.h"
#include "base/error.h"
#include "base/rank_threads.h"
#include "model/load_model.h"
#include "runner/step_inputs.h"

namespace tern {
namespace {

constexpr int32_t kBlockSize = 16;

// A model on `size` ranks of a backend kind.
struct Group {
  Group(const std::string& dir, const std::string& backend, int size) : threads(size) {
    std::vector<Backend*> ptrs;
    for (int r = 0; r < size; ++r) {
      backends.push_back(make_backend(backend, {.device_index = r}));
      ptrs.push_back(backends.back().get());
    }
    if (size > 1) comms = make_communicators(ptrs);
    std::vector<Communicator*> comm_ptrs;
    for (auto& c : comms) comm_ptrs.push_back(c.get());
    models = load_model_shards(dir, ptrs, comm_ptrs, threads);
  }
  RankThreads threads;
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<std::unique_ptr<Communicator>> comms;
  std::vector<std::unique_ptr<LlamaModel>> models;
};

// Logits [prompts, V] at the last position of each prompt, all computed in one step.
std::vector<float> last_logits(Group& g, const std::vector<std::vector<int32_t>>& prompts) {
  static const SamplingParams kGreedy{.temperature = 0.0f};
  int32_t tokens = 0, blocks = 0, longest = 0;
  for (const auto& p : prompts) {
    tokens += int32_t(p.size());
    blocks += (int32_t(p.size()) + kBlockSize - 1) / kBlockSize;
    longest = std::max(longest, int32_t(p.size()));
  }
  std::vector<std::vector<int32_t>> tables;
  int32_t next_block = 0;
  for (const auto& p : prompts) {
    std::vector<int32_t> table;
    for (int32_t b = 0; b < (int32_t(p.size()) + kBlockSize - 1) / kBlockSize; ++b) table.push_back(next_block++);
    tables.push_back(table);
  }
  StepBatch batch;
  for (size_t i = 0; i < prompts.size(); ++i)
    batch.seqs.push_back(StepSequence{.seq_id = i,
                                      .new_token_ids = prompts[i],
                                      .block_table = tables[i],
                                      .sample = true,
                                      .params = &kGreedy,
                                      .prompt_token_ids = prompts[i]});
  const int64_t vocab = g.models[0]->config().vocab_size;
  std::vector<float> out(prompts.size() * size_t(vocab));
  g.threads.run([&](int rank) {
    const LlamaModel& model = *g.models[size_t(rank)];
    Backend& be = model.backend();
    auto cache = model.make_kv_cache(blocks, kBlockSize);
    Workspace ws = model.make_workspace(tokens, int64_t(prompts.size()));
    StepInputs inputs(be, {.block_size = kBlockSize,
                           .max_model_len = longest,
                           .max_num_batched_tokens = tokens,
                           .max_num_seqs = int32_t(prompts.size()),
                           .max_prompt_logprob_tokens = 0});
    inputs.build(batch, 0, vocab);
    inputs.upload();
    const Tensor logits = model.forward(inputs.forward_inputs(), cache, ws);
    be.synchronize();
    if (rank == 0) be.copy_to_host(logits, out.data());
  });
  return out;
}

struct RowReport {
  double error_ratio = 0, max_abs = 0, margin = 0;
  int32_t argmax_whole = 0, argmax_split = 0;
};

RowReport compare_row(const float* split, const float* whole, int64_t vocab) {
  RowReport r;
  double diff2 = 0, ref2 = 0;
  for (int64_t v = 0; v < vocab; ++v) {
    const double d = double(split[v]) - double(whole[v]);
    diff2 += d * d;
    ref2 += double(whole[v]) * double(whole[v]);
    r.max_abs = std::max(r.max_abs, std::abs(d));
    if (whole[v] > whole[r.argmax_whole]) r.argmax_whole = int32_t(v);
    if (split[v] > split[r.argmax_split]) r.argmax_split = int32_t(v);
  }
  r.error_ratio = std::sqrt(diff2 / std::max(ref2, 1e-30));
  float second = -INFINITY;
  for (int64_t v = 0; v < vocab; ++v)
    if (v != r.argmax_whole) second = std::max(second, whole[v]);
  r.margin = double(whole[r.argmax_whole]) - double(second);
  return r;
}

int run(int argc, char** argv) {
  std::string model, backend = "cuda", json_path;
  int size = 2;
  std::vector<int32_t> lengths = {7, 100, 2048};
  double tolerance = 0.05, margin = 0.1;
  CLI::App app("Logits of a tensor-parallel model against the whole model");
  app.add_option("--model", model, "model folder")->required();
  app.add_option("--backend", backend, "cuda or cpu")->capture_default_str();
  app.add_option("--tensor-parallel-size", size, "ranks of the split model")->capture_default_str();
  app.add_option("--lengths", lengths, "prompt lengths (random token ids)")->delimiter(',');
  app.add_option("--tolerance", tolerance, "largest ||split - whole|| / ||whole|| per row")->capture_default_str();
  app.add_option("--margin", margin, "argmax must agree where the top two logits differ by more")
      ->capture_default_str();
  app.add_option("--json", json_path, "also write the report here");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::vector<int32_t>> prompts;
  {
    const int64_t vocab = load_model_config(model).vocab_size;
    std::mt19937 rng(1234);
    for (int32_t len : lengths) {
      std::vector<int32_t> p;
      for (int32_t i = 0; i < len; ++i) p.push_back(int32_t(rng() % uint64_t(vocab)));
      prompts.push_back(p);
    }
  }
  std::vector<float> whole, split;
  {
    Group g(model, backend, 1);
    whole = last_logits(g, prompts);
  }
  {
    Group g(model, backend, size);
    split = last_logits(g, prompts);
  }
  const int64_t vocab = int64_t(whole.size() / prompts.size());
  nlohmann::json report = {{"model", model},
                           {"backend", backend},
                           {"tensor_parallel_size", size},
                           {"tolerance", tolerance},
                           {"rows", nlohmann::json::array()}};
  bool ok = true;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const RowReport r = compare_row(split.data() + i * size_t(vocab), whole.data() + i * size_t(vocab), vocab);
    const bool row_ok = r.error_ratio <= tolerance && (r.argmax_split == r.argmax_whole || r.margin <= margin);
    ok = ok && row_ok;
    report["rows"].push_back({{"prompt_tokens", prompts[i].size()},
                              {"error_ratio", r.error_ratio},
                              {"max_abs_diff", r.max_abs},
                              {"argmax_whole", r.argmax_whole},
                              {"argmax_split", r.argmax_split},
                              {"top2_margin_whole", r.margin},
                              {"ok", row_ok}});
  }
  report["ok"] = ok;
  std::cout << report.dump(1) << std::endl;
  if (!json_path.empty()) std::ofstream(json_path) << report.dump(1) << "\n";
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace tern

int main(int argc, char** argv) {
  try {
    return tern::run(argc, argv);
  } catch (const tern::Error& e) {
    std::fprintf(stderr, "tp_logits_check: error: %s\n", e.what());
    return 2;
  }
}
