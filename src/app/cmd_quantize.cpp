// tern quantize: the command line of quantize/quantize_model.h.
#include <memory>
#include <string>

#include "app/commands.h"
#include "app/engine_options.h"
#include "base/error.h"
#include "quantize/quantize_model.h"

namespace tern::app {

void add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeModelOptions>();
  CLI::App* cmd =
      app.add_subcommand("quantize", "Write a 4-bit GPTQ or an FP8 (W8A8) copy of a model (see docs/quantization.md)");
  auto revision = std::make_shared<std::string>("main");
  add_model_options(*cmd, o->model_dir, *revision, "a dense model folder (config.json + safetensors)")->required();
  cmd->add_option("--out", o->out_dir, "Output folder")->required();
  auto method = std::make_shared<std::string>("gptq");
  cmd->add_option("--method", *method,
                  "rtn (4-bit, round to nearest), gptq (4-bit, Hessian error compensation) or fp8 (e4m3 weights "
                  "with per-channel scales, activations quantised per token; compressed-tensors format)")
      ->check(CLI::IsMember({"rtn", "gptq", "fp8"}))
      ->capture_default_str();
  CLI::Option* group_size =
      cmd->add_option("--group-size", o->group_size, "Input columns per scale (rtn, gptq); -1: one per output row")
          ->capture_default_str();
  cmd->add_flag("--sym", o->sym, "Symmetric grid (zero point 8) instead of asymmetric");
  cmd->add_flag("--desc-act", o->desc_act, "GPTQ act-order: quantise columns by decreasing Hessian diagonal");
  cmd->add_option("--calibration", o->calibration, "GPTQ calibration text file (default: a built-in sample)");
  cmd->add_option("--bits", o->bits, "Bits per weight: 4 for rtn and gptq, 8 for fp8 (the default follows --method)");
  cmd->callback([o, method, revision, group_size] {
    if (*method == "fp8" && group_size->count() > 0)
      throw error("quantize: --group-size applies to rtn and gptq; fp8 has one scale per output channel");
    o->model_dir = resolve_model_option(o->model_dir, *revision).dir;
    o->method = *method == "rtn" ? QuantizeMethod::kRtn : *method == "gptq" ? QuantizeMethod::kGptq : QuantizeMethod::kFp8;
    quantize_model(*o);
  });
}

}  // namespace tern::app
