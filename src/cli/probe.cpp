// agentd probe: what this machine can enforce, per backend.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <iostream>

#include "api/wire.hpp"
#include "cli/one_shot.hpp"

namespace agentd::cli {

namespace {

void print_backend(const sandbox::BackendInfo& info) {
  std::printf("%s (isolation \"%s\"): %s\n", info.name.c_str(), info.isolation.c_str(),
              info.available ? "available" : ("unavailable: " + info.reason).c_str());
  for (const auto& f : info.features) {
    const std::string& detail = f.mechanism.empty() ? f.reason : f.mechanism;
    std::printf("  %-24s %-13s %s\n", f.name.c_str(), sandbox::state_name(f.state), detail.c_str());
  }
}

}  // namespace

int probe_command(const CliContext& context, bool json) {
  boost::asio::io_context io;
  OneShotSandbox probe(io, context);
  const auto& host = probe.backend_info(policy::Isolation::kNone);
  const auto& linux_info = probe.backend_info(policy::Isolation::kLinux);
  if (json) {
    nlohmann::json out = {
        {"backends", {api::backend_to_json(host), api::backend_to_json(linux_info)}}};
    std::cout << out.dump(2) << std::endl;
    return 0;
  }
  print_backend(host);
  std::printf("\n");
  print_backend(linux_info);
  std::fflush(stdout);
  return 0;
}

}  // namespace agentd::cli
