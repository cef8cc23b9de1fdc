#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "exec/exec_session.hpp"
#include "policy/profiles.hpp"
#include "sandbox/backend.hpp"

namespace agentd::cli {

// What the command line subcommands share: where workdirs go and the
// profiles of the config file.
struct CliContext {
  std::string workdir_root;
  std::shared_ptr<const policy::ProfileSet> profiles;
};

// One sandbox made in-process for `agentd run` and `agentd self-test`:
// the backends as api::Session builds them, the profile applied as
// sandbox/create applies it, execs driven by exec::ExecSession. Destroyed
// with this object.
class OneShotSandbox {
 public:
  using OnOutput = std::function<void(exec::Stream, std::string_view)>;
  using OnStart = std::function<void(exec::ExecSession&)>;

  OneShotSandbox(boost::asio::io_context& io, const CliContext& context);
  ~OneShotSandbox();
  OneShotSandbox(const OneShotSandbox&) = delete;
  OneShotSandbox& operator=(const OneShotSandbox&) = delete;

  const sandbox::BackendInfo& backend_info(policy::Isolation isolation) const;
  // Applies the profile and creates the sandbox; the error says why not.
  base::Status create(policy::SandboxSpec spec);
  // Runs `argv` to its end under the sandbox's limits lowered by `limits`.
  // A launch failure ends as status setupError.
  exec::ExecOutcome run(std::vector<std::string> argv, const policy::Limits& limits,
                        const OnOutput& on_output, const OnStart& on_start = {});
  const sandbox::Sandbox& sandbox() const { return *sandbox_; }
  sandbox::Sandbox& sandbox() { return *sandbox_; }

 private:
  boost::asio::io_context& io_;
  CliContext context_;
  std::unique_ptr<sandbox::Backend> host_backend_;
  std::unique_ptr<sandbox::Backend> linux_backend_;
  std::unique_ptr<sandbox::Sandbox> sandbox_;
  policy::Limits limits_;  // the sandbox's, as enforced
};

// The exit status a shell would give: the code, 128+signal, 124 on timeout,
// 125 when the command never ran.
int shell_exit_status(const exec::ExecOutcome& outcome);

int probe_command(const CliContext& context, bool json);

struct RunOptions {
  std::string isolation = "linux";
  std::string profile;
  std::string network;
  std::vector<std::string> volumes;  // HOSTPATH[:ro|rw]
  std::vector<std::string> allow;    // network allowlist rules (implies the allowlist)
  std::optional<uint64_t> timeout_ms;
  std::vector<std::string> argv;
};
int run_command(const CliContext& context, const RunOptions& options);

int self_test_command(const CliContext& context);

}  // namespace agentd::cli
