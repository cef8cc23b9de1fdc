#include "netproxy/proxy_environment.hpp"

namespace agentd::netproxy {

std::vector<std::string> proxy_environment(const std::string& host, uint16_t port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  const std::string authority = (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  const std::string http_url = "http://" + authority;
  const std::string socks_url = "socks5h://" + authority;
  return {
      "HTTP_PROXY=" + http_url,
      "http_proxy=" + http_url,
      "HTTPS_PROXY=" + http_url,
      "https_proxy=" + http_url,
      "ALL_PROXY=" + socks_url,
      "all_proxy=" + socks_url,
      // The sandbox's own loopback is its own (its servers, its tests); through
      // the proxy "localhost" would mean the host's, which it refuses.
      "NO_PROXY=localhost,127.0.0.1,::1",
      "no_proxy=localhost,127.0.0.1,::1",
  };
}

}  // namespace agentd::netproxy
