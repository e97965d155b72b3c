#include "fuzz_support.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace tern::fuzz {

const std::shared_ptr<const Tokenizer>& tiny_tokenizer() {
  static const std::shared_ptr<const Tokenizer> tokenizer = Tokenizer::load(TERN_TEST_DATA "/models/tiny-qwen2");
  return tokenizer;
}

const ChatTemplate& tiny_chat_template() {
  static const ChatTemplate chat_template = [] {
    std::ifstream f(TERN_TEST_DATA "/tokenizers/tiny-qwen/chat_template.jinja");
    const std::string source((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return ChatTemplate(source, ChatSpecialTokens{.eos_token = "<|im_end|>"});
  }();
  return chat_template;
}

const std::string& scratch_dir() {
  // Never destroyed: the exit handler that removes the folder runs after static destructors.
  static const std::string* dir = [] {
    auto d = new std::string(
        (std::filesystem::temp_directory_path() / ("tern-fuzz-" + std::to_string(getpid()))).string());
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(*dir, ec);
    });
    return d;
  }();
  return *dir;
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace tern::fuzz
