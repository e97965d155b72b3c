// The sampling defaults of a model folder's generation_config.json: temperature, top_p,
// top_k, min_p and repetition_penalty, the keys vLLM applies to requests that leave them
// out (do_sample and the rest are not read).
#pragma once

#include <string>

#include "server/served_model.h"

namespace tern::app {

// The defaults DIR/generation_config.json sets; none without the file. A value outside
// its request range is left out with a warning; a file that is not JSON throws
// tern::Error naming it.
server::SamplingDefaults read_sampling_defaults(const std::string& model_dir);

}  // namespace tern::app
