// Special-token strings inside message contents as plain text, while the chat template's
// own markers stay special ("split_special_tokens": true on a chat request, or
// --split-special-tokens-in-content). The template renders one string, so what came from
// the messages has to be found again in it: before rendering, each special-token string
// in the messages and tools is wrapped in an opening and a closing marker; after
// rendering, the markers are taken out and what they enclosed becomes the tokenizer's
// plain ranges (EncodeOptions::plain_ranges). Contents without special-token strings are
// left as they are, so the template sees them unchanged.
//
// A marker is "tern" and 32 random hex digits, then "a" (open) or "b" (close): letters and
// digits survive JSON escaping (tools | tojson) and trimming, and no client can guess one
// to forge a range.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/json_body.h"
#include "tokenizer/tokenizer.h"

namespace tern::server {

class ContentMarkers {
 public:
  // A fresh random nonce.
  explicit ContentMarkers(const Tokenizer& tokenizer);

  // Wraps every special-token string in every string of `value` (recursively; object
  // keys are left alone).
  void mark(Json& value) const;

  struct Unmarked {
    std::string text;                     // the rendered prompt without markers
    std::vector<TextRange> plain_ranges;  // what the markers enclosed, sorted and disjoint
  };
  // Throws ApiError 400 (param "messages") when the template took a marker apart (cut a
  // content, changed its case, ...), so that no piece of one reaches the model.
  Unmarked unmark(std::string_view rendered) const;

 private:
  void mark_string(std::string& text) const;

  const Tokenizer& tokenizer_;
  std::string nonce_;
};

}  // namespace tern::server
