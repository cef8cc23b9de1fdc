// agentd run: one command in a fresh sandbox, like bwrap or nsjail.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "base/log.hpp"
#include "cli/one_shot.hpp"
#include "api/violation_log.hpp"
#include "netproxy/allowlist.hpp"
#include "sandbox/janitor.hpp"

namespace agentd::cli {

namespace {

// Writes everything or gives up quietly (a closed reader is the reader's choice).
void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    bytes.remove_prefix(size_t(n));
  }
}

// "HOSTPATH[:ro|rw]" into the spec's read-only or read-write paths.
base::Status add_volume(const std::string& volume, policy::SandboxSpec& spec) {
  std::string path = volume;
  bool read_only = true;
  auto colon = volume.rfind(':');
  if (colon != std::string::npos) {
    std::string mode = volume.substr(colon + 1);
    if (mode != "ro" && mode != "rw") {
      return base::plain_error("-v " + volume + ": expected HOSTPATH, HOSTPATH:ro or HOSTPATH:rw");
    }
    read_only = mode == "ro";
    path = volume.substr(0, colon);
  }
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  if (ec || path.empty()) return base::plain_error("-v " + volume + ": bad path");
  (read_only ? spec.read_only_paths : spec.read_write_paths).push_back(absolute.lexically_normal());
  return {};
}

base::Result<policy::SandboxSpec> spec_from(const RunOptions& options) {
  policy::SandboxSpec spec;
  spec.isolation =
      options.isolation == "none" ? policy::Isolation::kNone : policy::Isolation::kLinux;
  spec.profile = options.profile;
  if (options.network == "none") spec.network = policy::NetworkMode::kNone;
  if (options.network == "host") spec.network = policy::NetworkMode::kHost;
  if (!options.allow.empty()) {
    if (!options.network.empty()) {
      return base::plain_error("--allow and --net " + options.network +
                               " contradict each other: --allow means only those destinations");
    }
    if (auto rules = netproxy::parse_allowlist(options.allow, {}); !rules) {
      return base::plain_error("--allow: " + rules.error().message());
    }
    spec.network = policy::NetworkMode::kAllowlist;
    spec.network_allow = options.allow;
  }
  for (const auto& volume : options.volumes) {
    if (auto added = add_volume(volume, spec); !added) return added.error();
  }
  return spec;
}

// The janitor removes the sandbox if agentd dies; it must not hold the
// command's stdout (a reader would wait for it), so it starts with /dev/null.
void start_janitor() {
  int saved = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (saved < 0 || null < 0) return;
  ::dup2(null, STDOUT_FILENO);
  sandbox::Janitor::start();
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  ::close(null);
}

}  // namespace

int run_command(const CliContext& context, const RunOptions& options) {
  ::signal(SIGPIPE, SIG_IGN);
  if (options.isolation == "none") {
    std::fprintf(stderr,
                 "agentd run: warning: --isolation none runs the command directly on "
                 "the host; host-direct does not isolate anything\n");
  }
  auto spec = spec_from(options);
  if (!spec) {
    std::fprintf(stderr, "agentd run: %s\n", spec.error().message().c_str());
    return 125;
  }
  start_janitor();
  boost::asio::io_context io;
  OneShotSandbox sandbox(io, context);
  if (auto created = sandbox.create(*spec); !created) {
    std::fprintf(stderr, "agentd run: cannot create the sandbox: %s\n",
                 created.error().message().c_str());
    return 125;
  }
  // What the kernel or the proxy refused, for the person at the terminal
  // (rate-limited like sandbox/violation: a loop must not flood it).
  auto refusals = std::make_shared<api::ViolationLog>();
  sandbox.sandbox().on_violation([refusals](const sandbox::Violation& v) {
    if (!refusals->admit(v.kind, api::ViolationLog::Clock::now())) return;
    std::fprintf(stderr, "agentd run: refused (%s): %s\n", v.kind.c_str(), v.detail.c_str());
  });
  policy::Limits limits;
  limits.wall_time_ms = options.timeout_ms;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  auto on_output = [](exec::Stream stream, std::string_view bytes) {
    write_all(stream == exec::Stream::kStdout ? STDOUT_FILENO : STDERR_FILENO, bytes);
  };
  auto on_start = [&signals](exec::ExecSession& session) {
    // Passed on to the command; the sandbox goes when it ends.
    signals.async_wait([&session](boost::system::error_code ec, int sig) {
      if (!ec) session.kill(sig);
    });
  };
  exec::ExecOutcome outcome = sandbox.run(options.argv, limits, on_output, on_start);
  signals.cancel();
  if (outcome.status == exec::ExecStatus::kSetupError) {
    std::fprintf(stderr, "agentd run: %s\n", outcome.reason.c_str());
  } else if (outcome.status != exec::ExecStatus::kExited &&
             outcome.status != exec::ExecStatus::kSignaled) {
    std::fprintf(stderr, "agentd run: %s: %s\n", exec::status_name(outcome.status),
                 outcome.reason.c_str());
  }
  return shell_exit_status(outcome);
}

}  // namespace agentd::cli
