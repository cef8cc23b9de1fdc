// agentd: a sandbox-and-exec service spoken to over JSON-RPC 2.0 on stdio.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "api/audit_log.hpp"
#include "api/session.hpp"
#include "base/log.hpp"
#include "cli/one_shot.hpp"
#include "mcp/detect.hpp"
#include "mcp/mcp_server.hpp"
#include "policy/config.hpp"
#include "rpc/dispatcher.hpp"
#include "rpc/transport.hpp"
#include "sandbox/janitor.hpp"
#include "sandbox/workdir.hpp"

#ifndef AGENTD_VERSION
#define AGENTD_VERSION "0.0.0"
#endif

namespace {

using namespace agentd;

struct Options {
  size_t max_message_bytes = 64u << 20;
  std::string workdir_root = sandbox::default_workdir_root();
  std::string log_level = "info";
  std::string config_path;  // --config; empty: the default path, if it exists
  std::string audit_log_path;
  uint64_t audit_log_max_bytes = api::AuditLog::kDefaultMaxBytes;
  std::shared_ptr<const policy::ProfileSet> profiles;
  std::shared_ptr<api::AuditLog> audit;
  bool mcp = false;  // --mcp: speak MCP from the first message on
};

// A private CLOEXEC descriptor for `fd`: a fresh open file description for
// pipes, sockets and ttys (so making it non-blocking affects nobody else), a
// duplicate for regular files (a reopen would lose the file offset).
int private_fd(int fd, int open_flags) {
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    int fresh = ::open(path.c_str(), open_flags | O_CLOEXEC);
    if (fresh >= 0) return fresh;
  }
  return ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

// Gives the protocol its own descriptors, then points fd 0 at /dev/null and
// fd 1 at stderr: stray prints and children can never touch the protocol.
std::pair<int, int> take_protocol_fds() {
  int in = private_fd(STDIN_FILENO, O_RDONLY);
  int out = private_fd(STDOUT_FILENO, O_WRONLY);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::close(null);
  }
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  return {in, out};
}

// Reads the config file and opens the audit log; false (after saying why on
// stderr) when agentd must not start.
bool load_start_up_files(Options& options) {
  bool given = !options.config_path.empty();
  std::string path = given ? options.config_path : policy::default_config_path();
  if (!path.empty()) {
    auto profiles = policy::load_config(path, /*optional=*/!given);
    if (!profiles) {
      base::log_error("config: " + profiles.error().message());
      return false;
    }
    options.profiles = std::make_shared<const policy::ProfileSet>(std::move(*profiles));
  }
  if (!options.audit_log_path.empty()) {
    auto audit = api::AuditLog::open(options.audit_log_path, options.audit_log_max_bytes);
    if (!audit) {
      base::log_error("audit log: " + audit.error().message());
      return false;
    }
    options.audit = std::move(*audit);
  }
  return true;
}

std::optional<base::LogLevel> parse_level(const std::string& name) {
  if (name == "error") return base::LogLevel::kError;
  if (name == "warn") return base::LogLevel::kWarn;
  if (name == "info") return base::LogLevel::kInfo;
  if (name == "debug") return base::LogLevel::kDebug;
  return std::nullopt;
}

int serve(const Options& options) {
  pid_t parent = ::getppid();
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the spawning process died: clean up and go
  if (::getppid() != parent) return 1;
  ::signal(SIGPIPE, SIG_IGN);
  auto [in_fd, out_fd] = take_protocol_fds();
  if (in_fd < 0 || out_fd < 0) {
    base::log_error(std::string("cannot take over stdin/stdout: ") + std::strerror(errno));
    return 1;
  }
  sandbox::Janitor::start();  // after the protocol fds are private: it must not hold them

  boost::asio::io_context io;
  rpc::Transport transport(io, in_fd, out_fd, options.max_message_bytes);
  auto send_json = [&transport](const nlohmann::json& message) {
    transport.send(message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  rpc::Dispatcher dispatcher(send_json);
  dispatcher.set_raw_sender([&transport](std::string_view body) { transport.send(body); });
  api::ServerOptions server_options;
  server_options.version = AGENTD_VERSION;
  server_options.workdir_root = options.workdir_root;
  server_options.max_message_bytes = options.max_message_bytes;
  server_options.profiles = options.profiles;
  server_options.audit = options.audit;
  server_options.framing = [&transport] { return rpc::framing_name(transport.framing()); };
  server_options.wait_for_room = [&transport](std::function<void()> resume) {
    transport.when_drained(std::move(resume));
  };
  // The first message decides: an MCP initialize on line framing (or --mcp)
  // gets the MCP facade, with its own inner session; anything else agentd's.
  std::optional<api::Session> session;
  std::unique_ptr<mcp::McpServer> mcp_server;
  if (options.mcp) mcp_server = std::make_unique<mcp::McpServer>(io, server_options, send_json);
  auto choose_mode = [&](const std::string& first_body) {
    if (transport.framing() == rpc::Framing::kLine && mcp::is_mcp_initialize(first_body)) {
      mcp_server = std::make_unique<mcp::McpServer>(io, server_options, send_json);
    } else {
      session.emplace(io, dispatcher, server_options);
    }
  };

  std::optional<int> exit_code;
  auto finish = [&](int code, const char* why) {
    if (exit_code) return;
    exit_code = code;
    base::log_info(std::string("exiting: ") + why);
    transport.close_input();
    if (session) session->destroy_everything();
    if (mcp_server) mcp_server->shutdown();
  };
  dispatcher.on_exit([&](int code) { finish(code, "exit notification"); });
  transport.start({
      [&](std::string body) {
        if (!session && !mcp_server) choose_mode(body);
        if (mcp_server) return mcp_server->handle_message(body);
        dispatcher.handle_message(body);
      },
      [&](std::string message) {
        if (mcp_server) return mcp_server->handle_frame_error(message);
        dispatcher.handle_frame_error(message);
      },
      [&] { finish(0, "stdin closed"); },
  });
  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (!ec) finish(128 + sig, strsignal(sig));
  });

  while (!exit_code && io.run_one() > 0) {
  }
  // Let queued replies reach the client, but never hang on a stuck reader.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!transport.idle() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(50));
  }
  return exit_code.value_or(0);
}

