// Shared by the fuzz targets: the tiny test model's tokenizer and chat template, loaded
// once, and a way to hand bytes to code that reads files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace tern::fuzz {

// tests/data/models/tiny-qwen2's tokenizer (byte-level BPE, 1024 ids, ChatML specials).
const std::shared_ptr<const Tokenizer>& tiny_tokenizer();
// The ChatML template tiny-qwen2 is served with in the tests.
const ChatTemplate& tiny_chat_template();

// A scratch folder of this process, created once; files written there replace earlier ones.
const std::string& scratch_dir();
void write_file(const std::string& path, std::string_view bytes);

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace tern::fuzz
