// BPE merging: merge order (lowest rank first, leftmost on ties), both merge formats,
// ignore_merges, agreement with a naive reference on random merge tables, long words.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "tokenizer/bpe_model.h"
#include "tokenizer/json_node.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_fixture.h"

namespace tern {
namespace {

using Merges = std::vector<std::pair<std::string, std::string>>;

std::shared_ptr<const Tokenizer> load_json(const nlohmann::json& tokenizer_json) {
  testing::TempDir dir;
  dir.write("tokenizer.json", tokenizer_json.dump());
  return Tokenizer::load(dir.path());
}

std::shared_ptr<const Tokenizer> load_tiny(const Merges& merges) { return load_json(testing::tiny_bpe_json(merges)); }

int32_t id_of(const Tokenizer& tokenizer, const std::string& raw) {
  return tokenizer.token_to_id(byte_level::encode(raw)).value();
}

TEST(TokenizerBpe, MergesLowestRankFirstAndLeftmostOnTies) {
  const auto tokenizer = load_tiny({{"a", "a"}, {"aa", "aa"}, {"b", "c"}, {"a", "b"}});
  const int32_t aa = id_of(*tokenizer, "aa");
  const int32_t aaaa = id_of(*tokenizer, "aaaa");
  EXPECT_EQ(tokenizer->encode("aaaaa"), (std::vector<int32_t>{aaaa, 'a'}));
  EXPECT_EQ(tokenizer->encode("aaa"), (std::vector<int32_t>{aa, 'a'}));
  // "b c" outranks "a b", so "abc" becomes a + bc, never ab + c.
  EXPECT_EQ(tokenizer->encode("abc"), (std::vector<int32_t>{'a', id_of(*tokenizer, "bc")}));
}

TEST(TokenizerBpe, LegacyStringMergesEqualPairMerges) {
  const Merges merges = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {" ", "w"}};
  nlohmann::json legacy = testing::tiny_bpe_json(merges);
  for (auto& merge : legacy["model"]["merges"]) merge = merge[0].get<std::string>() + " " + merge[1].get<std::string>();
  legacy["model"]["merges"].insert(legacy["model"]["merges"].begin(), "#version: 0.2");
  const auto from_pairs = load_tiny(merges);
  const auto from_strings = load_json(legacy);
  const auto ids = from_pairs->encode("hello world");
  EXPECT_EQ(ids, from_strings->encode("hello world"));
  EXPECT_EQ(ids[0], id_of(*from_pairs, "hello"));
  EXPECT_EQ(ids[1], id_of(*from_pairs, " w"));
}

TEST(TokenizerBpe, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  // "abc" is in the vocabulary but merging reaches only a + bc.
  nlohmann::json json = testing::tiny_bpe_json({{"b", "c"}, {"a", "b"}, {"ab", "c"}});
  const auto plain = load_json(json);
  json["model"]["ignore_merges"] = true;
  const auto ignoring = load_json(json);
  EXPECT_EQ(plain->encode("abc"), (std::vector<int32_t>{'a', id_of(*plain, "bc")}));
  EXPECT_EQ(ignoring->encode("abc"), (std::vector<int32_t>{id_of(*ignoring, "abc")}));
  EXPECT_EQ(ignoring->encode("abcb"), plain->encode("abcb"));
}

// Naive BPE: repeatedly merge the lowest-ranked adjacent pair, leftmost first.
std::vector<std::string> reference_bpe(const std::string& word,
                                       const std::map<std::pair<std::string, std::string>, int>& ranks) {
  std::vector<std::string> symbols;
  for (char c : word) symbols.emplace_back(1, c);
  while (true) {
    int best = -1;
    size_t best_pos = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = ranks.find({symbols[i], symbols[i + 1]});
      if (it != ranks.end() && (best < 0 || it->second < best)) {
        best = it->second;
        best_pos = i;
      }
    }
    if (best < 0) return symbols;
    symbols[best_pos] += symbols[best_pos + 1];
    symbols.erase(symbols.begin() + static_cast<long>(best_pos) + 1);
  }
}

TEST(TokenizerBpe, AgreesWithNaiveReferenceOnRandomMergeTables) {
  std::mt19937 rng(7);
  for (int table = 0; table < 20; ++table) {
    std::vector<std::string> tokens = {"a", "b", "c"};
    Merges merges;
    std::map<std::pair<std::string, std::string>, int> ranks;
    for (int m = 0; m < 40; ++m) {
      const std::string left = tokens[rng() % tokens.size()];
      const std::string right = tokens[rng() % tokens.size()];
      if (ranks.count({left, right}) || left.size() + right.size() > 12) continue;
      ranks[{left, right}] = static_cast<int>(merges.size());
      merges.emplace_back(left, right);
      if (std::find(tokens.begin(), tokens.end(), left + right) == tokens.end()) tokens.push_back(left + right);
    }
    const auto tokenizer = load_tiny(merges);
    for (int w = 0; w < 50; ++w) {
      std::string word(1 + rng() % 60, 'a');
      for (char& c : word) c = static_cast<char>('a' + rng() % 3);
      std::vector<int32_t> expected;
      for (const std::string& piece : reference_bpe(word, ranks)) expected.push_back(id_of(*tokenizer, piece));
      ASSERT_EQ(tokenizer->encode(word), expected) << "table " << table << " word " << word;
      ASSERT_EQ(tokenizer->encode(word), expected) << "cached result differs for " << word;
    }
  }
}