CLI::App* add_run_subcommand(CLI::App& app, cli::RunOptions& run) {
  auto* cmd = app.add_subcommand(
      "run", "run one command in a fresh sandbox: agentd run [options] -- cmd args...");
  cmd->add_option("--isolation", run.isolation,
                  "linux (default) or none (host-direct: no isolation at all)")
      ->check(CLI::IsMember({"linux", "none"}));
  cmd->add_option("--profile", run.profile,
                  "strict, default, permissive, workstation or a "
                  "profile of the config file");
  cmd->add_option("--net", run.network, "none or host (default: the profile's)")
      ->check(CLI::IsMember({"none", "host"}));
  cmd->add_option("--allow", run.allow,
                  "only these network destinations, through agentd's proxy: host, *.domain, "
                  "IP or CIDR, each with an optional :port; repeatable");
  cmd->add_option("-v,--volume", run.volumes,
                  "HOSTPATH[:ro|rw], visible at the same path "
                  "(default ro); repeatable");
  cmd->add_option("--timeout-ms", run.timeout_ms, "kill the command after N ms (exit 124)");
  cmd->prefix_command()->allow_extras();  // everything from the command on is its own
  return cmd;
}

// "agentd run [options] -- cmd args...": what follows "--" is the command,
// untouched by CLI11. Returns how many arguments CLI11 gets.
int take_run_command(int argc, char** argv, cli::RunOptions& run) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) != "run") continue;
    for (int j = i + 1; j < argc; ++j) {
      if (std::string_view(argv[j]) != "--") continue;
      run.argv.assign(argv + j + 1, argv + argc);
      return j;
    }
    break;
  }
  return argc;
}

int run_subcommand(const cli::CliContext& context, CLI::App& cmd, cli::RunOptions& run) {
  if (run.argv.empty()) {
    run.argv = cmd.remaining();  // no "--": prefix_command's rest
  } else if (!cmd.remaining().empty()) {
    std::fprintf(stderr, "agentd run: unknown option or argument before --: %s\n",
                 cmd.remaining().front().c_str());
    return 125;
  }
  if (run.argv.empty()) {
    std::fprintf(stderr, "agentd run: no command given (agentd run [options] -- cmd args...)\n");
    return 125;
  }
  return cli::run_command(context, run);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"agentd: sandboxes and command execution for AI agents, over JSON-RPC 2.0 on stdio"};
  Options options;
  app.set_version_flag("--version", std::string("agentd ") + AGENTD_VERSION);
  app.add_option("--max-message-bytes", options.max_message_bytes,
                 "largest accepted JSON-RPC message")
      ->check(CLI::Range(size_t(1024), size_t(1) << 32));
  app.add_option("--workdir-root", options.workdir_root,
                 "where host-direct sandboxes get their workdirs");
  app.add_option("--log-level", options.log_level, "error, warn, info or debug (stderr)")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  app.add_option("--config", options.config_path,
                 "TOML config file (profiles, default limits, protected paths); default "
                 "$XDG_CONFIG_HOME/agentd/config.toml when it exists");
  app.add_option("--audit-log", options.audit_log_path,
                 "append a JSON Lines audit record per sandbox, exec and refused request");
  app.add_option("--audit-log-max-bytes", options.audit_log_max_bytes,
                 "rotate the audit log at this size, keeping PATH.1 to PATH.3")
      ->check(CLI::Range(uint64_t(1024), uint64_t(1) << 40));
  app.add_flag("--mcp", options.mcp,
               "serve MCP (Model Context Protocol) tools over stdio; without it an MCP "
               "initialize as the first message also selects MCP (docs/mcp.md)");
  cli::RunOptions run;
  auto* probe_cmd = app.add_subcommand("probe", "print what this machine can enforce, per backend");
  bool probe_json = false;
  probe_cmd->add_flag("--json", probe_json, "print it as JSON (the backends of initialize)");
  auto* run_cmd = add_run_subcommand(app, run);
  auto* self_test_cmd = app.add_subcommand(
      "self-test", "run a short attack set in a linux sandbox; exit 0 when every attack is held");
  app.require_subcommand(0, 1);
  int parsed_argc = take_run_command(argc, argv, run);
  CLI11_PARSE(app, parsed_argc, argv);
  bool log_level_given = app.count("--log-level") > 0;
  base::set_log_level(*parse_level(options.log_level));
  if (!load_start_up_files(options)) return 2;
  if (app.got_subcommand(probe_cmd) || app.got_subcommand(run_cmd) ||
      app.got_subcommand(self_test_cmd)) {
    // Logs on stderr stay quiet unless asked for: the command's output is the point.
    if (!log_level_given) base::set_log_level(base::LogLevel::kWarn);
    cli::CliContext context{options.workdir_root, options.profiles};
    if (app.got_subcommand(probe_cmd)) return cli::probe_command(context, probe_json);
    if (app.got_subcommand(self_test_cmd)) return cli::self_test_command(context);
    return run_subcommand(context, *run_cmd, run);
  }
  return serve(options);
}
