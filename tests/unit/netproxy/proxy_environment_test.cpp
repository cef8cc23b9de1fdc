#include "netproxy/proxy_environment.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace agentd::netproxy {
namespace {

using ::testing::Contains;

TEST(ProxyEnvironment, PointsEveryCommonVariableAtTheProxy) {
  const auto env = proxy_environment("127.0.0.1", 3128);
  EXPECT_THAT(env, Contains("HTTP_PROXY=http://127.0.0.1:3128"));
  EXPECT_THAT(env, Contains("http_proxy=http://127.0.0.1:3128"));
  EXPECT_THAT(env, Contains("HTTPS_PROXY=http://127.0.0.1:3128"));
  EXPECT_THAT(env, Contains("https_proxy=http://127.0.0.1:3128"));
  EXPECT_THAT(env, Contains("ALL_PROXY=socks5h://127.0.0.1:3128"));
  EXPECT_THAT(env, Contains("all_proxy=socks5h://127.0.0.1:3128"));
  EXPECT_THAT(env, Contains("NO_PROXY=localhost,127.0.0.1,::1"));
  EXPECT_THAT(env, Contains("no_proxy=localhost,127.0.0.1,::1"));
}

TEST(ProxyEnvironment, BracketsIpv6) {
  EXPECT_THAT(proxy_environment("::1", 8080), Contains("HTTP_PROXY=http://[::1]:8080"));
}

}  // namespace
}  // namespace agentd::netproxy
