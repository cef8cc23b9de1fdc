#pragma once

#include "sandbox/backend.hpp"

namespace agentd::sandbox {

// Probes what this kernel offers for isolation (each feature confirmed by a
// real syscall, never assumed). The namespaces-and-helper backend that uses
// them is not built yet: create() fails with isolationUnavailable, and never
// falls back to host-direct.
class LinuxBackend final : public Backend {
 public:
  LinuxBackend();

  const BackendInfo& info() const override { return info_; }
  std::variant<std::unique_ptr<Sandbox>, CreateError> create(const policy::SandboxSpec& spec,
                                                             const std::string& sandbox_id) override;

 private:
  BackendInfo info_;
};

// Kernel feature probes, shared with `agentd probe` later.
std::vector<FeatureState> probe_linux_features();

}  // namespace agentd::sandbox
