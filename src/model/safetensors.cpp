#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <tuple>

#include "base/error.h"
#include "model/json_file.h"
#include "model/mapped_file.h"

namespace tern {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the safetensors crate's MAX_HEADER_SIZE
constexpr uint64_t kMaxIndexBytes = 64ull << 20;
constexpr size_t kMaxDims = 8;
// A valid header nests three levels (header, entry, shape); the rest allows for unknown
// per-entry fields while bounding the work a hostile header can cause.
constexpr int kMaxHeaderDepth = 64;

// Names come from the file: quote them, escaping bytes that could break the error line.
std::string shown_name(std::string_view name) {
  constexpr size_t kMaxShown = 200;
  std::string out = "'";
  for (size_t i = 0; i < name.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += char(c);
    }
  }
  if (name.size() > kMaxShown) out += "...";
  return out + "'";
}

// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points
// above U+10FFFF included), or n if the text is valid.
size_t utf8_error_offset(const uint8_t* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    const uint8_t c = s[i];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return i;
    }
    if (len > n - i) return i;
    for (size_t k = 1; k < len; ++k) {
      const uint8_t b = s[i + k];
      if (k == 1 ? (b < lo || b > hi) : (b & 0xc0) != 0x80) return i;
    }
    i += len;
  }
  return n;
}

// Builds the entries straight from nlohmann's SAX events: no DOM, so memory stays
// proportional to the header, and each structural fault is reported where it occurs.
class HeaderParser {
 public:
  using json = nlohmann::json;

  HeaderParser(const std::string& path, uint64_t data_size) : path_(path), data_size_(data_size) {}

  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;

  bool null() { return scalar("null"); }
  bool boolean(bool) { return scalar("a boolean"); }
  bool number_integer(json::number_integer_t v) {
    if (state_ != State::kArray) return scalar("a number");
    if (v < 0) throw tensor_error(field_name(), " holds a negative value ", v);
    return push_number(uint64_t(v));
  }
  bool number_unsigned(json::number_unsigned_t v) {
    if (state_ != State::kArray) return scalar("a number");
    return push_number(v);
  }
  bool number_float(json::number_float_t v, const json::string_t&) {
    if (state_ != State::kArray) return scalar("a number");
    throw tensor_error(field_name(), " holds ", v, ", not a non-negative integer");
  }
  bool string(json::string_t& s) {
    if (state_ == State::kMetadataValue) {
      metadata[key_] = s;
      state_ = State::kMetadata;
      return true;
    }
    if (state_ == State::kEntryValue && field_ == Field::kDtype) {
      if (!dtype_from_safetensors(s, &entry_.dtype))
        throw tensor_error("unsupported dtype ", shown_name(s), " (supported: F32, F16, BF16, I32, I64, U8, I8, F8_E4M3)");
      seen_dtype_ = true;
      state_ = State::kEntry;
      return true;
    }
    return scalar("a string");
  }
  bool binary(json::binary_t&) { return scalar("binary data"); }

  bool start_object(std::size_t) {
    enter();
    switch (state_) {
      case State::kSkip:
        ++skip_depth_;
        return true;
      case State::kTop:
        state_ = State::kHeader;
        return true;
      case State::kHeaderValue:
        if (key_ == "__metadata__") {
          state_ = State::kMetadata;
        } else {
          entry_ = SafetensorsEntry{};
          entry_.name = key_;
          entry_keys_.clear();
          seen_dtype_ = seen_shape_ = seen_offsets_ = false;
          state_ = State::kEntry;
        }
        return true;
      default:
        return skip_unknown_field() || scalar("an object");
    }
  }
  bool start_array(std::size_t) {
    enter();
    if (state_ == State::kSkip) {
      ++skip_depth_;
      return true;
    }
    if (state_ == State::kEntryValue && (field_ == Field::kShape || field_ == Field::kOffsets)) {
      numbers_.clear();
      state_ = State::kArray;
      return true;
    }
    return skip_unknown_field() || scalar("an array");
  }
  bool key(json::string_t& k) {
    switch (state_) {
      case State::kSkip:
        return true;
      case State::kHeader:
        if (!header_keys_.insert(k).second)
          throw error(path_, ": tensor ", shown_name(k), ": listed twice in the header");
        key_ = k;
        state_ = State::kHeaderValue;
        return true;
      case State::kMetadata:
        if (metadata.count(k)) throw error(path_, ": __metadata__ key ", shown_name(k), " appears twice");
        key_ = k;
        state_ = State::kMetadataValue;
        return true;
      default:  // kEntry: the only other state in which nlohmann reports a key
        if (!entry_keys_.insert(k).second) throw tensor_error("field ", shown_name(k), " appears twice");
        field_ = k == "dtype"          ? Field::kDtype
                 : k == "shape"        ? Field::kShape
                 : k == "data_offsets" ? Field::kOffsets
                                       : Field::kOther;
        state_ = State::kEntryValue;
        return true;
    }
  }
  bool end_object() {
    --depth_;
    switch (state_) {
      case State::kSkip:
        leave_skip();
        return true;
      case State::kHeader:
        state_ = State::kDone;
        return true;
      case State::kMetadata:
        state_ = State::kHeader;
        return true;
      default:  // kEntry
        finish_entry();
        state_ = State::kHeader;
        return true;
    }
  }
  bool end_array() {
    --depth_;
    if (state_ == State::kSkip) {
      leave_skip();
      return true;
    }
    if (field_ == Field::kShape) {
      entry_.shape.assign(numbers_.begin(), numbers_.end());
      seen_shape_ = true;
    } else {
      if (numbers_.size() != 2) throw tensor_error("data_offsets has ", numbers_.size(), " values instead of 2");
      entry_.begin = numbers_[0];
      entry_.end = numbers_[1];
      seen_offsets_ = true;
    }
    state_ = State::kEntry;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    throw error(path_, ": header is not valid JSON: ", e.what());
  }

