// `tern quantize` end to end on tests/data/models/tiny-qwen2 (group size 32, since its
// hidden size is 64): RTN and GPTQ (with and without act-order) and FP8 checkpoints load
// and stay close to the bf16 model; bad options fail with a message. Runs the tern binary
// of this build (TERN_BINARY).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "model/json_file.h"
#include "model/safetensors.h"
#include "quant_fixture.h"
#include "tokenizer/tokenizer.h"

namespace tern {
namespace {

using namespace quant_test;

struct CliResult {
  int exit_code = -1;
  std::string err;
};

CliResult quantize(const TempDir& dir, const std::string& args) {
  const std::string err_path = dir.file("stderr.txt");
  const std::string command = std::string("'") + TERN_BINARY + "' quantize --model '" + kTinyQwen + "' " + args +
                              " >/dev/null 2>'" + err_path + "'";
  const int status = std::system(command.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::ostringstream text;
  text << err.rdbuf();
  r.err = text.str();
  return r;
}

class QuantCli : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fs::exists(TERN_BINARY)) << "build the tern target first: " << TERN_BINARY; }
  // Quantises with `args`, loads the result and returns its logits error against bf16.
  LogitsError quantize_and_compare(const std::string& name, const std::string& args) {
    const CliResult r = quantize(dir_, "--out '" + dir_.file(name) + "' " + args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const LogitsError e =
        compare_logits(model_logits(dir_.file(name), test_prompt()), model_logits(kTinyQwen, test_prompt()));
    std::cout << "tiny-qwen2 " << args << ": logits max |diff| " << e.max_abs << " (max |logit| " << e.max_ref
              << "), rms ratio " << e.rms_ratio << "\n";
    return e;
  }
  TempDir dir_;
};

TEST_F(QuantCli, RtnAndGptqCheckpointsStayCloseToTheBf16Model) {
  const LogitsError rtn = quantize_and_compare("rtn", "--method rtn --group-size 32");
  const LogitsError gptq = quantize_and_compare("gptq", "--method gptq --group-size 32");
  const LogitsError sym = quantize_and_compare("sym", "--method gptq --group-size 32 --sym");
  for (const LogitsError& e : {rtn, gptq, sym}) {
    EXPECT_GT(e.max_abs, 0.0f);
    EXPECT_LT(e.rms_ratio, 0.5f);  // see quant_model_test: tiny-qwen2's random weights amplify INT4 error
  }
  const nlohmann::json q = load_json_file(dir_.file("sym/config.json"), 1 << 20)["quantization_config"];
  EXPECT_EQ(q["group_size"], 32);
  EXPECT_EQ(q["sym"], true);
  EXPECT_EQ(q["desc_act"], false);
}

TEST_F(QuantCli, GptqBeatsRoundToNearestOnTextLikeItsCalibration) {
  // GPTQ minimises each layer's output error on the calibration activations, so on text
  // of that kind the whole model should drift less from bf16 than with RTN.
  const std::string text =
      "The harbour was quiet in the early morning. A few boats rocked against the pier, and gulls argued over "
      "the remains of yesterday's catch. Further up the hill the bakery had already opened; the smell of bread "
      "drifted down the narrow streets. An old man swept the steps of the church while a cat watched him from "
      "the wall. By nine the first visitors arrived, asking for coffee, maps and the way to the lighthouse. ";
  std::ofstream(dir_.file("calibration.txt")) << text << text << text;
  const std::vector<int32_t> ids = Tokenizer::load(kTinyQwen)->encode(text.substr(0, 200), false);
  auto error_on_text = [&](const std::string& name, const std::string& args) {
    const CliResult r = quantize(dir_, "--out '" + dir_.file(name) + "' " + args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return compare_logits(model_logits(dir_.file(name), ids), model_logits(kTinyQwen, ids)).rms_ratio;
  };
  const float rtn = error_on_text("rtn", "--method rtn --group-size 32");
  const float gptq =
      error_on_text("gptq", "--method gptq --group-size 32 --calibration '" + dir_.file("calibration.txt") + "'");
  std::cout << "tiny-qwen2 on calibration-like text: logits rms ratio RTN " << rtn << ", GPTQ " << gptq << "\n";
  EXPECT_LT(gptq, rtn);
}

TEST_F(QuantCli, DescActWritesAScatteredGIdx) {
  const LogitsError e = quantize_and_compare("act", "--method gptq --group-size 32 --desc-act");
  EXPECT_LT(e.rms_ratio, 0.5f);
  const SafetensorsFile f = SafetensorsFile::open(dir_.file("act/model.safetensors"));
  const Tensor g_idx = f.tensor("model.layers.0.mlp.down_proj.g_idx");
  int moved = 0;
  for (int k = 0; k < 128; ++k) moved += g_idx.ptr<int32_t>()[k] != k / 32;
  EXPECT_GT(moved, 0);
  EXPECT_EQ(load_json_file(dir_.file("act/config.json"), 1 << 20)["quantization_config"]["desc_act"], true);
}

TEST_F(QuantCli, Fp8WritesACompressedTensorsCheckpoint) {
  const LogitsError e = quantize_and_compare("fp8", "--method fp8");
  EXPECT_GT(e.max_abs, 0.0f);
  EXPECT_LT(e.rms_ratio, 0.25f);  // see quant_fp8_model_test
  const nlohmann::json q = load_json_file(dir_.file("fp8/config.json"), 1 << 20)["quantization_config"];
  EXPECT_EQ(q["quant_method"], "compressed-tensors");
  EXPECT_EQ(q["config_groups"]["group_0"]["weights"]["strategy"], "channel");
  EXPECT_EQ(q["config_groups"]["group_0"]["input_activations"]["strategy"], "token");
  const SafetensorsFile f = SafetensorsFile::open(dir_.file("fp8/model.safetensors"));
  EXPECT_EQ(f.tensor("model.layers.1.mlp.down_proj.weight").dtype, DType::kF8E4M3);
  EXPECT_EQ(f.tensor("model.layers.1.mlp.down_proj.weight_scale").shape_str(), "[64, 1]");
  EXPECT_EQ(f.tensor("model.embed_tokens.weight").dtype, DType::kBF16);

  const std::string out = "--out '" + dir_.file("bad") + "' ";
  CliResult r = quantize(dir_, out + "--method fp8 --group-size 32");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--group-size applies to rtn and gptq"), std::string::npos) << r.err;
  r = quantize(dir_, out + "--method fp8 --bits 4");
  EXPECT_NE(r.err.find("--bits 4 does not go with --method fp8"), std::string::npos) << r.err;
  r = quantize(dir_, out + "--method fp8 --sym");
  EXPECT_NE(r.err.find("--sym, --desc-act and --calibration apply to the 4-bit methods"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_.file("bad/model.safetensors")));
}

TEST_F(QuantCli, BadOptionsFailWithAMessage) {
  const std::string out = "--out '" + dir_.file("bad") + "' ";
  CliResult r = quantize(dir_, out + "--method rtn");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--group-size 128 does not divide the 64 inputs"), std::string::npos) << r.err;
  r = quantize(dir_, out + "--method rtn --group-size 32 --bits 8");
  EXPECT_NE(r.err.find("--bits 8 is not supported"), std::string::npos) << r.err;
  r = quantize(dir_, out + "--method rtn --group-size 32 --desc-act");
  EXPECT_NE(r.err.find("--desc-act needs --method gptq"), std::string::npos) << r.err;
  r = quantize(dir_, out + "--method gptq --group-size 32 --calibration '" + dir_.file("none.txt") + "'");
  EXPECT_NE(r.err.find("cannot open the calibration text"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_.file("bad/model.safetensors")));
}

}  // namespace
}  // namespace tern
