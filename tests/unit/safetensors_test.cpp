// The safetensors reader against valid files and the malformed-file corpus of
// docs/reliability.md case E1. Each test writes its files into a fresh temporary folder with
// a tiny writer, so every byte of the header is under the test's control.
#include "model/safetensors.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "base/error.h"

#include "test_support.h"

namespace tern {
namespace {

using testing::TempDir;
using testing::error_of;
using testing::expect_contains;

namespace fs = std::filesystem;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char(n >> (8 * i));
  return s;
}

// A safetensors file: 8-byte little-endian header length, header, data.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

std::string write_safetensors(const TempDir& dir, const std::string& name, const std::string& header,
                              const std::string& data) {
  const std::string path = dir.file(name);
  write_bytes(path, safetensors_bytes(header, data));
  return path;
}

// Opening `header` + `data` fails with an error naming the file and each of `parts`.
void expect_open_error(const std::string& header, const std::string& data, std::initializer_list<std::string> parts) {
  TempDir dir;
  const std::string path = write_safetensors(dir, "bad.safetensors", header, data);
  const std::string message = error_of([&] { SafetensorsFile::open(path); });
  expect_contains(message, {path + ": "});
  expect_contains(message, parts);
}

// One tensor "w" of 2 F32 values followed by `data_bytes` of data.
std::string one_tensor_header(const std::string& offsets) {
  return R"({"w":{"dtype":"F32","shape":[2],"data_offsets":)" + offsets + "}}";
}

std::string bytes_of(const Tensor& t) { return std::string(static_cast<const char*>(t.data), t.nbytes()); }

TEST(SafetensorsFile, ReadsEveryDtypeWithExactBytesShapesAndMetadata) {
  TempDir dir;
  // Written like the safetensors library: wider dtypes first, header padded with spaces.
  std::string header = R"({"__metadata__":{"format":"pt"},)"
                       R"("i64":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
                       R"("f32":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]},)"
                       R"("i32":{"dtype":"I32","shape":[],"data_offsets":[24,28]},)"
                       R"("bf16":{"dtype":"BF16","shape":[3],"data_offsets":[28,34]},)"
                       R"("f16":{"dtype":"F16","shape":[1,1,1,1],"data_offsets":[34,36]},)"
                       R"("u8":{"dtype":"U8","shape":[2],"data_offsets":[36,38]},)"
                       R"("i8":{"dtype":"I8","shape":[1],"data_offsets":[38,39]},)"
                       R"("empty":{"dtype":"U8","shape":[0,5],"data_offsets":[39,39]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string data;
  for (int i = 0; i < 39; ++i) data += char(i * 7 + 1);
  const std::string path = write_safetensors(dir, "model.safetensors", header, data);

  SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ASSERT_EQ(f.entries().size(), 8u);
  EXPECT_EQ(f.entries()[0].name, "i64");  // sorted by offset

  struct Want {
    const char* name;
    DType dtype;
    std::vector<int64_t> shape;
    size_t begin, end;
  };
  const Want want[] = {
      {"i64", DType::kI64, {1}, 0, 8},     {"f32", DType::kF32, {2, 2}, 8, 24},        {"i32", DType::kI32, {}, 24, 28},
      {"bf16", DType::kBF16, {3}, 28, 34}, {"f16", DType::kF16, {1, 1, 1, 1}, 34, 36}, {"u8", DType::kU8, {2}, 36, 38},
      {"i8", DType::kI8, {1}, 38, 39},     {"empty", DType::kU8, {0, 5}, 39, 39}};
  for (const auto& w : want) {
    SCOPED_TRACE(w.name);
    Tensor t = f.tensor(w.name);
    EXPECT_EQ(t.dtype, w.dtype);
    EXPECT_EQ(t.device, Device::kCpu);
    ASSERT_EQ(t.ndim, int(w.shape.size()));
    for (int i = 0; i < t.ndim; ++i) EXPECT_EQ(t.shape[i], w.shape[i]);
    EXPECT_EQ(bytes_of(t), data.substr(w.begin, w.end - w.begin));
  }
}

TEST(SafetensorsFile, TensorsAreZeroCopyViewsThatKeepTheMappingAlive) {
  TempDir dir;
  const std::string data = "\x01\x02\x03\x04\x05\x06\x07\x08";
  const std::string path = write_safetensors(dir, "m.safetensors", one_tensor_header("[0,8]") + "      ", data);
  Tensor t;
  {
    SafetensorsFile f = SafetensorsFile::open(path);
    t = f.tensor("w");
    EXPECT_EQ(f.tensor("w").data, t.data);  // the same bytes, not a copy
    EXPECT_NE(t.owner, nullptr);
  }
  fs::remove(path);  // neither the file object nor the directory entry is needed any more
  EXPECT_EQ(bytes_of(t), data);
}

TEST(SafetensorsFile, JsonOrderNeedNotFollowOffsets) {
  TempDir dir;
  const std::string header = R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},)"
                             R"("a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})";
  SafetensorsFile f = SafetensorsFile::open(write_safetensors(dir, "m.safetensors", header, "abcd"));
  EXPECT_EQ(bytes_of(f.tensor("a")), "ab");
  EXPECT_EQ(bytes_of(f.tensor("b")), "cd");
}

