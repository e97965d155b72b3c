// A model folder's generation_config.json: its end-of-sequence ids, and the sampling
// defaults (temperature, top_p, top_k, min_p and repetition_penalty, the keys vLLM applies
// to requests that leave them out; do_sample and the rest are not read). Read strictly
// (tokenizer/json_node.h): a repeated key or a field of the wrong type is a tern::Error
// naming the file and the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/served_model.h"

namespace tern::app {

// The defaults DIR/generation_config.json sets; none without the file. A number outside
// its request range is left out with a warning.
server::SamplingDefaults read_sampling_defaults(const std::string& model_dir);

// Its eos_token_id (an id or a list of ids): it may name more end-of-sequence ids than
// config.json (Qwen2.5 Instruct ends on <|im_end|> and <|endoftext|>). None without the file.
std::vector<int32_t> read_generation_eos_ids(const std::string& model_dir);

}  // namespace tern::app