TEST(TokenizerBpe, LongWordsMergeInNearLinearTime) {
  const auto tokenizer = load_tiny({{"a", "a"}, {"aa", "aa"}, {"aaaa", "aaaa"}});
  const std::string word(400000, 'a');
  const auto start = std::chrono::steady_clock::now();
  const auto ids = tokenizer->encode(word);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ids, std::vector<int32_t>(50000, id_of(*tokenizer, std::string(8, 'a'))));
  EXPECT_LT(seconds, 2.0 * testing::kSanitizerSlowdown) << "a quadratic merge would take minutes";
}

// Long runs of one byte take a closed form (BpeModel::UniformRun) instead of the heap merge;
// it must give exactly the heap's ids, on random merge tables over one character (some in
// rank order, where the closed form applies, some not, where it must stand aside) and on
// the real vocabularies in tests/data.
void expect_runs_match_the_heap_merge(const BpeModel& model, char c, const std::string& what) {
  for (size_t n : {size_t{16} << 10, (size_t{16} << 10) + 1, (size_t{16} << 10) + 777, (size_t{40} << 10) + 5}) {
    const std::string run(n, c);
    std::vector<int32_t> fast, heap;
    model.encode_word(run, fast);
    model.merge_word(run, heap);
    ASSERT_EQ(fast, heap) << what << ": a run of " << n << " x byte " << int(static_cast<uint8_t>(c));
  }
}

TEST(TokenizerBpe, LongRunsOfOneByteEqualTheHeapMergeOnRandomTables) {
  std::mt19937 rng(11);
  for (int table = 0; table < 40; ++table) {
    const bool fresh_only = table % 2 == 0;  // each token made by one merge: rank order holds
    std::vector<std::string> tokens = {"a"};
    Merges merges;
    std::set<std::pair<std::string, std::string>> pairs;
    for (int m = 0; m < 30; ++m) {
      const std::string left = tokens[rng() % tokens.size()], right = tokens[rng() % tokens.size()];
      const bool exists = std::find(tokens.begin(), tokens.end(), left + right) != tokens.end();
      if (!pairs.insert({left, right}).second || left.size() + right.size() > 48 || (fresh_only && exists)) continue;
      merges.emplace_back(left, right);
      if (!exists) tokens.push_back(left + right);
    }
    const JsonNode json = parse_json_node(testing::tiny_bpe_json(merges).dump(), "table");
    expect_runs_match_the_heap_merge(*BpeModel::from_json(json.required("model")), 'a',
                                     "table " + std::to_string(table));
  }
}

TEST(TokenizerBpe, LongRunsOfOneByteEqualTheHeapMergeOnRealVocabularies) {
  for (const char* dir : {"tokenizers/qwen2.5", "tokenizers/tiny-llama3", "tokenizers/tiny-gpt2",
                          "tokenizers/tiny-qwen", "../../models/tern-demo"}) {
    const JsonNode json =
        load_json_node(std::string(TERN_TEST_DATA) + "/" + dir + "/tokenizer.json", kMaxTokenizerJsonBytes);
    const std::unique_ptr<BpeModel> model = BpeModel::from_json(json.required("model"));
    for (char c : {' ', '\n', '\t', 'a', '-', '0'}) expect_runs_match_the_heap_merge(*model, c, dir);
  }
}

// Issue 23: 8 MB of spaces took 14 s in the heap merge (n log n, with a cache miss per
// step); the closed form is linear.
TEST(TokenizerBpe, EightMegabytesOfOneByteTokenizeInLinearTime) {
  const auto tokenizer = Tokenizer::load(std::string(TERN_TEST_DATA) + "/tokenizers/qwen2.5");
  for (char c : {' ', '\n', 'a'}) {
    const std::string text(8 << 20, c);
    const auto start = std::chrono::steady_clock::now();
    const auto ids = tokenizer->encode(text);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(tokenizer->decode(ids), text);
    EXPECT_LT(seconds, 2.0 * testing::kSanitizerSlowdown) << int(c) << ": " << ids.size() << " ids";
  }
}

TEST(TokenizerBpe, EveryByteSequenceRoundTrips) {
  const auto tokenizer = load_tiny({{"\xE4", "\xBD"}, {" ", "t"}, {"\xF0", "\x9F"}, {"\xF0\x9F", "\x98"}});
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    std::string text(rng() % 40, ' ');
    for (char& c : text) c = static_cast<char>(rng() % 256);
    const std::string valid = tokenizer->decode(tokenizer->encode(text));
    // encode() first makes the text valid UTF-8; decode gives that text back exactly.
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(valid)), valid);
  }
}

}  // namespace
}  // namespace tern