 private:
  enum class State {
    kTop,            // before the header object
    kHeader,         // in the header object, before a key
    kHeaderValue,    // after a tensor name or __metadata__
    kMetadata,       // in __metadata__, before a key
    kMetadataValue,  // after a __metadata__ key
    kEntry,          // in a tensor entry, before a key
    kEntryValue,     // after a field name in a tensor entry
    kArray,          // in shape or data_offsets
    kSkip,           // inside the value of an unknown entry field
    kDone,
  };
  enum class Field { kDtype, kShape, kOffsets, kOther };

  template <typename... Args>
  Error tensor_error(Args&&... args) const {
    return error(path_, ": tensor ", shown_name(entry_.name), ": ", std::forward<Args>(args)...);
  }
  const char* field_name() const { return field_ == Field::kShape ? "shape" : "data_offsets"; }

  void enter() {
    if (++depth_ > kMaxHeaderDepth) throw error(path_, ": header JSON nested deeper than ", kMaxHeaderDepth, " levels");
  }
  // A container as the value of an unknown entry field: consumed without a look.
  bool skip_unknown_field() {
    if (state_ != State::kEntryValue || field_ != Field::kOther) return false;
    skip_depth_ = 1;
    state_ = State::kSkip;
    return true;
  }
  void leave_skip() {
    if (--skip_depth_ == 0) state_ = State::kEntry;
  }

  // A value of kind `what` (a scalar, or a container that is not skipped): accepted where
  // the state allows it, else an error naming what was expected.
  bool scalar(const char* what) {
    switch (state_) {
      case State::kSkip:
        return true;
      case State::kTop:
        throw error(path_, ": header is ", what, ", not a JSON object");
      case State::kHeaderValue:
        if (key_ == "__metadata__") {
          if (std::strcmp(what, "null") != 0) throw error(path_, ": __metadata__ is ", what, ", not an object");
          state_ = State::kHeader;
          return true;
        }
        throw error(path_, ": tensor ", shown_name(key_), ": entry is ", what, ", not an object");
      case State::kMetadataValue:
        throw error(path_, ": __metadata__ key ", shown_name(key_), ": value is ", what, ", not a string");
      case State::kEntryValue:
        if (field_ == Field::kOther) {
          state_ = State::kEntry;
          return true;
        }
        if (field_ == Field::kDtype) throw tensor_error("dtype is ", what, ", not a string");
        throw tensor_error(field_name(), " is ", what, ", not an array");
      case State::kArray:
        throw tensor_error(field_name(), " holds ", what, ", not a non-negative integer");
      default:
        throw error(path_, ": unexpected ", what, " in the header");
    }
  }

  bool push_number(uint64_t v) {
    const size_t limit = field_ == Field::kShape ? kMaxDims : 2;
    if (numbers_.size() == limit) {
      if (field_ == Field::kShape) throw tensor_error("shape has more than ", kMaxDims, " dimensions");
      throw tensor_error("data_offsets has more than 2 values");
    }
    if (field_ == Field::kShape && v > uint64_t(INT64_MAX)) throw tensor_error("shape dimension ", v, " is too large");
    numbers_.push_back(v);
    return true;
  }

