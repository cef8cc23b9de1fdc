#pragma once

#include "sandbox/backend.hpp"

namespace agentd::sandbox {

// The no-isolation backend: processes run on the host as agentd's user, in a
// private workdir, with process-group tracking, rlimits and time/output
// limits. Selected only by an explicit `isolation: "none"`.
class HostDirectBackend final : public Backend {
 public:
  HostDirectBackend(boost::asio::io_context& io, std::string workdir_root);

  const BackendInfo& info() const override { return info_; }
  std::variant<std::unique_ptr<Sandbox>, CreateError> create(
      const policy::SandboxSpec& spec, const std::string& sandbox_id) override;

 private:
  boost::asio::io_context& io_;
  std::string workdir_root_;
  BackendInfo info_;
};


}  // namespace agentd::sandbox
