// UTF-8 and byte-level alphabet helpers: lossy decoding must match Rust's
// String::from_utf8_lossy byte for byte, since HF decode() relies on it.
#include <gtest/gtest.h>

#include "base/utf8.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/unicode_classes.h"

namespace tern {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(TokenizerUtf8, LossyReplacesEachMaximalInvalidSubpartOnce) {
  EXPECT_EQ(utf8::to_valid_lossy("plain ascii"), "plain ascii");
  EXPECT_EQ(utf8::to_valid_lossy("caf\xC3\xA9"), "caf\xC3\xA9");
  // A truncated 3-byte sequence followed by ASCII: one U+FFFD for the valid prefix.
  EXPECT_EQ(utf8::to_valid_lossy("\xE4\xB8"
                                 "A"),
            kFffd + "A");
  // Truncated at the end of input.
  EXPECT_EQ(utf8::to_valid_lossy("ok\xF0\x9F\x98"), "ok" + kFffd);
  // Lone continuation bytes: one U+FFFD each.
  EXPECT_EQ(utf8::to_valid_lossy("\x80\x80"), kFffd + kFffd);
  // Overlong C0 80, surrogate ED A0 80, beyond U+10FFFF F4 90 80 80: every byte invalid.
  EXPECT_EQ(utf8::to_valid_lossy("\xC0\x80"), kFffd + kFffd);
  EXPECT_EQ(utf8::to_valid_lossy("\xED\xA0\x80"), kFffd + kFffd + kFffd);
  EXPECT_EQ(utf8::to_valid_lossy("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);
  EXPECT_EQ(utf8::to_valid_lossy("\xF5\xFF"), kFffd + kFffd);
  // E0 needs A0..BF next; F0 needs 90..BF; F4 needs 80..8F.
  EXPECT_EQ(utf8::to_valid_lossy("\xE0\x9F\x80"), kFffd + kFffd + kFffd);
  EXPECT_EQ(utf8::to_valid_lossy("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8::to_valid_lossy("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");
  EXPECT_EQ(utf8::to_valid_lossy(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(TokenizerUtf8, ValidationNamesTheFirstBadSequence) {
  EXPECT_TRUE(utf8::is_valid("plain ascii, h\xC3\xA9, \xE4\xB8\xAD, \xF0\x9F\x91\x8B"));
  EXPECT_EQ(utf8::first_invalid("plain"), std::string_view::npos);
  EXPECT_EQ(utf8::first_invalid("ab\xC0\x80"), 2u);            // overlong NUL
  EXPECT_EQ(utf8::first_invalid("/\xC0\xAF"), 1u);             // overlong '/'
  EXPECT_EQ(utf8::first_invalid("\xE0\x9F\x80"), 0u);          // overlong 3-byte form
  EXPECT_EQ(utf8::first_invalid("ok \xED\xA0\x80"), 3u);       // surrogate U+D800
  EXPECT_EQ(utf8::first_invalid("\xF4\x90\x80\x80"), 0u);      // past U+10FFFF
  EXPECT_EQ(utf8::first_invalid("\xE4\xB8\xAD\xE4\xB8"), 3u);  // truncated at the end
  EXPECT_EQ(utf8::first_invalid("\x80"), 0u);                  // lone continuation byte
  EXPECT_FALSE(utf8::is_valid("\xF5\x80\x80\x80"));
}

TEST(TokenizerUtf8, IncompleteSuffixIsOnlyAPrefixThatMoreBytesCouldComplete) {
  EXPECT_EQ(utf8::incomplete_suffix_length(""), 0u);
  EXPECT_EQ(utf8::incomplete_suffix_length("abc"), 0u);
  EXPECT_EQ(utf8::incomplete_suffix_length("a\xE4"), 1u);
  EXPECT_EQ(utf8::incomplete_suffix_length("a\xE4\xB8"), 2u);
  EXPECT_EQ(utf8::incomplete_suffix_length("a\xE4\xB8\xAD"), 0u);
  EXPECT_EQ(utf8::incomplete_suffix_length("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(utf8::incomplete_suffix_length("\xF0\x80"), 0u) << "F0 80 can never become valid";
  EXPECT_EQ(utf8::incomplete_suffix_length("\xED\xA0"), 0u) << "surrogates can never become valid";
  EXPECT_EQ(utf8::incomplete_suffix_length("\x80\x80"), 0u);
  EXPECT_EQ(utf8::incomplete_suffix_length("\xC2"), 1u);
  EXPECT_EQ(utf8::incomplete_suffix_length("\xC1"), 0u);
}

TEST(TokenizerUtf8, RustWhitespaceAndWordClasses) {
  for (char32_t cp : {U'\t', U'\n', U'\v', U'\f', U'\r', U' ', U'\u0085', U'\u00A0', U'\u2003', U'\u2028', U'\u3000'}) {
    EXPECT_TRUE(unicode::is_whitespace(cp)) << static_cast<uint32_t>(cp);
  }
  for (char32_t cp : {U'a', U'_', U'\u180E', U'\u200B', U'\uFEFF'}) EXPECT_FALSE(unicode::is_whitespace(cp));
  for (char32_t cp : {U'a', U'Z', U'7', U'_', U'\u00E9', U'\u4E2D', U'\u0301', U'\u2167', U'\u24B6', U'\u200D'}) {
    EXPECT_TRUE(unicode::is_word_char(cp)) << static_cast<uint32_t>(cp);
  }
  for (char32_t cp : {U' ', U'-', U',', U'<', U'\U0001F600'}) EXPECT_FALSE(unicode::is_word_char(cp));
}

TEST(TokenizerByteLevel, AlphabetMapsEveryByteToOnePrintableCharacter) {
  EXPECT_EQ(byte_level::encode("a b\n"),
            "a\xC4\xA0"
            "b\xC4\x8A");  // "aĠbĊ"
  EXPECT_EQ(byte_level::byte_to_char('!'), U'!');
  EXPECT_EQ(byte_level::byte_to_char(0x00), U'\u0100');
  EXPECT_EQ(byte_level::byte_to_char(0xAD), U'\u0143');  // the soft hyphen is remapped, after 0x00..0x20 and 0x7F..0xA0
  for (int b = 0; b < 256; ++b) {
    const std::string byte(1, static_cast<char>(b));
    EXPECT_EQ(byte_level::decode(byte_level::encode(byte)), byte) << b;
  }
}

TEST(TokenizerByteLevel, TokensOutsideTheAlphabetDecodeAsTheirOwnUtf8) {
  EXPECT_EQ(byte_level::decode_token("\xC4\xA0hello"), " hello");
  EXPECT_EQ(byte_level::decode_token("<|im_end|>"), "<|im_end|>");
  // A space is not in the alphabet: the whole token is kept as written.
  EXPECT_EQ(byte_level::decode_token("<special token>"), "<special token>");
  // "é" (U+00E9) is in the alphabet and stands for the single byte 0xE9.
  EXPECT_EQ(byte_level::decode_token("caf\xC3\xA9"), "caf\xE9");
  EXPECT_EQ(byte_level::decode("\xE4\xB8\xAD"), std::nullopt);
}

}  // namespace
}  // namespace tern
