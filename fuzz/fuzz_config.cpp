// libFuzzer target: config.json text through the strict JSON reader and the model-config
// validator. Any input must give a tern::Error or a config whose sizes are in range.
#include <cstdint>

#include "base/error.h"
#include "fuzz_support.h"
#include "model/config.h"
#include "model/json_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const nlohmann::json json = tern::parse_json_strict(tern::fuzz::as_text(data, size), "config.json");
    const tern::ModelConfig c = tern::parse_model_config(json, "config.json");
    if (c.hidden_size <= 0 || c.hidden_size > tern::kMaxHiddenSize || c.num_hidden_layers <= 0 ||
        c.num_hidden_layers > tern::kMaxLayers || c.vocab_size <= 0 || c.vocab_size > tern::kMaxVocabSize ||
        c.num_key_value_heads <= 0 || c.num_attention_heads % c.num_key_value_heads != 0) {
      __builtin_trap();
    }
  } catch (const tern::Error&) {
  }
  return 0;
}
