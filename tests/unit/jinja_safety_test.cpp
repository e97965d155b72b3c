// Reliability cases C5 and E4: a hostile template or request cannot reach the host,
// run forever, exhaust memory or the stack; every such render fails with a tern::Error
// (a 400 for the request) and the process carries on. Message content is data.
#include <gtest/gtest.h>
#include <pthread.h>

#include <chrono>
#include <ctime>

#include "base/error.h"
#include "jinja/jinja_template.h"
#include "test_support.h"

namespace tern::jinja {
namespace {

using Json = nlohmann::ordered_json;

std::string render(std::string_view source, const Json& context = Json::object(), const Limits& limits = {}) {
  return Template(source).render(context, limits);
}

std::string render_error(std::string_view source, const Json& context = Json::object(), const Limits& limits = {}) {
  try {
    return "(rendered) " + render(source, context, limits);
  } catch (const Error& e) {
    return e.what();
  }
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(JinjaSafety, MessageContentIsPrintedNotEvaluated) {
  Json context = {{"m", "{{ 7*7 }}{% for x in range(10**12) %}{% endfor %}{{ ''.__class__ }}<|im_start|>"}};
  EXPECT_EQ(render("{{ m }}|{{ m|trim }}|{{ [m]|tojson }}", context),
            "{{ 7*7 }}{% for x in range(10**12) %}{% endfor %}{{ ''.__class__ }}<|im_start|>|"
            "{{ 7*7 }}{% for x in range(10**12) %}{% endfor %}{{ ''.__class__ }}<|im_start|>|"
            "[\"{{ 7*7 }}{% for x in range(10**12) %}{% endfor %}{{ ''.__class__ }}<|im_start|>\"]");
}

TEST(JinjaSafety, DunderAttributesAreJustUndefined) {
  EXPECT_EQ(render("[{{ ''.__class__ }}][{{ [].__class__ }}][{{ {}.__init__ }}][{{ range.__globals__ }}]"), "[][][][]");
  EXPECT_EQ(render("[{{ self }}][{{ config }}][{{ request }}][{{ lipsum }}]"), "[][][][]");
  // Looking further into an Undefined is an error, never an escape.
  EXPECT_EQ(render_error("{{ ''.__class__.__mro__[1].__subclasses__() }}"),
            "chat template: line 1: '__class__' is undefined");
  EXPECT_EQ(render_error("{{ cycler.__init__.__globals__.os.popen('id').read() }}"),
            "chat template: line 1: 'cycler' is undefined");
}

TEST(JinjaSafety, HugeRangesAreRefusedAtOnce) {
  auto start = std::chrono::steady_clock::now();
  std::string error = render_error("{% for i in range(10**12) %}x{% endfor %}");
  EXPECT_TRUE(contains(error, "MAX_RANGE (100000)")) << error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(JinjaSafety, StepBudgetStopsRunawayLoops) {
  auto start = std::chrono::steady_clock::now();
  std::string error = render_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
  EXPECT_TRUE(contains(error, "step budget of 10000000 exceeded")) << error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10 * testing::kSanitizerSlowdown));

  Limits small;
  small.max_steps = 1000;
  EXPECT_EQ(render("{% for i in range(100) %}{% endfor %}ok", Json::object(), small), "ok");
  EXPECT_TRUE(contains(render_error("{% for i in range(2000) %}{% endfor %}", Json::object(), small), "step budget"));
}

TEST(JinjaSafety, DepthLimitStopsRunawayRecursion) {
  EXPECT_EQ(render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"),
            "chat template: line 1: nesting depth limit of 400 exceeded (runaway recursion?)");
  // Honest recursion (a nested JSON schema, say) still works.
  EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}({{ f(n - 1) }}){% endif %}{% endmacro %}{{ f(20) }}"),
            std::string(20, '(') + std::string(20, ')'));
}

void* render_on_small_stack(void* result) {
  *static_cast<std::string*>(result) = render_error(
      "{% macro f(n) %}{% if n > 0 %}{% for x in [1] %}{% if true %}{{ f(n - 1) ~ (n|string) }}"
      "{% endif %}{% endfor %}{% endif %}{% endmacro %}{{ f(100000) }}");
  return nullptr;
}

TEST(JinjaSafety, DepthLimitHoldsOnA256KiBStack) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 256 * 1024 * testing::kSanitizerSlowdown), 0);
  std::string result;
  pthread_t thread;
  ASSERT_EQ(pthread_create(&thread, &attr, render_on_small_stack, &result), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  EXPECT_TRUE(contains(result, "nesting depth limit")) << result;
}

TEST(JinjaSafety, OutputBudgetStopsHugeOutput) {
  EXPECT_TRUE(
      contains(render_error("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}"
                            "{% endfor %}"),
               "output budget"));
  EXPECT_TRUE(contains(render_error("{{ 'x' * 10**9 }}"), "exceeds the output budget"));
  Limits small;
  small.max_output_bytes = 1000;
  EXPECT_EQ(render("{% for i in range(10) %}{{ 'x' * 100 }}{% endfor %}", Json::object(), small).size(), 1000u);
  EXPECT_TRUE(contains(render_error("{% for i in range(11) %}{{ 'x' * 100 }}{% endfor %}", Json::object(), small),
                       "output budget"));
}

TEST(JinjaSafety, MemoryBudgetStopsHoarding) {
  Limits small;
  small.max_memory_bytes = 1 << 20;
  std::string error =
      render_error("{% for i in range(50000) %}{% set x = [i, i, i, i] %}{% endfor %}", Json::object(), small);
  EXPECT_TRUE(contains(error, "memory budget of 1048576 bytes exceeded")) << error;
}

TEST(JinjaSafety, SelfReferencingValuesFailToPrintInsteadOfCrashing) {
  EXPECT_TRUE(contains(render_error("{% set l = [] %}{{ l.append(l) or l }}"), "nested too deeply"));
  EXPECT_TRUE(
      contains(render_error("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns|tojson }}"), "JSON serializable"));
}

TEST(JinjaSafety, DeeplyNestedInputIsRefused) {
  Json deep = Json::array();
  for (int i = 0; i < 1000; ++i) deep = Json::array({deep});
  EXPECT_TRUE(contains(render_error("{{ x }}", Json{{"x", deep}}), "nested deeper than"));
}

TEST(JinjaSafety, RaiseExceptionFailsWithExactlyTheTemplatesMessage) {
  EXPECT_EQ(render_error("a\n{{ raise_exception('Conversation roles must alternate') }}"),
            "chat template: Conversation roles must alternate");
}

TEST(JinjaSafety, StrftimeNowFormatsTheCurrentTime) {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  EXPECT_EQ(render("{{ strftime_now('%Y') }}"), std::to_string(1900 + local.tm_year));
  EXPECT_EQ(render("{{ strftime_now is defined }}"), "True");
}

}  // namespace
}  // namespace tern::jinja
