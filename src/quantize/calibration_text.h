// The text GPTQ calibrates on, as token sequences.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tern {

// The text of the file at `path` (when empty, a built-in sample of the kinds of text the
// demo model serves: prose, documentation, Chinese, Python, C++ and SQL), tokenised
// with the tokenizer of `model_dir` and cut into sequences of at most max_len tokens.
// Throws tern::Error when the file cannot be read or the text gives fewer than 16 tokens.
std::vector<std::vector<int32_t>> calibration_sequences(const std::string& path, const std::string& model_dir,
                                                        int64_t max_len);

}  // namespace tern
