// The default Backend::upload_int4: the host layout, tensor by tensor (the CPU backend's
// upload makes zero-copy views, so its INT4 weights stay where the loader put them).
#include "backend/backend.h"
#include "base/error.h"

namespace tern {

Int4Weight Backend::upload_int4(const Int4Weight& host) {
  TERN_CHECK(host.layout == Int4Layout::kRowMajor, "upload_int4 takes a host weight in the row-major layout");
  Int4Weight out = host;
  for (Tensor* t : {&out.codes, &out.scales, &out.zeros, &out.group_index})
    if (!t->empty()) *t = upload(*t, t->dtype);
  return out;
}

}  // namespace tern
