#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace agentd::netproxy {

// The environment entries ("NAME=value") that point common tools at the proxy listening on
// `host`:`port` inside the sandbox: HTTP_PROXY/HTTPS_PROXY/ALL_PROXY in upper and lower case
// (curl reads only the lower-case http_proxy), ALL_PROXY as socks5h:// so that names are
// resolved by the proxy (which checks them) rather than by the sandbox (which cannot resolve
// anything), and NO_PROXY for the sandbox's own loopback only (nothing else is reachable
// without the proxy anyway: the sandbox's network namespace is empty).
std::vector<std::string> proxy_environment(const std::string& host, uint16_t port);

}  // namespace agentd::netproxy
