#include "cli/one_shot.hpp"

#include <signal.h>

#include <chrono>
#include <cstdlib>

#include "policy/environment.hpp"
#include "sandbox/host_direct.hpp"
#include "sandbox/linux_backend.hpp"

namespace agentd::cli {

OneShotSandbox::OneShotSandbox(boost::asio::io_context& io, const CliContext& context)
    : io_(io), context_(context) {
  if (!context_.profiles) context_.profiles = std::make_shared<policy::ProfileSet>();
  host_backend_ = std::make_unique<sandbox::HostDirectBackend>(io_, context_.workdir_root);
  linux_backend_ = std::make_unique<sandbox::LinuxBackend>(io_, context_.workdir_root);
}

OneShotSandbox::~OneShotSandbox() {
  if (sandbox_) sandbox_->destroy(false);
  io_.poll();  // handlers of the closed control channel, if any
}

const sandbox::BackendInfo& OneShotSandbox::backend_info(policy::Isolation isolation) const {
  return (isolation == policy::Isolation::kNone ? host_backend_ : linux_backend_)->info();
}

base::Status OneShotSandbox::create(policy::SandboxSpec spec) {
  const char* home = std::getenv("HOME");
  if (auto refused = policy::apply_profile(*context_.profiles, spec, home ? home : "")) {
    return base::plain_error(refused->field + ": " + refused->message);
  }
  auto& backend = spec.isolation == policy::Isolation::kNone ? host_backend_ : linux_backend_;
  if (!backend->info().available) {
    return base::plain_error(backend->info().name +
                             " backend unavailable: " + backend->info().reason);
  }
  auto created = backend->create(spec, "cli-" + std::to_string(::getpid()));
  if (auto* error = std::get_if<sandbox::CreateError>(&created)) {
    std::string message = error->message;
    if (!error->fix.empty()) message += " (" + error->fix + ")";
    return base::plain_error(message);
  }
  sandbox_ = std::move(std::get<std::unique_ptr<sandbox::Sandbox>>(created));
  limits_ = sandbox::enforced_limits(spec.limits, sandbox_->capabilities());
  return {};
}

exec::ExecOutcome OneShotSandbox::run(std::vector<std::string> argv, const policy::Limits& limits,
                                      const OnOutput& on_output, const OnStart& on_start) {
  auto lowered = policy::lower_limits(limits_, limits);
  if (!lowered) return exec::setup_error_outcome(lowered.error().message());
  exec::LaunchRequest request;
  request.argv = std::move(argv);
  request.env = policy::base_environment(sandbox_->visible_workdir());
  request.limits = *lowered;
  auto launched = sandbox_->launch(request);
  if (auto* failure = std::get_if<exec::LaunchFailure>(&launched)) {
    return exec::setup_error_outcome(failure->message);
  }
  std::optional<exec::ExecOutcome> outcome;
  exec::ExecSession::Callbacks callbacks;
  callbacks.on_output = on_output;
  callbacks.on_exit = [&outcome](const exec::ExecOutcome& o) { outcome = o; };
  exec::ExecSession::Options options{lowered->wall_time_ms, lowered->max_output_bytes,
                                     lowered->cpu_time_ms};
  auto session = exec::ExecSession::start(io_, std::move(std::get<exec::LaunchedChild>(launched)),
                                          options, std::move(callbacks));
  if (on_start) on_start(*session);
  while (!outcome && io_.run_one() > 0) {
  }
  io_.poll();  // the last handlers: cancelled timers, closed pipes
  if (!outcome) return exec::setup_error_outcome("the exec ended without an outcome");
  return *outcome;
}

int shell_exit_status(const exec::ExecOutcome& outcome) {
  switch (outcome.status) {
    case exec::ExecStatus::kExited:
      return outcome.exit_code.value_or(0);
    case exec::ExecStatus::kTimeout:
      return 124;
    case exec::ExecStatus::kSetupError:
      return 125;
    default:
      if (outcome.signal) return 128 + *outcome.signal;
      return outcome.status == exec::ExecStatus::kMemoryLimit ? 128 + SIGKILL : 1;
  }
}

}  // namespace agentd::cli
