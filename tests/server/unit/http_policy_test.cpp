// Path normalisation, the API-key check and the Host check: every spelling of a path
// reaches the same route and the same auth decision.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "server/access.h"
#include "server/cors.h"
#include "server/url_path.h"

namespace tern::server {
namespace {

TEST(NormalizePath, EverySpellingOfAPathIsOnePath) {
  for (const char* target :
       {"/v1/models", "//v1/models", "/v1/./models", "/v1/%6dodels", "/v1/%6Dodels", "/v1/models/", "/v1//models",
        "/x/../v1/models", "/v1/models?api_key=abc", "/v1/models#frag", "/../../v1/models", "/v1%2Fmodels"}) {
    EXPECT_EQ(normalize_path(target), "/v1/models") << target;
  }
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path("/.."), "/");
  EXPECT_EQ(normalize_path("/V1/models"), "/V1/models");  // case is kept: not a route, so it needs the key
}

TEST(NormalizePath, RejectsWhatIsNotAPath) {
  for (const char* target : {"", "*", "v1/models", "http://host/v1/models", "/v1/%zz", "/v1/%6", "/v1/%00x"}) {
    EXPECT_EQ(normalize_path(target), std::nullopt) << target;
  }
}

TEST(BearerMatches, OnlyTheExactHeaderMatches) {
  EXPECT_TRUE(bearer_matches("Bearer sk-123", "sk-123"));
  for (const char* header : {"", "Bearer", "Bearer ", "Bearer sk-12", "Bearer sk-1234", "Bearer SK-123",
                             "bearer sk-123", "Bearer  sk-123", "Basic sk-123", "sk-123", "Bearer sk-123 "}) {
    EXPECT_FALSE(bearer_matches(header, "sk-123")) << header;
  }
}

// Battery D1 (CVE-2025-59425): 10 000 tries with a key right in all but its last byte and
// 10 000 with its first byte wrong take the same time. A long key makes any early exit
// (memcmp, operator==) stand out by an order of magnitude; batches are interleaved and
// compared by their medians, so a noisy neighbour shifts both sides alike.
TEST(BearerMatches, D1TimeDoesNotDependOnHowMuchOfTheKeyIsRight) {
  const std::string key(4096, 'k');
  const std::string right_prefix = "Bearer " + key.substr(0, key.size() - 1) + "x";
  const std::string wrong_first = "Bearer x" + key.substr(1);
  constexpr int kBatches = 100, kPerBatch = 100;
  std::vector<double> prefix_ns, first_ns;
  int matches = 0;
  const auto time_batch = [&](const std::string& header) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kPerBatch; ++i) matches += bearer_matches(header, key);
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  };
  for (int b = 0; b < kBatches; ++b) {
    prefix_ns.push_back(time_batch(right_prefix));
    first_ns.push_back(time_batch(wrong_first));
  }
  EXPECT_EQ(matches, 0);
  const auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  const double ratio = median(prefix_ns) / median(first_ns);
  EXPECT_GT(ratio, 0.8) << "prefix-right " << median(prefix_ns) << " ns, first-wrong " << median(first_ns) << " ns";
  EXPECT_LT(ratio, 1.25) << "prefix-right " << median(prefix_ns) << " ns, first-wrong " << median(first_ns) << " ns";
}

TEST(HostCheck, LoopbackBindsServeOnlyLocalHostNames) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("127.evil.example"));
  for (const char* host : {"", "localhost", "LOCALHOST:8000", "127.0.0.1:8000", "127.1.2.3", "[::1]:8000"}) {
    EXPECT_TRUE(host_allowed(host, "127.0.0.1")) << host;
  }
  for (const char* host : {"attacker.example", "attacker.example:8000", "127.0.0.1.evil.example", "[::2]"}) {
    EXPECT_FALSE(host_allowed(host, "127.0.0.1")) << host;
  }
}

TEST(Cors, OnlyAllowlistedOriginsGetHeaders) {
  EXPECT_TRUE(cors_headers({}, "https://a.example").empty());
  EXPECT_TRUE(cors_headers({"https://a.example"}, "https://b.example").empty());
  EXPECT_TRUE(cors_headers({"https://a.example"}, "").empty());
  const HeaderList allowed = cors_headers({"https://a.example"}, "https://a.example");
  ASSERT_EQ(allowed.size(), 2u);
  EXPECT_EQ(allowed[0].second, "https://a.example");
  const HeaderList any = cors_headers({"*"}, "https://b.example");
  ASSERT_EQ(any.size(), 1u);
  EXPECT_EQ(any[0].second, "*");
  EXPECT_FALSE(cors_preflight_headers({"https://a.example"}, "https://a.example").empty());
  EXPECT_TRUE(cors_preflight_headers({"https://a.example"}, "https://b.example").empty());
}

}  // namespace
}  // namespace tern::server
