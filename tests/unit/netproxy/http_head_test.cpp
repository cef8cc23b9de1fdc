#include "netproxy/http_head.hpp"

#include <gtest/gtest.h>

namespace agentd::netproxy {
namespace {

using Status = HeadParse::Status;

TEST(HttpHead, ParsesACompleteHeadAndSaysWhereItEnds) {
  const std::string bytes =
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX-A:  v \r\n\r\nTLS";
  const HeadParse parsed = parse_request_head(bytes, 16384);
  ASSERT_EQ(parsed.status, Status::kComplete) << parsed.error;
  EXPECT_EQ(parsed.head_size, bytes.size() - 3);
  EXPECT_EQ(parsed.head.method, "CONNECT");
  EXPECT_EQ(parsed.head.target, "example.com:443");
  EXPECT_EQ(parsed.head.version, "HTTP/1.1");
  ASSERT_EQ(parsed.head.headers.size(), 2u);
  EXPECT_EQ(parsed.head.headers[1].name, "X-A");
  EXPECT_EQ(parsed.head.headers[1].value, "v");
}

TEST(HttpHead, IncompleteUntilTheBlankLine) {
  EXPECT_EQ(parse_request_head("GET http://a/ HTTP/1.1\r\nHost: a\r\n", 16384).status,
            Status::kIncomplete);
  EXPECT_EQ(parse_request_head("G", 16384).status, Status::kIncomplete);
}

TEST(HttpHead, CapsTheHeadSize) {
  const std::string big = "GET http://a/ HTTP/1.1\r\nX: " + std::string(200, 'x');
  EXPECT_EQ(parse_request_head(big, 100).status, Status::kTooLarge);
  EXPECT_EQ(parse_request_head(big + "\r\n\r\n", 100).status, Status::kTooLarge);
  EXPECT_EQ(parse_request_head(big + "\r\n\r\n", 1000).status, Status::kComplete);
}

TEST(HttpHead, RejectsMalformedHeads) {
  std::vector<std::string> bad = {
      "garbage\r\n\r\n",
      "GET http://a/ HTTP/2.0\r\n\r\n",
      "GET  http://a/ HTTP/1.1\r\n\r\n",
      "GET http://a/ HTTP/1.1\r\nNoColon\r\n\r\n",
      "GET http://a/ HTTP/1.1\r\nBad Name: x\r\n\r\n",
      "GET http://a/ HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
      "GET http://a/ HTTP/1.1\r\nX: a\nY: b\r\n\r\n",
      "G(T http://a/ HTTP/1.1\r\n\r\n",
  };
  std::string with_nul = "GET http://a/ HTTP/1.1\r\nX: a";
  with_nul += '\0';
  with_nul += "b\r\n\r\n";
  bad.push_back(with_nul);
  for (const std::string& head : bad) {
    const HeadParse parsed = parse_request_head(head, 16384);
    EXPECT_EQ(parsed.status, Status::kBad) << head;
    EXPECT_FALSE(parsed.error.empty()) << head;
  }
}

TEST(HttpHead, Authorities) {
  auto a = parse_authority("Example.com:443", std::nullopt);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, 443);
  auto v6 = parse_authority("[::1]:8080", std::nullopt);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  auto defaulted = parse_authority("example.com", uint16_t{80});
  ASSERT_TRUE(defaulted.ok());
  EXPECT_EQ(defaulted->port, 80);
  EXPECT_FALSE(parse_authority("example.com", std::nullopt).ok());
  EXPECT_FALSE(parse_authority("example.com:0", std::nullopt).ok());
  EXPECT_FALSE(parse_authority("example.com:99999", std::nullopt).ok());
  EXPECT_FALSE(parse_authority("::1:80", std::nullopt).ok());
  EXPECT_FALSE(parse_authority("bad_host!:80", std::nullopt).ok());
  EXPECT_EQ(format_destination("::1", 80), "[::1]:80");
  EXPECT_EQ(format_destination("example.com", 443), "example.com:443");
}

TEST(HttpHead, AbsoluteTargets) {
  auto t = parse_absolute_http_target("HTTP://Example.com:8080/a/b?c=d#frag");
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ(t->authority.host, "example.com");
  EXPECT_EQ(t->authority.port, 8080);
  EXPECT_EQ(t->origin_form, "/a/b?c=d");
  auto bare = parse_absolute_http_target("http://example.com?q");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->authority.port, 80);
  EXPECT_EQ(bare->origin_form, "/?q");
  EXPECT_FALSE(parse_absolute_http_target("/origin/form").ok());
  EXPECT_FALSE(parse_absolute_http_target("https://example.com/").ok());
  EXPECT_FALSE(parse_absolute_http_target("http://user:pw@example.com/").ok());
}

TEST(HttpHead, ForwardHeadDropsProxyAndHopByHopHeaders) {
  const HeadParse parsed = parse_request_head(
      "POST http://example.com/up HTTP/1.1\r\nHost: evil.internal\r\n"
      "Proxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\n"
      "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\n"
      "Content-Length: 3\r\nX-End: yes\r\n\r\n",
      16384);
  ASSERT_EQ(parsed.status, Status::kComplete) << parsed.error;
  auto target = parse_absolute_http_target(parsed.head.target);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(build_forward_head(parsed.head, *target),
            "POST /up HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\nX-End: yes\r\n"
            "Connection: close\r\n\r\n");
}

TEST(HttpHead, ErrorResponseIsComplete) {
  const std::string response = http_error_response(403, "Forbidden", "no");
  EXPECT_EQ(response,
            "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 3\r\nConnection: close\r\n\r\nno\n");
}

}  // namespace
}  // namespace agentd::netproxy
