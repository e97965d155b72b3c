// Helpers for tokenizer tests: temporary model folders and tiny byte-level BPE
// tokenizer.json documents built in code.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/byte_level.h"

#include "test_support.h"

namespace tern::testing {

// tokenizer.json of a byte-level BPE whose byte tokens have id = byte value, followed by
// one token per merge (ids 256, 257, ...). Merges are given as raw bytes, e.g. {"a", "b"}.
// Pre-tokenizer: bare ByteLevel with the GPT-2 regex and no prefix space.
inline nlohmann::json tiny_bpe_json(const std::vector<std::pair<std::string, std::string>>& merges) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level::encode(std::string(1, static_cast<char>(b)))] = b;
  nlohmann::json merge_list = nlohmann::json::array();
  for (const auto& [left, right] : merges) {
    const std::string merged = byte_level::encode(left + right);
    if (!vocab.contains(merged)) vocab[merged] = static_cast<int>(vocab.size());
    merge_list.push_back({byte_level::encode(left), byte_level::encode(right)});
  }
  return {
      {"version", "1.0"},
      {"added_tokens", nlohmann::json::array()},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", true}}},
      {"post_processor",
       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merge_list}}},
  };
}

// An added-token entry of tokenizer.json.
inline nlohmann::json added_token_json(int id, const std::string& content, bool special, bool lstrip = false,
                                       bool rstrip = false, bool single_word = false, bool normalized = false) {
  return {{"id", id},         {"content", content},       {"single_word", single_word}, {"lstrip", lstrip},
          {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
}

inline std::string qwen_dir() { return std::string(TERN_TEST_DATA) + "/tokenizers/qwen2.5"; }

}  // namespace tern::testing
