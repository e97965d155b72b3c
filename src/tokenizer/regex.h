// PCRE2 regex for the Split pre-tokenizer patterns of tokenizer.json. HF compiles them
// with Oniguruma; PCRE2 with UTF + UCP reads them the same way, except that PCRE2's `\s`
// also matches U+180E, so `\s` / `\S` are rewritten to the White_Space set Oniguruma uses.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace tern {

class Regex {
 public:
  // Throws tern::Error with PCRE2's message and the offset when the pattern is invalid.
  explicit Regex(std::string_view pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls on_match(start, end) for each match in `text` (valid UTF-8), left to right,
  // non-overlapping; an empty match right after the previous match is skipped (the
  // iteration rule of Rust's regex and onig crates). Thread-safe.
  void for_each_match(std::string_view text, const std::function<void(size_t, size_t)>& on_match) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
};

// The pattern with `\s` and `\S` replaced by explicit White_Space classes (exposed for tests).
std::string translate_whitespace_escapes(std::string_view pattern);

}  // namespace tern
