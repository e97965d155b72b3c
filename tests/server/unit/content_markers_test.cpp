// Content markers (split_special_tokens on chat requests): special-token strings inside
// message contents come back as plain ranges of the rendered text, and a template that
// takes a marker apart fails the request instead of passing marker text to the model.
#include "server/content_markers.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace tern::server {
namespace {

// Knows one special token, "<|x|>".
class OneSpecialToken : public Tokenizer {
 public:
  using Tokenizer::encode;
  std::vector<int32_t> encode(std::string_view, const EncodeOptions&) const override { return {}; }
  std::vector<TextRange> find_special_tokens(std::string_view text) const override {
    std::vector<TextRange> found;
    for (size_t at = 0; (at = text.find("<|x|>", at)) != std::string_view::npos; at += 5) found.push_back({at, at + 5});
    return found;
  }
  std::string decode(std::span<const int32_t>, bool) const override { return ""; }
  int32_t vocab_size() const override { return 1; }
  std::optional<int32_t> token_to_id(std::string_view) const override { return std::nullopt; }
  std::string id_to_token(int32_t) const override { return ""; }
  bool is_special(int32_t) const override { return false; }
  std::string token_bytes(int32_t, bool) const override { return ""; }
  std::optional<int32_t> eos_token_id() const override { return std::nullopt; }
  std::optional<int32_t> bos_token_id() const override { return std::nullopt; }
  const std::string& chat_template() const override { return template_; }

 private:
  std::string template_;
};

// What a template does with the content: wraps it in its own markers.
std::string render(const Json& messages) {
  std::string out;
  for (const Json& m : messages)
    out += "<|x|>" + m["role"].get<std::string>() + "\n" + m["content"].get<std::string>() + "<|x|>\n";
  return out;
}

TEST(ContentMarkers, ContentSpecialStringsBecomePlainRangesAndTemplateMarkersDoNot) {
  const OneSpecialToken tokenizer;
  const ContentMarkers markers(tokenizer);
  Json messages = Json::parse(R"([{"role": "user", "content": "a<|x|>b<|x|>"}, {"role": "user", "content": "plain"}])");
  markers.mark(messages);
  EXPECT_EQ(messages[1]["content"], "plain");  // untouched: the template sees it as sent
  const ContentMarkers::Unmarked out = markers.unmark(render(messages));
  EXPECT_EQ(out.text, "<|x|>user\na<|x|>b<|x|><|x|>\n<|x|>user\nplain<|x|>\n");
  ASSERT_EQ(out.plain_ranges.size(), 2u);
  EXPECT_EQ(out.text.substr(out.plain_ranges[0].begin, 5), "<|x|>");
  EXPECT_EQ(out.plain_ranges[0].begin, 11u);
  EXPECT_EQ(out.plain_ranges[1].begin, 17u);
  EXPECT_EQ(out.plain_ranges[1].end, 22u);
}

TEST(ContentMarkers, ATemplateThatTakesAMarkerApartFailsTheRequest) {
  const OneSpecialToken tokenizer;
  const ContentMarkers markers(tokenizer);
  Json content = "<|x|>";
  markers.mark(content);
  const std::string marked = content.get<std::string>();
  for (const std::string& rendered : {marked.substr(0, 10), marked.substr(0, marked.size() - 1), marked.substr(1),
                                      marked.substr(marked.size() / 2)}) {
    try {
      markers.unmark(rendered);
      ADD_FAILURE() << rendered;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.param(), "messages");
    }
  }
  // A marker of another request (another nonce) is just text.
  const ContentMarkers other(tokenizer);
  EXPECT_EQ(other.unmark(marked).text, marked);
}

}  // namespace
}  // namespace tern::server