TEST(SafetensorsFile, MisalignedDataIsCopiedToAlignedMemory) {
  TempDir dir;
  std::string header = one_tensor_header("[0,8]");
  header.append((13 - header.size() % 8) % 8, ' ');  // 8 + header length is odd
  ASSERT_EQ((8 + header.size()) % 2, 1u);
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);  // 1.0f, 2.0f
  SafetensorsFile f = SafetensorsFile::open(write_safetensors(dir, "m.safetensors", header, data));
  Tensor t = f.tensor("w");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % alignof(float), 0u);
  EXPECT_EQ(t.ptr<float>()[0], 1.0f);
  EXPECT_EQ(t.ptr<float>()[1], 2.0f);
}

TEST(SafetensorsFile, EmptyHeaderWithNoDataIsValid) {
  TempDir dir;
  SafetensorsFile f = SafetensorsFile::open(write_safetensors(dir, "m.safetensors", "{}", ""));
  EXPECT_TRUE(f.entries().empty());
}

TEST(SafetensorsFile, AbsentTensorAndTooManyDimsNameFileAndTensor) {
  TempDir dir;
  const std::string header = R"({"five":{"dtype":"U8","shape":[1,1,1,1,1],"data_offsets":[0,1]}})";
  const std::string path = write_safetensors(dir, "m.safetensors", header, "x");
  SafetensorsFile f = SafetensorsFile::open(path);
  expect_contains(error_of([&] { f.tensor("nope"); }), {path, "tensor 'nope'", "not in this file"});
  expect_contains(error_of([&] { f.tensor("five"); }), {path, "tensor 'five'", "5 dimensions"});
}

// ---- docs/reliability.md E1, one case at a time ----

TEST(SafetensorsE1, FileShorterThanTheHeaderLength) {
  TempDir dir;
  for (const std::string& bytes : {std::string(), std::string("\x02\x00\x00", 3), std::string(7, '\0')}) {
    const std::string path = dir.file("short.safetensors");
    write_bytes(path, bytes);
    expect_contains(error_of([&] { SafetensorsFile::open(path); }), {path + ": ", "too short"});
  }
}

TEST(SafetensorsE1, HeaderLengthPastTheEndOfTheFile) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  write_bytes(path, le64(100) + "{}");
  expect_contains(error_of([&] { SafetensorsFile::open(path); }), {path + ": ", "header length 100", "end of the"});
  write_bytes(path, le64(~uint64_t(0)) + "{}");  // would wrap 8 + n around
  expect_contains(error_of([&] { SafetensorsFile::open(path); }), {path + ": ", "header length"});
}

TEST(SafetensorsE1, HeaderOver100MBIsRejectedBeforeReadingIt) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  write_bytes(path, le64(100'000'001) + "{}");
  expect_contains(error_of([&] { SafetensorsFile::open(path); }), {path + ": ", "100 MB"});
}