  void finish_entry() {
    if (!seen_dtype_) throw tensor_error("field 'dtype' is missing");
    if (!seen_shape_) throw tensor_error("field 'shape' is missing");
    if (!seen_offsets_) throw tensor_error("field 'data_offsets' is missing");
    uint64_t bytes = dtype_size(entry_.dtype);
    for (int64_t d : entry_.shape) {
      if (__builtin_mul_overflow(bytes, uint64_t(d), &bytes))
        throw tensor_error("shape ", shape_str(), " times ", dtype_size(entry_.dtype), " bytes overflows 64 bits");
    }
    if (entry_.begin > entry_.end)
      throw tensor_error("data_offsets [", entry_.begin, ", ", entry_.end, "] begin after end");
    if (entry_.end > data_size_)
      throw tensor_error("data_offsets [", entry_.begin, ", ", entry_.end, "] run past the ", data_size_,
                         "-byte data section");
    if (entry_.end - entry_.begin != bytes)
      throw tensor_error("data_offsets span ", entry_.end - entry_.begin, " bytes but shape ", shape_str(), " of ",
                         dtype_name(entry_.dtype), " needs ", bytes);
    entries.push_back(std::move(entry_));
  }
  std::string shape_str() const {
    std::string s = "[";
    for (size_t i = 0; i < entry_.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(entry_.shape[i]);
    return s + "]";
  }

  const std::string& path_;
  const uint64_t data_size_;
  State state_ = State::kTop;
  int depth_ = 0;
  int skip_depth_ = 0;
  std::string key_;
  Field field_ = Field::kOther;
  SafetensorsEntry entry_;
  bool seen_dtype_ = false, seen_shape_ = false, seen_offsets_ = false;
  std::vector<uint64_t> numbers_;
  std::set<std::string> header_keys_;
  std::set<std::string> entry_keys_;
};

// Sorted by offset, the tensors must tile [0, data_size) exactly, as the crate requires.
void check_tiling(const std::string& path, const std::vector<SafetensorsEntry>& entries, uint64_t data_size) {
  uint64_t expected = 0;
  const SafetensorsEntry* prev = nullptr;
  for (const auto& e : entries) {
    if (e.begin < expected)
      throw error(path, ": tensor ", shown_name(e.name), ": bytes [", e.begin, ", ", e.end, ") overlap tensor ",
                  shown_name(prev->name), " [", prev->begin, ", ", prev->end, ")");
    if (e.begin > expected) {
      if (!prev)
        throw error(path, ": tensor ", shown_name(e.name), ": first tensor starts at byte ", e.begin, ", not 0");
      throw error(path, ": tensor ", shown_name(e.name), ": starts at byte ", e.begin, " leaving a gap after tensor ",
                  shown_name(prev->name), " which ends at ", prev->end);
    }
    expected = e.end;
    prev = &e;
  }
  if (expected != data_size) {
    if (!prev) throw error(path, ": the header lists no tensors but ", data_size, " data bytes follow it");
    throw error(path, ": ", data_size - expected, " trailing bytes after the last tensor ", shown_name(prev->name));
  }
}

bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name.find('\\') == std::string::npos &&
         name.find("..") == std::string::npos && name.find('\0') == std::string::npos;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.path_ = path;
  f.map_ = std::make_shared<MappedFile>(path);
  const uint8_t* bytes = f.map_->data();
  const uint64_t size = f.map_->size();
  if (size < 8) throw error(path, ": ", size, " bytes, too short for the 8-byte header length; not a safetensors file");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | bytes[i];
  if (n > kMaxHeaderBytes) throw error(path, ": header length ", n, " exceeds the 100 MB limit");
  if (n > size - 8) throw error(path, ": header length ", n, " runs past the end of the ", size, "-byte file");
  const uint8_t* header = bytes + 8;
  if (size_t bad = utf8_error_offset(header, n); bad != n)
    throw error(path, ": header is not valid UTF-8 (byte ", bad, " of the header)");
  if (n == 0 || header[0] != '{') throw error(path, ": header does not start with '{'; not a safetensors file");

