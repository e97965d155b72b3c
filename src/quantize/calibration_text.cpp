#include "quantize/calibration_text.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "tokenizer/tokenizer.h"

namespace tern {
namespace {

constexpr const char* kBuiltinCalibrationText = R"(The river town woke slowly. Fishermen pulled their boats onto the
gravel, the baker opened her shutters, and a delivery van reversed into the square with its warning beeper
sounding. By eight o'clock the market was full: apples from the hills, cheese wrapped in paper, bundles of
mint, and a man selling secondhand books from the back of a bicycle. Visitors asked for directions to the old
bridge, which was built in 1742 and survived two floods, one war and a great deal of traffic.

Good documentation answers three questions: what does this do, how do I use it, and what happens when it
fails? A function that returns an error code should say which codes are possible. A configuration option
should state its unit, its default and its range. Examples are worth more than paragraphs, but an example
that does not compile is worse than none.

今天的天气很好，我们决定去公园散步。公园里有很多人，有的在跑步，有的在打太极拳，还有孩子们在草地上放风筝。
湖边的柳树已经发芽了，风一吹，细长的枝条轻轻摆动。我们在长椅上坐了一会儿，聊起了最近读的书和明年的旅行计划。
学习一门新的编程语言时，最好的方法是动手写一些小程序，然后逐步增加难度，遇到问题时查阅文档并认真思考原因。

def merge_intervals(intervals):
    """Merge overlapping [start, end] intervals and return them sorted."""
    result = []
    for start, end in sorted(intervals):
        if result and start <= result[-1][1]:
            result[-1][1] = max(result[-1][1], end)
        else:
            result.append([start, end])
    return result

#include <vector>
int sum_of_squares(const std::vector<int>& values) {
  int total = 0;
  for (int v : values) total += v * v;
  return total;
}

SELECT customer_id, COUNT(*) AS orders FROM orders WHERE created_at >= '2024-01-01'
GROUP BY customer_id HAVING COUNT(*) > 3 ORDER BY orders DESC;
)";

}  // namespace

std::vector<std::vector<int32_t>> calibration_sequences(const std::string& path, const std::string& model_dir,
                                                        int64_t max_len) {
  std::string text = kBuiltinCalibrationText;
  if (!path.empty()) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw error(path, ": cannot open the calibration text");
    std::ostringstream s;
    s << f.rdbuf();
    text = s.str();
  }
  const std::vector<int32_t> ids = Tokenizer::load(model_dir)->encode(text, /*add_special_tokens=*/true);
  if (ids.size() < 16) throw error("quantize: the calibration text gives only ", ids.size(), " tokens");
  const size_t len = size_t(max_len);
  std::vector<std::vector<int32_t>> sequences;
  for (size_t i = 0; i < ids.size(); i += len)
    sequences.emplace_back(ids.begin() + i, ids.begin() + std::min(ids.size(), i + len));
  return sequences;
}

}  // namespace tern
