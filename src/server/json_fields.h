// Typed access to the fields of a request object: the shared reader (base/json_reader.h)
// under the request policy. Every accessor returns nullopt for an absent or null field and
// throws an ApiError 400 naming the field (its full path, as "messages[2].content") when
// the value has the wrong type or is out of range; integral floats (10.0) are integers, and
// integers beyond int64 read as its ends, so huge values fail the range check, never wrap.
#pragma once

#include <string>

#include "base/json_reader.h"
#include "server/json_body.h"

namespace tern::server {

using JsonFields = JsonReader<Json>;

// A reader of `object`, which must outlive it, at `path` ("" for the body). Throws if it
// is not a JSON object.
JsonFields request_fields(const Json& object, std::string path);

}  // namespace tern::server
