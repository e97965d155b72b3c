// The default Backend::upload_fp8: the host layout, tensor by tensor (zero-copy views of
// the checkpoint on the CPU backend).
#include "backend/backend.h"

namespace tern {

Fp8Weight Backend::upload_fp8(const Fp8Weight& host) {
  Fp8Weight out = host;
  out.values = upload(host.values, host.values.dtype);
  out.scales = upload(host.scales, host.scales.dtype);
  return out;
}

}  // namespace tern
