#include "server/content_markers.h"

#include <cstdio>
#include <random>

#include "server/api_error.h"

namespace tern::server {
namespace {

constexpr char kOpen = 'a';
constexpr char kClose = 'b';

std::string random_nonce() {
  std::random_device random;
  std::string nonce = "tern";
  for (int i = 0; i < 4; ++i) {
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(random()));
    nonce += hex;
  }
  return nonce;
}

ApiError taken_apart() {
  return invalid_param("messages",
                       "the chat template changed message text that holds special-token strings in a way "
                       "split_special_tokens cannot follow (it cut or rewrote it); send it without them");
}

}  // namespace

ContentMarkers::ContentMarkers(const Tokenizer& tokenizer) : tokenizer_(tokenizer), nonce_(random_nonce()) {}

void ContentMarkers::mark(Json& value) const {
  if (value.is_string()) {
    mark_string(value.get_ref<std::string&>());
  } else if (value.is_array() || value.is_object()) {
    for (Json& item : value) mark(item);
  }
}

void ContentMarkers::mark_string(std::string& text) const {
  const std::vector<TextRange> found = tokenizer_.find_special_tokens(text);
  if (found.empty()) return;
  std::string marked;
  marked.reserve(text.size() + found.size() * 2 * (nonce_.size() + 1));
  size_t done = 0;
  for (const TextRange& r : found) {
    marked.append(text, done, r.begin - done);
    marked += nonce_ + kOpen;
    marked.append(text, r.begin, r.end - r.begin);
    marked += nonce_ + kClose;
    done = r.end;
  }
  marked.append(text, done);
  text = std::move(marked);
}

ContentMarkers::Unmarked ContentMarkers::unmark(std::string_view rendered) const {
  Unmarked out;
  out.text.reserve(rendered.size());
  bool open = false;
  size_t opened_at = 0;
  size_t done = 0;
  for (size_t at; (at = rendered.find(nonce_, done)) != std::string_view::npos;) {
    out.text.append(rendered.substr(done, at - done));
    const size_t kind_at = at + nonce_.size();
    const char kind = kind_at < rendered.size() ? rendered[kind_at] : '\0';
    if (kind != (open ? kClose : kOpen)) throw taken_apart();
    if (open && out.text.size() > opened_at) out.plain_ranges.push_back({opened_at, out.text.size()});
    open = !open;
    opened_at = out.text.size();
    done = kind_at + 1;
  }
  if (open) throw taken_apart();
  out.text.append(rendered.substr(done));
  // A marker cut short (content[:40]) leaves a piece of the nonce behind.
  if (out.text.find(std::string_view(nonce_).substr(0, 8)) != std::string::npos) throw taken_apart();
  return out;
}

}  // namespace tern::server
