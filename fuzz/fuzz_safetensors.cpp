// libFuzzer target: a safetensors file (8-byte header length, JSON header, data) through
// the real reader, SafetensorsFile::open, which maps the file. Any input must give a
// tern::Error or a file whose every tensor view lies inside the mapping.
#include <cstdint>

#include "base/error.h"
#include "fuzz_support.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tern::fuzz::scratch_dir() + "/model.safetensors";
  tern::fuzz::write_file(path, tern::fuzz::as_text(data, size));
  try {
    const tern::SafetensorsFile file = tern::SafetensorsFile::open(path);
    for (const tern::SafetensorsEntry& e : file.entries()) {
      if (e.end > size) __builtin_trap();
      if (e.shape.size() <= 4) {
        const tern::Tensor t = file.tensor(e.name);
        // Touch the first and last byte: ASan sees any view outside the mapping.
        if (e.end > e.begin) {
          volatile uint8_t sink = static_cast<const uint8_t*>(t.data)[0];
          sink = static_cast<const uint8_t*>(t.data)[e.end - e.begin - 1];
          (void)sink;
        }
      }
    }
  } catch (const tern::Error&) {
  }
  return 0;
}
