// The committed Qwen2.5 tokenizer (tests/data/tokenizers/qwen2.5): ids known from HF
// (also agreed by transformers.js), metadata from tokenizer_config.json, and round trips
// over every text of tests/data/tokenizer/texts.json.
#include <gtest/gtest.h>
#include <utf8proc.h>

#include <fstream>
#include <thread>

#include "tokenizer/tokenizer.h"
#include "tokenizer_fixture.h"

namespace tern {
namespace {

using Ids = std::vector<int32_t>;

const Tokenizer& qwen() {
  static const std::shared_ptr<const Tokenizer> tokenizer = Tokenizer::load(testing::qwen_dir());
  return *tokenizer;
}

std::vector<std::string> test_texts() {
  std::ifstream in(std::string(TERN_TEST_DATA) + "/tokenizer/texts.json");
  return nlohmann::json::parse(in).get<std::vector<std::string>>();
}

std::string nfc(const std::string& text) {
  char* mapped = reinterpret_cast<char*>(utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(text.c_str())));
  std::string out(mapped);
  std::free(mapped);
  return out;
}

TEST(TokenizerQwen, KnownIds) {
  EXPECT_EQ(qwen().encode("Hello world"), (Ids{9707, 1879}));
  EXPECT_EQ(qwen().encode("<|im_start|>"), (Ids{151644}));
  EXPECT_EQ(qwen().encode("<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n"),
            (Ids{151644, 872, 198, 9707, 0, 151645, 198, 151644, 77091, 198}));
  EXPECT_EQ(qwen().encode("你好，世界！今天天气很好。"),
            (Ids{108386, 3837, 99489, 6313, 100644, 104307, 101243, 1773}));
  EXPECT_EQ(qwen().encode("windows\r\nline\r\nendings\r\n\r\n"), (Ids{27077, 319, 1056, 319, 408, 819, 871}));
  EXPECT_EQ(qwen().encode("def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n"),
            (Ids{750, 15801, 1445,  982,  262, 421, 308, 366, 220, 17,    510,  286, 470, 308, 198,
                 262, 470,   15801, 1445, 481, 220, 16,  8,   488, 15801, 1445, 481, 220, 17,  340}));
  EXPECT_EQ(qwen().encode("I'M SURE IT'S FINE, THEY'RE HERE AND WE'VE SEEN WHAT YOU'LL DO; HE'D KNOW."),
            (Ids{40, 27603, 328,  4521, 8700,  13272, 434, 3981, 11,   62493, 94153, 19249, 3567,  19677,
                 6,  4491,  5052, 953,  37435, 14985, 6,   4086, 9319, 26,    11685, 27705, 58027, 13}));
  // NFC: "e" + U+0301 is encoded as "é".
  EXPECT_EQ(qwen().encode("cafe\u0301 vs caf\u00e9"), (Ids{924, 58858, 6165, 51950}));
  EXPECT_EQ(qwen().encode(""), Ids{});
}

TEST(TokenizerQwen, Metadata) {
  EXPECT_EQ(qwen().vocab_size(), 151665);
  EXPECT_EQ(qwen().eos_token_id(), 151645);
  EXPECT_EQ(qwen().bos_token_id(), std::nullopt);
  EXPECT_NE(qwen().chat_template().find("<|im_start|>"), std::string::npos);
  EXPECT_TRUE(qwen().is_special(151643));
  EXPECT_FALSE(qwen().is_special(151657)) << "<tool_call> is an added token but not special";
  EXPECT_EQ(qwen().token_to_id("<tool_call>"), 151657);
  EXPECT_EQ(qwen().id_to_token(1879), "\xC4\xA0world");  // "Ġworld"
  EXPECT_EQ(qwen().token_bytes(1879, false), " world");
  EXPECT_EQ(qwen().decode(Ids{151644, 9707, 151645}, true), "Hello");
}

TEST(TokenizerQwen, DecodeOfEncodeGivesTheNfcText) {
  for (const std::string& text : test_texts()) {
    EXPECT_EQ(qwen().decode(qwen().encode(text)), nfc(text)) << text;
  }
}

TEST(TokenizerQwen, ConcurrentEncodersAgree) {
  const std::vector<std::string> texts = test_texts();
  std::vector<Ids> expected;
  for (const std::string& text : texts) expected.push_back(qwen().encode(text));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) mismatches[t] += qwen().encode(texts[i]) != expected[i];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace tern
