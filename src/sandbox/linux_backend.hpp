#pragma once

#include <optional>

#include "sandbox/backend.hpp"

namespace agentd::sandbox {

namespace linuxns {
class Cgroup;
}

// Sandboxes in their own user, mount, pid, ipc, uts, net (and cgroup)
// namespaces, built and served by agentd-sandbox-init as PID 1, confined by
// Landlock and seccomp. Probes the kernel once (each feature confirmed by a
// real syscall, never assumed); a sandbox that cannot get a required feature
// is refused, never downgraded, and never falls back to host-direct.
class LinuxBackend final : public Backend {
 public:
  LinuxBackend(boost::asio::io_context& io, std::string workdir_root);
  ~LinuxBackend() override;

  const BackendInfo& info() const override { return info_; }
  std::variant<std::unique_ptr<Sandbox>, CreateError> create(const policy::SandboxSpec& spec,
                                                             const std::string& sandbox_id) override;

 private:
  std::optional<CreateError> check_features(const policy::SandboxSpec& spec) const;
  std::vector<FeatureState> limit_features(const policy::SandboxSpec& spec,
                                           const linuxns::Cgroup* cgroup) const;

  boost::asio::io_context& io_;
  std::string workdir_root_;
  int helper_fd_ = -1;
  BackendInfo info_;
};

// Kernel feature probes, shared with `agentd probe` later.
std::vector<FeatureState> probe_linux_features();

}  // namespace agentd::sandbox
