// libFuzzer target: tokenizer.json through Tokenizer::load. A tokenizer that loads must
// encode and decode a fixed text with every id in its vocabulary.
#include <cstdint>

#include "base/error.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = tern::fuzz::scratch_dir();
  tern::fuzz::write_file(dir + "/tokenizer.json", tern::fuzz::as_text(data, size));
  try {
    const std::shared_ptr<const tern::Tokenizer> tokenizer = tern::Tokenizer::load(dir);
    const std::vector<int32_t> ids = tokenizer->encode("Hello, wörld! 12345 <|im_end|> \xf0\x9f\x98\x80\n\t");
    for (int32_t id : ids) {
      if (id < 0 || id >= tokenizer->vocab_size()) __builtin_trap();
    }
    tokenizer->decode(ids, /*skip_special_tokens=*/true);
  } catch (const tern::Error&) {
  }
  return 0;
}
