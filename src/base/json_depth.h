// Nesting depth of JSON text, found by one linear scan before any parser sees it, so a
// body or file nested 10^6 levels deep is refused without recursion or allocation.
#pragma once

#include <string_view>

namespace tern {

// The deepest nesting of arrays and objects in `text` (string contents skipped), or a
// value above `limit` as soon as the scan passes it. Malformed text is not diagnosed.
int json_nesting_depth(std::string_view text, int limit);

}  // namespace tern
