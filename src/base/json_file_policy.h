// How a model's config.json words a wrong field (base/json_reader.h): a tern::Error
// "<source>: field '<path>': <value> is not an integer", the value quoted as written, so
// whoever fixes the file sees what is there.
#pragma once

#include <memory>
#include <string>

#include "base/json_reader.h"

namespace tern {

// `note` ends every message (quantization_config's list of what is supported, say).
std::shared_ptr<const JsonReadPolicy> config_file_policy(std::string source, std::string note = "");

}  // namespace tern
