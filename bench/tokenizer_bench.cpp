// Tokenizer throughput on tests/data/tokenizer/bench_corpus.txt (~400 KB: English,
// Chinese, C++) with the Qwen2.5 tokenizer. tools/bench_hf_tokenizer.py measures HF
// `tokenizers` on the same text and prints the same id count and checksum, which must
// match the "ids=... checksum=..." label of BM_EncodeCorpus.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace tern {
namespace {

const std::string& corpus() {
  static const std::string text = [] {
    std::ifstream in(std::string(TERN_SOURCE_DIR) + "/tests/data/tokenizer/bench_corpus.txt", std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return std::move(buffer).str();
  }();
  return text;
}

// Paragraphs (split at blank lines) stand for separate requests.
const std::vector<std::string>& paragraphs() {
  static const std::vector<std::string> parts = [] {
    std::vector<std::string> out;
    const std::string& text = corpus();
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find("\n\n", start);
      end = end == std::string::npos ? text.size() : end + 2;
      out.push_back(text.substr(start, end - start));
      start = end;
    }
    return out;
  }();
  return parts;
}

const std::shared_ptr<const Tokenizer>& qwen() {
  static const std::shared_ptr<const Tokenizer> tokenizer =
      Tokenizer::load(std::string(TERN_SOURCE_DIR) + "/tests/data/tokenizers/qwen2.5");
  return tokenizer;
}

// FNV-1a over the ids; tools/bench_hf_tokenizer.py computes the same.
uint64_t checksum(const std::vector<int32_t>& ids) {
  uint64_t hash = 1469598103934665603ull;
  for (int32_t id : ids) hash = (hash ^ static_cast<uint64_t>(id)) * 1099511628211ull;
  return hash;
}

void BM_EncodeCorpus(benchmark::State& state) {
  const auto& tokenizer = qwen();
  std::vector<int32_t> ids;
  for (auto _ : state) {
    ids = tokenizer->encode(corpus());
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus().size()));
  state.SetLabel("ids=" + std::to_string(ids.size()) + " checksum=" + std::to_string(checksum(ids)));
}
BENCHMARK(BM_EncodeCorpus)->Unit(benchmark::kMillisecond);

void BM_EncodeParagraphs(benchmark::State& state) {
  const auto& tokenizer = qwen();
  for (auto _ : state) {
    for (const std::string& paragraph : paragraphs()) benchmark::DoNotOptimize(tokenizer->encode(paragraph).data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus().size()));
}
BENCHMARK(BM_EncodeParagraphs)->Unit(benchmark::kMillisecond)->Threads(1)->Threads(4)->UseRealTime();

void BM_Decode(benchmark::State& state) {
  const auto& tokenizer = qwen();
  const std::vector<int32_t> ids = tokenizer->encode(corpus());
  for (auto _ : state) benchmark::DoNotOptimize(tokenizer->decode(ids).data());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus().size()));
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

void BM_IncrementalDetokenize(benchmark::State& state) {
  const std::vector<int32_t> ids = qwen()->encode(corpus());
  for (auto _ : state) {
    IncrementalDetokenizer detokenizer(qwen(), /*skip_special_tokens=*/true);
    for (int32_t id : ids) benchmark::DoNotOptimize(detokenizer.push(id).data());
    benchmark::DoNotOptimize(detokenizer.flush().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus().size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ids.size()));
}
BENCHMARK(BM_IncrementalDetokenize)->Unit(benchmark::kMillisecond);

void BM_LoadQwen(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(Tokenizer::load(std::string(TERN_SOURCE_DIR) + "/tests/data/tokenizers/qwen2.5").get());
  }
}
BENCHMARK(BM_LoadQwen)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace tern

BENCHMARK_MAIN();
