#include "server/tool_call_parser.h"

#include <nlohmann/json.hpp>

#include "server/json_body.h"

namespace tern::server {
namespace {

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistralOpen = "[TOOL_CALLS]";
constexpr std::string_view kPythonTag = "<|python_tag|>";

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool is_blank(std::string_view text) { return text.find_first_not_of(" \t\r\n") == std::string_view::npos; }

// Length of the longest suffix of `text` that is a proper prefix of `tag`.
size_t partial_tag_suffix(std::string_view text, std::string_view tag) {
  for (size_t len = std::min(text.size(), tag.size() - 1); len > 0; --len) {
    if (text.substr(text.size() - len) == tag.substr(0, len)) return len;
  }
  return 0;
}

std::string_view trim(std::string_view s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return {};
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

// {"name": string, "arguments" | "parameters": object or serialised object}.
bool parse_call(std::string_view body, std::string& name, std::string& arguments) {
  Json json;
  try {
    json = parse_json_text(body, "tool call");
  } catch (const std::exception&) {
    return false;
  }
  if (!json.is_object()) return false;
  const auto n = json.find("name");
  if (n == json.end() || !n->is_string() || n->get_ref<const std::string&>().empty()) return false;
  auto args = json.find("arguments");
  if (args == json.end()) args = json.find("parameters");
  if (args == json.end()) {
    arguments = "{}";
  } else if (args->is_object()) {
    arguments = args->dump();
  } else if (args->is_string()) {
    arguments = args->get<std::string>();  // already serialised by the model
  } else {
    return false;
  }
  name = n->get<std::string>();
  return true;
}

}  // namespace

std::optional<ToolCallFormat> tool_call_format_named(std::string_view name) {
  if (name == "hermes") return ToolCallFormat::kHermes;
  if (name == "llama3_json") return ToolCallFormat::kLlama3Json;
  if (name == "mistral") return ToolCallFormat::kMistral;
  return std::nullopt;
}

const char* tool_call_format_name(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kHermes:
      return "hermes";
    case ToolCallFormat::kLlama3Json:
      return "llama3_json";
    case ToolCallFormat::kMistral:
      return "mistral";
  }
  return "hermes";
}

ToolCallFormat detect_tool_call_format(std::string_view source) {
  if (source.find(kMistralOpen) != std::string_view::npos) return ToolCallFormat::kMistral;
  if (source.find(kHermesOpen) != std::string_view::npos) return ToolCallFormat::kHermes;
  if (source.find(kPythonTag) != std::string_view::npos || source.find("ipython") != std::string_view::npos)
    return ToolCallFormat::kLlama3Json;
  return ToolCallFormat::kHermes;
}

ToolCallParser::ToolCallParser(ToolCallFormat format, bool in_call_list)
    : format_(format),
      state_(format == ToolCallFormat::kLlama3Json                ? State::kStart
             : in_call_list && format == ToolCallFormat::kMistral ? State::kListOpen
                                                                  : State::kText) {}

ToolCallDelta ToolCallParser::push(std::string_view text) {
  ToolCallDelta out;
  for (char c : text) step(c, out);
  return out;
}

ToolCallPiece& ToolCallParser::piece(ToolCallDelta& out) {
  if (out.calls.empty() || out.calls.back().index != num_calls_ - 1) out.calls.push_back({.index = num_calls_ - 1});
  return out.calls.back();
}

void ToolCallParser::step(char c, ToolCallDelta& out) {
  switch (state_) {
    case State::kText:
      return text_char(c, out);
    case State::kStart: {
      held_ += c;
      std::string_view t = held_;
      t.remove_prefix(std::min(t.size(), t.find_first_not_of(" \t\r\n")));
      if (t.empty()) return;
      if (t.size() < kPythonTag.size() && kPythonTag.starts_with(t)) return;
      if (t.starts_with(kPythonTag)) t.remove_prefix(kPythonTag.size());
      t.remove_prefix(std::min(t.size(), t.find_first_not_of(" \t\r\n")));
      if (t.empty()) return;
      if (t[0] == '{') {
        state_ = State::kCall;
        scan_ = {};
        held_.clear();
        return call_char('{', out);
      }
      state_ = State::kText;  // no call: the whole output is content
      out.content += held_;
      held_.clear();
      return;
    }
    case State::kListOpen:
      held_ += c;
      if (is_space(c)) return;
      if (c == '[') {
        held_.clear();
        state_ = State::kAfterCall;
        scan_ = {};
        scan_.stage = -1;  // a call or the end of the list comes next
        return;
      }
      state_ = State::kText;
      out.content += held_;
      held_.clear();
      return;
    case State::kCall:
      return call_char(c, out);
    case State::kAfterCall:
      return after_call_char(c, out);
    case State::kWholeBlock:
      held_ += c;
      if (held_.ends_with(kHermesClose)) {
        const std::string_view body =
            std::string_view(held_).substr(kHermesOpen.size(), held_.size() - kHermesOpen.size() - kHermesClose.size());
        parse_whole(body, out, held_);
        held_.clear();
        state_ = State::kText;
      }
      return;
    case State::kRest:
      held_ += c;
      return;
  }
}

void ToolCallParser::text_char(char c, ToolCallDelta& out) {
  if (format_ == ToolCallFormat::kLlama3Json) {
    out.content += c;
    return;
  }
  const std::string_view tag = format_ == ToolCallFormat::kHermes ? kHermesOpen : kMistralOpen;
  held_ += c;
  if (held_.ends_with(tag)) {
    // Between and after hermes calls the model writes newlines; they are not content.
    const std::string_view before = std::string_view(held_).substr(0, held_.size() - tag.size());
    if (!(seen_call_ && is_blank(before))) out.content.append(before);
    held_.clear();
    scan_ = {};
    if (format_ == ToolCallFormat::kHermes) {
      held_ = tag;  // the block as written, in case it is no call after all
      state_ = State::kCall;
    } else {
      state_ = State::kListOpen;
    }
    return;
  }
  const size_t keep = partial_tag_suffix(held_, tag);
  const std::string_view decided = std::string_view(held_).substr(0, held_.size() - keep);
  // White space after a hermes call waits until something else shows up.
  if (seen_call_ && is_blank(decided)) return;
  seen_call_ = false;
  out.content.append(decided);
  held_.erase(0, held_.size() - keep);
}

void ToolCallParser::call_char(char c, ToolCallDelta& out) {
  Scanner& s = scan_;
  if (s.stage < 11) held_ += c;  // the header as written, until the call is committed
  const auto expect = [&](char wanted, int next) {
    if (is_space(c)) return;
    if (c == wanted)
      s.stage = next;
    else
      give_up_streaming(out);
  };
  switch (s.stage) {
    case 0:
      return expect('{', 1);
    case 1:
    case 7:
    case 4:
      return expect('"', s.stage + 1);
    case 2:
    case 5:
    case 8:
      if (c == '\\') return give_up_streaming(out);
      if (c != '"') {
        s.token += c;
        return;
      }
      if (s.stage == 2 && s.token != "name") return give_up_streaming(out);
      if (s.stage == 5) s.name = s.token;
      if (s.stage == 8 && s.token != "arguments" && s.token != "parameters") return give_up_streaming(out);
      if (s.stage == 5 && s.name.empty()) return give_up_streaming(out);
      s.token.clear();
      ++s.stage;
      return;
    case 3:
    case 9:
      return expect(':', s.stage + 1);
    case 6:
      return expect(',', 7);
    case 10:
      if (is_space(c)) return;
      if (c != '{') return give_up_streaming(out);
      ++num_calls_;
      piece(out).name = s.name;
      piece(out).arguments += c;
      held_.clear();
      s.depth = 1;
      s.stage = 11;
      return;
    case 11:  // the arguments object, streamed
      piece(out).arguments += c;
      if (s.closes(c)) {
        s.stage = 12;
        s.depth = 1;  // now: the call object's own remaining nesting
      }
      return;
    default:  // what follows the arguments, up to the call object's '}'
      if (s.closes(c)) {
        state_ = State::kAfterCall;
        held_.clear();
        s.stage = 0;
      }
      return;
  }
}

bool ToolCallParser::Scanner::closes(char c) {
  if (escape) {
    escape = false;
  } else if (in_string) {
    if (c == '\\')
      escape = true;
    else if (c == '"')
      in_string = false;
  } else if (c == '"') {
    in_string = true;
  } else if (c == '{' || c == '[') {
    ++depth;
  } else if (c == '}' || c == ']') {
    return --depth == 0;
  }
  return false;
}

void ToolCallParser::give_up_streaming(ToolCallDelta& out) {
  // The header seen so far stays in held_: the whole block or rest is parsed at its end.
  (void)out;
  state_ = format_ == ToolCallFormat::kHermes ? State::kWholeBlock : State::kRest;
}

void ToolCallParser::after_call_char(char c, ToolCallDelta& out) {
  if (format_ == ToolCallFormat::kHermes) {
    held_ += c;
    if (!held_.ends_with(kHermesClose)) return;
    const std::string_view between = std::string_view(held_).substr(0, held_.size() - kHermesClose.size());
    if (!is_blank(between)) out.content.append(trim(between));  // stray text inside the block
    held_.clear();
    seen_call_ = true;
    state_ = State::kText;
    return;
  }
  if (is_space(c)) return;
  const bool expect_call = scan_.stage == -1;
  const char separator = format_ == ToolCallFormat::kLlama3Json ? ';' : ',';
  if (expect_call && c == '{') {
    state_ = State::kCall;
    scan_ = {};
    return call_char(c, out);
  }
  if (!expect_call && c == separator) {
    scan_.stage = -1;
    return;
  }
  if (format_ == ToolCallFormat::kMistral && c == ']') {
    state_ = State::kText;
    return;
  }
  state_ = State::kText;  // anything else ends the calls; the rest is content
  if (format_ == ToolCallFormat::kLlama3Json)
    out.content += c;
  else
    text_char(c, out);
}

void ToolCallParser::parse_whole(std::string_view json, ToolCallDelta& out, std::string_view original) {
  std::string name, arguments;
  if (!parse_call(trim(json), name, arguments)) {
    out.content.append(original);
    return;
  }
  ++num_calls_;
  ToolCallPiece& p = piece(out);
  p.name = std::move(name);
  p.arguments = std::move(arguments);
  seen_call_ = true;
}

ToolCallDelta ToolCallParser::finish() {
  ToolCallDelta out;
  switch (state_) {
    case State::kText:
      if (!(seen_call_ && is_blank(held_))) out.content += held_;
      break;
    case State::kRest: {
      // A call not written the streaming way: the rest of the output is that call (the
      // end of a mistral list included), else content.
      std::string_view rest = trim(held_);
      if (format_ == ToolCallFormat::kMistral && rest.ends_with(']')) rest = trim(rest.substr(0, rest.size() - 1));
      parse_whole(rest, out, held_);
      break;
    }
    case State::kCall:
      // An unfinished call: streamed pieces stay a call (max_tokens cut it); a header that
      // never completed is content.
      if (scan_.stage < 11) out.content += held_;
      break;
    case State::kAfterCall:
      if (format_ == ToolCallFormat::kHermes && !is_blank(held_)) out.content.append(trim(held_));
      break;
    default:
      out.content += held_;  // an unfinished block, tags included
      break;
  }
  held_.clear();
  state_ = State::kText;
  return out;
}

}  // namespace tern::server