TEST(SafetensorsE1, HeaderNotUtf8) {
  expect_open_error("{\"w\xff\":{}}", "", {"not valid UTF-8"});
  expect_open_error("{\"\xc0\xaf\":{}}", "", {"not valid UTF-8"});      // overlong '/'
  expect_open_error("{\"\xed\xa0\x80\":{}}", "", {"not valid UTF-8"});  // UTF-16 surrogate
  expect_open_error("{\"\xe2\x82\":{}}", "", {"not valid UTF-8"});      // truncated sequence
}

TEST(SafetensorsE1, HeaderNotJsonOrNotAnObject) {
  expect_open_error(R"({"w": )", "", {"not valid JSON"});
  expect_open_error(R"({} trailing)", "", {"not valid JSON"});
  expect_open_error("[]", "", {"does not start with '{'"});
  expect_open_error("", "", {"does not start with '{'"});
  expect_open_error(R"({"w": 3})", "", {"tensor 'w'", "entry is a number, not an object"});
  expect_open_error(R"({"w": [1]})", "", {"tensor 'w'", "entry is an array"});
  expect_open_error(R"({"__metadata__": {"k": 1}})", "", {"__metadata__ key 'k'", "not a string"});
  expect_open_error(R"({"__metadata__": []})", "", {"__metadata__ is an array"});
}

TEST(SafetensorsE1, MissingOrMistypedEntryFields) {
  expect_open_error(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "0123", {"tensor 'w'", "'dtype' is missing"});
  expect_open_error(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "0123", {"tensor 'w'", "'shape' is missing"});
  expect_open_error(R"({"w":{"dtype":"F32","shape":[1]}})", "0123", {"tensor 'w'", "'data_offsets' is missing"});
  expect_open_error(R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", "0123",
                    {"tensor 'w'", "dtype is a number"});
  expect_open_error(R"({"w":{"dtype":"F32","shape":{},"data_offsets":[0,4]}})", "0123",
                    {"tensor 'w'", "shape is an object"});
}

TEST(SafetensorsE1, UnknownDtype) {
  expect_open_error(R"({"w":{"dtype":"F8_E5M2","shape":[1],"data_offsets":[0,1]}})", "x",
                    {"tensor 'w'", "unsupported dtype 'F8_E5M2'", "BF16", "F8_E4M3"});
}

TEST(SafetensorsE1, ShapeNegativeNonIntegerOrTooLong) {
  expect_open_error(R"({"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", "x", {"tensor 'w'", "negative"});
  expect_open_error(R"({"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", "x", {"tensor 'w'", "1.5"});
  expect_open_error(R"({"w":{"dtype":"U8","shape":["1"],"data_offsets":[0,1]}})", "x", {"tensor 'w'", "a string"});
  expect_open_error(R"({"w":{"dtype":"U8","shape":[[1]],"data_offsets":[0,1]}})", "x", {"tensor 'w'", "an array"});
  expect_open_error(R"({"w":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})", "x",
                    {"tensor 'w'", "more than 8 dimensions"});
  expect_open_error(R"({"w":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,1]}})", "x",
                    {"tensor 'w'", "too large"});
}

TEST(SafetensorsE1, ShapeTimesDtypeOverflowingU64) {
  expect_open_error(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", "0123",
                    {"tensor 'w'", "overflows 64 bits"});
  expect_open_error(R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}})", "0123",
                    {"tensor 'w'", "overflows 64 bits"});
}

TEST(SafetensorsE1, ShapeTimesDtypeNotTheSpan) {
  expect_open_error(one_tensor_header("[0,4]"), "0123", {"tensor 'w'", "span 4 bytes", "needs 8"});
}

TEST(SafetensorsE1, DataOffsetsMalformedOrOutOfRange) {
  expect_open_error(one_tensor_header("[0]"), "01234567", {"tensor 'w'", "1 values instead of 2"});
  expect_open_error(one_tensor_header("[0,8,16]"), "01234567", {"tensor 'w'", "more than 2"});
  expect_open_error(one_tensor_header("[-8,0]"), "01234567", {"tensor 'w'", "negative"});
  expect_open_error(one_tensor_header("[8,0]"), "01234567", {"tensor 'w'", "begin after end"});
  expect_open_error(one_tensor_header("[8,16]"), "01234567", {"tensor 'w'", "past the 8-byte data section"});
  expect_open_error(one_tensor_header("[0,18446744073709551615]"), "01234567", {"tensor 'w'", "past the"});
  expect_open_error(one_tensor_header("4"), "01234567", {"tensor 'w'", "data_offsets is a number"});
}

