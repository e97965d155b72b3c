// tern's CPU forward of the INT4 and FP8 checkpoints in tests/data/quant/ (made by `tern
// quantize` from tiny-qwen2) against PyTorch: tools/quant_reference.py dequantises each
// checkpoint in torch (emulating FP8 activations with torch.float8_e4m3fn), runs it dense
// in fp32 with transformers and writes logits at every position
// of fixed prompts into tests/data/quant/golden/<name>.json + .logits.safetensors.
// Those files are made on the GPU machine; a checkpoint without them is skipped with a
// message saying so.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "model/safetensors.h"
#include "quant_fixture.h"

namespace tern {
namespace {

using namespace quant_test;

std::vector<std::string> checkpoints() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kData / "quant")) {
    if (e.is_directory() && fs::exists(e.path() / "config.json")) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class QuantReference : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantReference, CpuLogitsMatchTorchDequantisedReference) {
  const fs::path golden = kData / "quant" / "golden" / (GetParam() + ".json");
  if (!fs::exists(golden))
    GTEST_SKIP() << "no reference logits for " << GetParam() << ": run tools/quant_reference.py --model "
                 << (kData / "quant" / GetParam()).string() << " on the GPU machine and copy its output to "
                 << golden.parent_path().string();
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(golden));
  const SafetensorsFile logits =
      SafetensorsFile::open((kData / "quant" / "golden" / (GetParam() + ".logits.safetensors")).string());
  const std::string dir = (kData / "quant" / GetParam()).string();
  ASSERT_FALSE(j["cases"].empty());
  // FP8 checkpoints quantise every projection's input too: where torch's and tern's float
  // sums differ in their last bits, an input can round to the neighbouring e4m3 value,
  // 1/16 of itself away, and the difference spreads to the logits.
  const float tolerance = GetParam().find("fp8") != std::string::npos ? 1e-2f : 1e-3f;
  for (size_t i = 0; i < j["cases"].size(); ++i) {
    const std::vector<int32_t> ids = j["cases"][i]["prompt_ids"].get<std::vector<int32_t>>();
    const Tensor want = logits.tensor("prompt_" + std::to_string(i));
    const std::vector<float> got = model_logits(dir, ids);
    ASSERT_EQ(int64_t(got.size()), want.numel());
    const LogitsError e =
        compare_logits(got, std::vector<float>(want.ptr<const float>(), want.ptr<const float>() + want.numel()));
    EXPECT_LE(e.max_abs, tolerance * std::max(1.0f, e.max_ref)) << GetParam() << " prompt " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, QuantReference, ::testing::ValuesIn(checkpoints()), [](const auto& info) {
  std::string s = info.param;
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
});

}  // namespace
}  // namespace tern
