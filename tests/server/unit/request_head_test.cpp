// The request-head rules checked before a body is read (RFC 9112 §3.2, §6.1, §6.3;
// battery A5 and A6 send the same heads over a socket).
#include "server/request_head.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

namespace tern::server {
namespace {

namespace http = boost::beast::http;

http::fields head(std::initializer_list<std::pair<http::field, const char*>> list) {
  http::fields fields;
  for (const auto& [name, value] : list) fields.insert(name, value);
  return fields;
}

constexpr auto kHost = http::field::host;
constexpr auto kTe = http::field::transfer_encoding;

TEST(RequestHead, OnlyChunkedAloneOnHttp11IsAcceptedAsTransferEncoding) {
  for (const char* te : {"chunked", "Chunked", "CHUNKED", " chunked ", "chunked,", ", chunked"}) {
    EXPECT_EQ(check_request_head(head({{kHost, "localhost"}, {kTe, te}}), 11), std::nullopt) << te;
  }
  for (const char* te : {"xchunked", "chunked, identity", "identity", "gzip, chunked", "chunked, chunked", "",
                         "chunked;q=1", "deflate"}) {
    const auto bad = check_request_head(head({{kHost, "localhost"}, {kTe, te}}), 11);
    ASSERT_TRUE(bad.has_value()) << te;
    EXPECT_EQ(http_status(bad->kind()), 400u);
    EXPECT_NE(bad->message().find("Transfer-Encoding"), std::string::npos);
  }
  // Two fields are one list: "chunked, identity" again.
  EXPECT_TRUE(check_request_head(head({{kHost, "localhost"}, {kTe, "chunked"}, {kTe, "identity"}}), 11));
  EXPECT_TRUE(check_request_head(head({{kHost, "localhost"}, {kTe, "identity"}, {kTe, "chunked"}}), 11));
}

TEST(RequestHead, Http10MayNotUseTransferEncodingAtAll) {
  EXPECT_TRUE(check_request_head(head({{kTe, "chunked"}}), 10));
  EXPECT_EQ(check_request_head(head({}), 10), std::nullopt);
}

TEST(RequestHead, Http11NeedsExactlyOneNonEmptyHost) {
  EXPECT_EQ(check_request_head(head({{kHost, "127.0.0.1:8000"}}), 11), std::nullopt);
  EXPECT_TRUE(check_request_head(head({}), 11));
  EXPECT_TRUE(check_request_head(head({{kHost, ""}}), 11));
  EXPECT_TRUE(check_request_head(head({{kHost, "  "}}), 11));
  EXPECT_TRUE(check_request_head(head({{kHost, "localhost"}, {kHost, "localhost"}}), 11));
  // HTTP/1.0 may leave Host out, but not send two.
  EXPECT_EQ(check_request_head(head({}), 10), std::nullopt);
  EXPECT_TRUE(check_request_head(head({{kHost, "a"}, {kHost, "b"}}), 10));
}

}  // namespace
}  // namespace tern::server
