// tern quantize: the command line of quantize/quantize_model.h.
#include <memory>
#include <string>

#include "app/commands.h"
#include "app/engine_options.h"
#include "quantize/quantize_model.h"

namespace tern::app {

void add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeModelOptions>();
  CLI::App* cmd =
      app.add_subcommand("quantize", "Write a 4-bit GPTQ-format copy of a model (see docs/quantization.md)");
  auto revision = std::make_shared<std::string>("main");
  add_model_options(*cmd, o->model_dir, *revision, "a dense model folder (config.json + safetensors)")->required();
  cmd->add_option("--out", o->out_dir, "Output folder")->required();
  auto method = std::make_shared<std::string>("gptq");
  cmd->add_option("--method", *method, "rtn (round to nearest) or gptq (Hessian error compensation)")
      ->check(CLI::IsMember({"rtn", "gptq"}));
  cmd->add_option("--group-size", o->group_size, "Input columns per scale; -1: one per output row")
      ->capture_default_str();
  cmd->add_flag("--sym", o->sym, "Symmetric grid (zero point 8) instead of asymmetric");
  cmd->add_flag("--desc-act", o->desc_act, "GPTQ act-order: quantise columns by decreasing Hessian diagonal");
  cmd->add_option("--calibration", o->calibration, "GPTQ calibration text file (default: a built-in sample)");
  cmd->add_option("--bits", o->bits, "Bits per weight (4)")->capture_default_str();
  cmd->callback([o, method, revision] {
    o->model_dir = resolve_model_option(o->model_dir, *revision).dir;
    o->method = *method == "rtn" ? QuantizeMethod::kRtn : QuantizeMethod::kGptq;
    quantize_model(*o);
  });
}

}  // namespace tern::app
