// One copy-on-write copy, as the KV manager records it and the model side runs it: block
// `dst` becomes a copy of block `src`, in every layer, before the step's forward writes any KV.
#pragma once

#include <cstdint>

namespace tern {

struct BlockCopy {
  int32_t src = -1;
  int32_t dst = -1;
  bool operator==(const BlockCopy&) const = default;
};

}  // namespace tern