TEST(SafetensorsE1, OverlappingTensors) {
  expect_open_error(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                    R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                    "012345", {"tensor 'b'", "overlap tensor 'a'"});
  expect_open_error(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                    R"("b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})",
                    "0123", {"overlap"});
}

TEST(SafetensorsE1, GapsBetweenOrBeforeTensors) {
  expect_open_error(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                    R"("b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})",
                    "012345", {"tensor 'b'", "gap after tensor 'a'"});
  expect_open_error(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", "0123",
                    {"tensor 'a'", "starts at byte 2, not 0"});
}

TEST(SafetensorsE1, TrailingBytesAfterTheLastTensor) {
  expect_open_error(one_tensor_header("[0,8]"), "0123456789", {"2 trailing bytes", "tensor 'w'"});
  expect_open_error("{}", "xyz", {"no tensors but 3 data bytes"});
}

TEST(SafetensorsE1, DuplicateNamesAndFields) {
  expect_open_error(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                    R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                    "xy", {"tensor 'w'", "listed twice"});
  expect_open_error(R"({"w":{"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,1]}})", "x",
                    {"tensor 'w'", "field 'dtype' appears twice"});
  expect_open_error(R"({"__metadata__":{"k":"a","k":"b"}})", "", {"__metadata__ key 'k' appears twice"});
}

TEST(SafetensorsE1, DeepNestingIsRefusedWithoutCrashing) {
  const int depth = 100000;
  const std::string header = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":)" + std::string(depth, '[') +
                             std::string(depth, ']') + "}}";
  expect_open_error(header, "x", {"nested deeper than"});
}

TEST(SafetensorsE1, UnknownEntryFieldsAreIgnored) {
  TempDir dir;
  const std::string header = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"note":{"a":[1,{"b":null}]}}})";
  SafetensorsFile f = SafetensorsFile::open(write_safetensors(dir, "m.safetensors", header, "x"));
  EXPECT_EQ(bytes_of(f.tensor("w")), "x");
}

TEST(SafetensorsE1, NamesWithControlBytesAreEscapedInErrors) {
  expect_open_error("{\"a\\nb\":{\"dtype\":\"X\",\"shape\":[],\"data_offsets\":[0,0]}}", "", {"tensor 'a\\x0ab'"});
}

// ---- WeightStore: folders, shards and the index ----

std::string u8_header(const std::vector<std::string>& names) {
  std::string h = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    h += (i ? "," : "") + ("\"" + names[i] + "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[") +
         std::to_string(i) + "," + std::to_string(i + 1) + "]}";
  }
  return h + "}";
}

