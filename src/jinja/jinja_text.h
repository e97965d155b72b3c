// Python `str` semantics on UTF-8 strings, for the chat-template interpreter: Python
// strings index by code point, and strip()/split()/isspace() use Unicode whitespace, so
// byte-level std::string operations would render differently from transformers.
// Inputs are valid UTF-8 (templates are validated at compile time; JSON strings are
// validated by the JSON parser).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::jinja {

// Decodes the code point starting at s[pos] and advances pos past it.
char32_t next_code_point(std::string_view s, size_t& pos);
void append_utf8(std::string& out, char32_t cp);

size_t code_point_count(std::string_view s);
// Byte offsets of every code point start plus s.size() at the end: [count + 1].
std::vector<size_t> code_point_offsets(std::string_view s);

// Python str.isspace() for one code point (also what `\s` matches in Python's re).
bool is_py_space(char32_t cp);

std::string py_strip(std::string_view s, bool left, bool right);
// strip(chars): removes any of the code points in `chars`.
std::string py_strip_chars(std::string_view s, std::string_view chars, bool left, bool right);
// str.split() without a separator: runs of whitespace separate, empty parts dropped.
std::vector<std::string> py_split_whitespace(std::string_view s, int64_t max_split);
// str.split(sep); precondition: sep is not empty.
std::vector<std::string> py_split(std::string_view s, std::string_view sep, int64_t max_split);
std::vector<std::string> py_splitlines(std::string_view s);
std::string py_replace(std::string_view s, std::string_view old, std::string_view replacement, int64_t count);
int64_t py_count(std::string_view s, std::string_view sub);
// str.find: index in code points, -1 when absent.
int64_t py_find(std::string_view s, std::string_view sub);

std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_title(std::string_view s);       // str.title()
std::string py_capitalize(std::string_view s);  // str.capitalize()

// Python's notion of a printable character (used by repr()).
bool is_py_printable(char32_t cp);

}  // namespace tern::jinja
