// generation_config.json (app/generation_config.h): its sampling defaults and
// end-of-sequence ids, read strictly: a field of the wrong type is an error naming the file
// and the field, a value a request could not give is left out.
#include <gtest/gtest.h>

#include "app/generation_config.h"
#include "test_support.h"

namespace tern::app {
namespace {

using testing::TempDir;

TEST(GenerationConfig, ReadsTheSamplingDefaultsAndEosIds) {
  TempDir dir;
  dir.write("generation_config.json",
            R"({"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.05, "eos_token_id": [5, 7]})");
  const server::SamplingDefaults d = read_sampling_defaults(dir.path());
  EXPECT_EQ(d.temperature, 0.7);
  EXPECT_EQ(d.top_p, 0.8);
  EXPECT_EQ(d.top_k, 20);
  EXPECT_EQ(d.repetition_penalty, 1.05);
  EXPECT_EQ(d.min_p, std::nullopt);
  EXPECT_EQ(read_generation_eos_ids(dir.path()), (std::vector<int32_t>{5, 7}));
}

TEST(GenerationConfig, NoFileMeansNoDefaults) {
  TempDir dir;
  EXPECT_EQ(read_sampling_defaults(dir.path()).temperature, std::nullopt);
  EXPECT_TRUE(read_generation_eos_ids(dir.path()).empty());
}

TEST(GenerationConfig, AValueARequestCouldNotGiveIsLeftOut) {
  TempDir dir;
  dir.write("generation_config.json", R"({"temperature": 3, "top_p": 0, "top_k": 2.5})");
  const server::SamplingDefaults d = read_sampling_defaults(dir.path());
  EXPECT_EQ(d.temperature, std::nullopt);
  EXPECT_EQ(d.top_p, std::nullopt);
  EXPECT_EQ(d.top_k, std::nullopt);
}

TEST(GenerationConfig, AWrongTypedSamplingKeyNamesTheFileAndField) {
  TempDir dir;
  const std::string file = dir.file("generation_config.json");
  for (const auto& [config, message] :
       {std::pair{R"({"temperature": "hot"})", ": temperature: expected a number, found string"},
        std::pair{R"({"top_k": "20"})", ": top_k: expected a number, found string"},
        std::pair{R"({"top_p": [0.8]})", ": top_p: expected a number, found array"},
        std::pair{R"({"repetition_penalty": true})", ": repetition_penalty: expected a number, found boolean"}}) {
    dir.write("generation_config.json", config);
    EXPECT_EQ(testing::error_of([&] { read_sampling_defaults(dir.path()); }), file + message) << config;
  }
}

TEST(GenerationConfig, AWrongTypedEosIdNamesTheFileAndField) {
  TempDir dir;
  const std::string file = dir.file("generation_config.json");
  dir.write("generation_config.json", R"({"eos_token_id": [1, "2"]})");
  EXPECT_EQ(testing::error_of([&] { read_generation_eos_ids(dir.path()); }),
            file + ": eos_token_id[1]: expected an integer, found string");
  dir.write("generation_config.json", R"({"eos_token_id": 4294967296})");
  EXPECT_EQ(testing::error_of([&] { read_generation_eos_ids(dir.path()); }),
            file + ": eos_token_id: token id 4294967296 is out of range");
  dir.write("generation_config.json", R"([1, 2])");
  EXPECT_EQ(testing::error_of([&] { read_sampling_defaults(dir.path()); }), file + ": expected a JSON object");
}

}  // namespace
}  // namespace tern::app