TEST(WeightStore, SingleFile) {
  TempDir dir;
  write_safetensors(dir, "model.safetensors", u8_header({"a", "b"}), "AB");
  WeightStore s = WeightStore::open(dir.path());
  EXPECT_EQ(s.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(s.has("a"));
  EXPECT_FALSE(s.has("c"));
  EXPECT_EQ(bytes_of(s.get("b")), "B");
  EXPECT_EQ(s.entry("b").begin, 1u);
  EXPECT_EQ(s.file_of("a"), dir.file("model.safetensors"));
  expect_contains(error_of([&] { s.get("c"); }), {dir.path(), "tensor 'c'", "not in the checkpoint"});
}

void write_index(const TempDir& dir, const std::string& weight_map) {
  write_bytes(dir.file("model.safetensors.index.json"),
              R"({"metadata":{"total_size":3},"weight_map":)" + weight_map + "}");
}

TEST(WeightStore, ShardedFolderFollowsTheIndex) {
  TempDir dir;
  write_safetensors(dir, "model-00001-of-00002.safetensors", u8_header({"a", "b"}), "AB");
  write_safetensors(dir, "model-00002-of-00002.safetensors", u8_header({"c"}), "C");
  write_index(dir, R"({"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors",)"
                   R"("c":"model-00002-of-00002.safetensors"})");
  WeightStore s = WeightStore::open(dir.path());
  EXPECT_EQ(s.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(bytes_of(s.get("a")), "A");
  EXPECT_EQ(bytes_of(s.get("c")), "C");
  EXPECT_EQ(s.file_of("c"), dir.file("model-00002-of-00002.safetensors"));
}

TEST(WeightStore, MissingShardIsNamed) {
  TempDir dir;
  write_safetensors(dir, "model-00001-of-00002.safetensors", u8_header({"a"}), "A");
  write_index(dir, R"({"a":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"})");
  expect_contains(
      error_of([&] { WeightStore::open(dir.path()); }),
      {"model.safetensors.index.json", "shard 'model-00002-of-00002.safetensors'", "tensor 'c'", "is missing"});
}

TEST(WeightStore, TensorListedForAShardMustBeInIt) {
  TempDir dir;
  write_safetensors(dir, "s1.safetensors", u8_header({"a"}), "A");
  write_index(dir, R"({"a":"s1.safetensors","b":"s1.safetensors"})");
  expect_contains(error_of([&] { WeightStore::open(dir.path()); }),
                  {dir.file("s1.safetensors"), "tensor 'b'", "not in it"});
}

TEST(WeightStore, ShardNamesCannotLeaveTheFolder) {
  for (const char* bad : {"../outside.safetensors", "sub/x.safetensors", "/etc/passwd", "..", ""}) {
    SCOPED_TRACE(bad);
    TempDir dir;
    write_index(dir, std::string(R"({"a":")") + bad + R"("})");
    expect_contains(error_of([&] { WeightStore::open(dir.path()); }), {"tensor 'a'", "not a plain file name"});
  }
}

TEST(WeightStore, MalformedIndex) {
  TempDir dir;
  write_bytes(dir.file("model.safetensors.index.json"), R"({"metadata":{}})");
  expect_contains(error_of([&] { WeightStore::open(dir.path()); }), {"index.json", "'weight_map'"});
  write_index(dir, R"({"a":"s.safetensors","a":"t.safetensors"})");
  expect_contains(error_of([&] { WeightStore::open(dir.path()); }), {"index.json", "key 'a' appears twice"});
  write_index(dir, R"({"a":1})");
  expect_contains(error_of([&] { WeightStore::open(dir.path()); }), {"tensor 'a'", "not a string"});
  write_bytes(dir.file("model.safetensors.index.json"), "{");
  expect_contains(error_of([&] { WeightStore::open(dir.path()); }), {"index.json", "not valid JSON"});
}

TEST(WeightStore, MalformedShardNamesTheShard) {
  TempDir dir;
  write_safetensors(dir, "s1.safetensors", one_tensor_header("[0,8]"), "0123");
  write_index(dir, R"({"w":"s1.safetensors"})");
  expect_contains(error_of([&] { WeightStore::open(dir.path()); }), {dir.file("s1.safetensors"), "tensor 'w'"});
}

TEST(WeightStore, PickleOnlyFolderIsRefused) {
  TempDir dir;
  write_bytes(dir.file("pytorch_model.bin"), "not loaded");
  write_bytes(dir.file("config.json"), "{}");
  expect_contains(error_of([&] { WeightStore::open(dir.path()); }),
                  {dir.path(), "only safetensors weights are supported (found pytorch_model.bin)", "convert"});
}

TEST(WeightStore, FolderWithoutWeights) {
  TempDir dir;
  expect_contains(error_of([&] { WeightStore::open(dir.path()); }), {dir.path(), "no model.safetensors"});
  write_safetensors(dir, "consolidated.safetensors", "{}", "");
  expect_contains(error_of([&] { WeightStore::open(dir.path()); }), {"found consolidated.safetensors"});
  expect_contains(error_of([&] { WeightStore::open(dir.file("nowhere")); }), {"not a directory"});
}

}  // namespace
}  // namespace tern