  const uint64_t data_size = size - 8 - n;
  HeaderParser parser(path, data_size);
  const char* text = reinterpret_cast<const char*>(header);
  nlohmann::json::sax_parse(text, text + n, &parser);
  std::sort(parser.entries.begin(), parser.entries.end(),
            [](const auto& a, const auto& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  check_tiling(path, parser.entries, data_size);

  f.data_ = header + n;
  f.entries_ = std::move(parser.entries);
  f.metadata_ = std::move(parser.metadata);
  for (size_t i = 0; i < f.entries_.size(); ++i) f.index_[f.entries_[i].name] = i;
  return f;
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry* e = find(name);
  if (!e) throw error(path_, ": tensor ", shown_name(name), ": not in this file");
  if (e->shape.size() > 4)
    throw error(path_, ": tensor ", shown_name(name), ": ", e->shape.size(), " dimensions; at most 4 are supported");
  const uint8_t* src = data_ + e->begin;
  const uint64_t bytes = e->end - e->begin;
  Tensor t;
  if (reinterpret_cast<uintptr_t>(src) % dtype_size(e->dtype) == 0) {
    t.data = const_cast<uint8_t*>(src);  // Tensor has no const view; the mapping is PROT_READ
    t.owner = map_;
  } else {
    t = host_tensor(e->dtype, {int64_t(bytes / dtype_size(e->dtype))});
    std::memcpy(t.data, src, bytes);
  }
  t.dtype = e->dtype;
  t.device = Device::kCpu;
  t.ndim = int(e->shape.size());
  for (int i = 0; i < t.ndim; ++i) t.shape[i] = e->shape[i];
  return t;
}

WeightStore WeightStore::open(const std::string& model_dir) {
  namespace fs = std::filesystem;
  WeightStore s;
  s.dir_ = model_dir;
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec)) throw error(model_dir, ": not a directory");
  const std::string index_path = model_dir + "/model.safetensors.index.json";
  const std::string single_path = model_dir + "/model.safetensors";

  if (fs::exists(index_path, ec)) {
    const nlohmann::json index = load_json_file(index_path, kMaxIndexBytes);
    auto map = index.is_object() ? index.find("weight_map") : index.end();
    if (map == index.end() || !map->is_object() || map->empty())
      throw error(index_path, ": field 'weight_map' is missing, empty or not an object");
    std::map<std::string, size_t> shard_ids;
    for (const auto& [name, shard_json] : map->items()) {
      if (!shard_json.is_string())
        throw error(index_path, ": tensor ", shown_name(name), ": shard name is not a string");
      const std::string shard = shard_json.get<std::string>();
      if (!is_plain_file_name(shard))
        throw error(index_path, ": tensor ", shown_name(name), ": shard name ", shown_name(shard),
                    " is not a plain file name in the model folder");
      auto [it, added] = shard_ids.emplace(shard, s.files_.size());
      if (added) {
        const std::string shard_path = model_dir + "/" + shard;
        if (!fs::exists(shard_path, ec))
          throw error(index_path, ": shard ", shown_name(shard), " (listed for tensor ", shown_name(name),
                      ") is missing");
        s.files_.push_back(SafetensorsFile::open(shard_path));
      }
      const SafetensorsFile& file = s.files_[it->second];
      if (!file.find(name))
        throw error(file.path(), ": tensor ", shown_name(name), ": listed for this shard in ",
                    "model.safetensors.index.json but not in it");
      s.tensor_file_[name] = it->second;
    }
    return s;
  }

  if (fs::exists(single_path, ec)) {
    s.files_.push_back(SafetensorsFile::open(single_path));
    for (const auto& e : s.files_[0].entries()) s.tensor_file_[e.name] = 0;
    return s;
  }

  std::vector<std::string> pickles, other_safetensors;
  for (const auto& f : fs::directory_iterator(model_dir, ec)) {
    const std::string ext = f.path().extension().string();
    if (ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".pkl") pickles.push_back(f.path().filename());
    if (ext == ".safetensors") other_safetensors.push_back(f.path().filename());
  }
  std::sort(pickles.begin(), pickles.end());
  std::sort(other_safetensors.begin(), other_safetensors.end());
  if (!other_safetensors.empty())
    throw error(model_dir, ": no model.safetensors or model.safetensors.index.json (found ", other_safetensors[0],
                "; tern reads the Hugging Face layout)");
  if (!pickles.empty())
    throw error(model_dir, ": only safetensors weights are supported (found ", pickles[0],
                "); convert them with the safetensors library (e.g. Hugging Face's safetensors convert tool), "
                "in a sandbox: loading pickle files can run arbitrary code");
  throw error(model_dir, ": no model.safetensors or model.safetensors.index.json");
}

size_t WeightStore::file_index(const std::string& name) const {
  auto it = tensor_file_.find(name);
  if (it == tensor_file_.end()) throw error(dir_, ": tensor ", shown_name(name), ": not in the checkpoint");
  return it->second;
}

bool WeightStore::has(const std::string& name) const { return tensor_file_.count(name) != 0; }

Tensor WeightStore::get(const std::string& name) const { return files_[file_index(name)].tensor(name); }

const SafetensorsEntry& WeightStore::entry(const std::string& name) const {
  return *files_[file_index(name)].find(name);
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  out.reserve(tensor_file_.size());
  for (const auto& [name, file] : tensor_file_) out.push_back(name);
  return out;
}

const std::string& WeightStore::file_of(const std::string& name) const { return files_[file_index(name)].path(); }

}  // namespace tern
