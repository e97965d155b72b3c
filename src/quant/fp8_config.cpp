#include "quant/fp8_config.h"

#include <string>

namespace tern {
namespace {

using Fields = JsonReader<nlohmann::json>;

// A list of module names (or "re:" patterns) added to c.modules_not_converted.
void read_module_list(const Fields& f, std::string_view key, QuantizationConfig& c) {
  const auto list = f.field(key);
  if (!list) return;
  for (size_t i = 0; i < list->size(); ++i)
    c.modules_not_converted.push_back(list->element(i).as_string());
}

// [rows, cols] of a block shape, both positive.
void read_block(const Fields& f, std::string_view key, int64_t& rows, int64_t& cols) {
  const Fields block = f.required(key);
  if (block.size() != 2) f.fail_at(key, block.value().dump(), " is not a [rows, columns] pair");
  rows = block.element(0).as_integer(1, 1 << 16);
  cols = block.element(1).as_integer(1, 1 << 16);
}

// The fields every compressed-tensors FP8 scheme shares: 8-bit symmetric floats.
void expect_fp8_scheme(const Fields& scheme) {
  if (const int64_t bits = scheme.required("num_bits").as_integer(); bits != 8)
    scheme.fail_at("num_bits", bits, " is not supported (FP8 schemes have 8 bits)");
  if (const std::string type = scheme.string("type").value_or("int"); type != "float")
    scheme.fail_at("type", "'", type, "' is not supported (tern reads float, that is FP8 e4m3, schemes)");
  if (!scheme.boolean("symmetric").value_or(true))
    scheme.fail_at("symmetric", "false is not supported (FP8 schemes are symmetric)");
}

void parse_ct_weights(const Fields& w, Fp8Config& fp8) {
  expect_fp8_scheme(w);
  if (w.boolean("dynamic").value_or(false)) w.fail_at("dynamic", "true is not supported for weights");
  const std::string strategy = w.string("strategy").value_or("tensor");
  if (strategy == "tensor") {
    fp8.weight_scales = Fp8Config::WeightScales::kTensor;
  } else if (strategy == "channel") {
    fp8.weight_scales = Fp8Config::WeightScales::kChannel;
  } else if (strategy == "block") {
    fp8.weight_scales = Fp8Config::WeightScales::kBlock;
    read_block(w, "block_structure", fp8.block_rows, fp8.block_cols);
  } else {
    w.fail_at("strategy", "'", strategy, "' is not supported (tensor, channel or block)");
  }
}

void parse_ct_activations(const Fields& a, Fp8Config& fp8) {
  expect_fp8_scheme(a);
  const bool dynamic = a.boolean("dynamic").value_or(false);
  const std::string strategy = a.string("strategy").value_or("tensor");
  if (strategy == "token" || (strategy == "tensor" && dynamic)) {
    if (!dynamic) a.fail_at("dynamic", "false is not supported with strategy 'token'");
    fp8.activations = Fp8Activations::kPerToken;
  } else if (strategy == "tensor") {
    fp8.activations = Fp8Activations::kStatic;
  } else if (strategy == "group") {
    if (!dynamic) a.fail_at("dynamic", "false is not supported with strategy 'group'");
    fp8.activations = Fp8Activations::kPerTokenGroup;
    fp8.activation_group = a.required("group_size").as_integer(1, 1 << 16);
  } else {
    a.fail_at("strategy", "'", strategy, "' is not supported (token, tensor or group)");
  }
}

}  // namespace

void parse_fp8_config(const Fields& f, QuantizationConfig& c) {
  c.method = QuantMethod::kFp8;
  c.bits = 8;
  Fp8Config& fp8 = c.fp8;
  fp8.format = Fp8Config::Format::kFp8;
  if (const std::string fmt = f.string("fmt").value_or("e4m3"); fmt != "e4m3")
    f.fail_at("fmt", "'", fmt, "' is not supported (e4m3)");
  const std::string scheme = f.string("activation_scheme").value_or("dynamic");
  if (scheme != "dynamic" && scheme != "static")
    f.fail_at("activation_scheme", "'", scheme, "' is not supported (dynamic or static)");
  if (f.has("weight_block_size")) {
    if (scheme != "dynamic")
      f.fail_at("activation_scheme", "'static' is not supported with weight_block_size (block checkpoints quantise "
                "activations dynamically)");
    fp8.weight_scales = Fp8Config::WeightScales::kBlock;
    read_block(f, "weight_block_size", fp8.block_rows, fp8.block_cols);
    fp8.activations = Fp8Activations::kPerTokenGroup;
    fp8.activation_group = fp8.block_cols;
    fp8.scale_suffix = ".weight_scale_inv";
  } else {
    fp8.weight_scales = Fp8Config::WeightScales::kTensor;
    fp8.activations = scheme == "static" ? Fp8Activations::kStatic : Fp8Activations::kPerToken;
  }
  read_module_list(f, "ignored_layers", c);
  read_module_list(f, "modules_to_not_convert", c);
}

void parse_compressed_tensors_config(const Fields& f, QuantizationConfig& c) {
  c.method = QuantMethod::kFp8;
  c.bits = 8;
  c.fp8.format = Fp8Config::Format::kCompressedTensors;
  const Fields groups = f.required("config_groups");
  groups.expect_object();
  if (groups.value().size() != 1)
    f.fail_at("config_groups", "has ", groups.value().size(),
              " groups; tern reads checkpoints with one scheme for every projection");
  const std::string name = groups.value().begin().key();
  const Fields group = groups.required(name);
  const std::string format = group.string("format").value_or(f.string("format").value_or(""));
  if (format != "float-quantized")
    f.fail_at("format", "'", format, "' is not supported (tern reads FP8 checkpoints in format 'float-quantized')");
  parse_ct_weights(group.required("weights"), c.fp8);
  if (!group.has("input_activations"))
    group.fail_at("input_activations", "is missing: FP8 weight-only checkpoints are not supported (W8A8 only)");
  parse_ct_activations(group.required("input_activations"), c.fp8);
  if (group.has("output_activations")) group.fail_at("output_activations", "is not supported");
  if (const auto sparsity = f.object("sparsity_config"); sparsity && sparsity->has("format")) {
    if (const std::string s = *sparsity->string("format"); s != "dense")
      sparsity->fail_at("format", "'", s, "' is not supported (dense only)");
  }
  read_module_list(f, "ignore", c);
}

}  // namespace tern
