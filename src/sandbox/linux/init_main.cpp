// agentd-sandbox-init: PID 1 of a linux sandbox. agentd starts it inside
// fresh namespaces with the control channel on fd 3; it builds the sandbox
// from the plan agentd sends, reports what the kernel confirmed, then serves
// exec requests until agentd closes the channel.
#include <unistd.h>

#include "sandbox/linux/control_channel.hpp"
#include "sandbox/linux/init_server.hpp"
#include "sandbox/linux/init_setup.hpp"

namespace {

using agentd::sandbox::linuxns::ConfirmedFeature;
using agentd::sandbox::linuxns::SetupFailure;
using nlohmann::json;

constexpr int kControlFd = 3;

int report_failure(const SetupFailure& failure) {
  agentd::sandbox::linuxns::send_control(
      kControlFd, {{"op", "setupError"},
                   {"step", failure.step},
                   {"errno", failure.error},
                   {"message", failure.message}});
  return 1;
}

}  // namespace

int main() {
  namespace lx = agentd::sandbox::linuxns;
  auto first = lx::receive_control(kControlFd);
  if (!first || !first->has_value()) return 1;
  auto setup = lx::setup_from_json((*first)->body.value("setup", json::object()));
  if (!setup) return report_failure({"reading the setup", 0, setup.error().message()});
  auto result = lx::build_sandbox(*setup);
  if (auto* failure = std::get_if<SetupFailure>(&result)) return report_failure(*failure);
  auto& built = std::get<lx::BuiltSandbox>(result);
  json features = json::array();
  for (const ConfirmedFeature& f : built.confirmed) {
    features.push_back({{"name", f.name}, {"mechanism", f.mechanism}});
  }
  // Which descriptor is which travels by name; the init keeps no copy, so no
  // command it forks can ever answer its own seccomp notifications.
  json fd_names = json::array();
  std::vector<int> fds;
  for (auto [name, fd] : {std::pair{"seccompListener", &built.seccomp_listener},
                          std::pair{"proxyListener", &built.proxy_listener}}) {
    if (!*fd) continue;
    fd_names.push_back(name);
    fds.push_back(fd->get());
  }
  json ready = {{"op", "ready"}, {"features", features}, {"fds", fd_names}};
  if (!lx::send_control(kControlFd, ready, fds)) return 1;
  built.seccomp_listener.reset();
  built.proxy_listener.reset();
  return lx::serve_execs(kControlFd);
}
