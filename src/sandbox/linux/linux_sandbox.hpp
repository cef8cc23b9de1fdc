#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "base/token_bucket.hpp"
#include "sandbox/backend.hpp"
#include "sandbox/linux/control_channel.hpp"
#include "sandbox/linux/init_process.hpp"
#include "sandbox/linux/process_tree.hpp"
#include "sandbox/linux/seccomp_monitor.hpp"

namespace agentd::netproxy {
class ProxyServer;
struct Allowlist;
}  // namespace agentd::netproxy

namespace agentd::sandbox::linuxns {

class Cgroup;

// agentd's side of the control channel to one sandbox init. Shared by the
// sandbox and the children launched in it, which may outlive the sandbox
// object by a few event-loop turns.
class ControlLink : public std::enable_shared_from_this<ControlLink> {
 public:
  ControlLink(boost::asio::io_context& io, base::UniqueFd control);
  void start();  // begins listening for exits

  struct Started {
    pid_t pid;
    std::vector<base::UniqueFd> fds;  // the pty master, for a pty exec
  };
  // Sends an exec request and waits (bounded) for `started` or `execFailed`.
  std::variant<Started, std::string> start_exec(const nlohmann::json& request,
                                                const std::vector<int>& fds);
  // Sends a request and waits (bounded) for the reply whose op is one of
  // `reply_ops` with the request's id; other messages (exits) are handled
  // meanwhile. A string says why there is no reply.
  std::variant<ControlMessage, std::string> call(const nlohmann::json& request,
                                                 const std::vector<int>& fds,
                                                 const std::vector<std::string>& reply_ops);
  // Runs a file operation in the init (op "fs"); paths are absolute inside.
  FileReply file_op(uint64_t id, const FileRequest& request);
  void on_exit(uint64_t id, std::function<void(exec::ExitInfo)> done);
  void kill(pid_t pid, int signal);
  void close();  // the init sees EOF and exits; everything in it dies
  bool closed() const { return closed_; }

 private:
  void wait_readable();
  void handle(const nlohmann::json& body);
  void deliver_exit(uint64_t id, exec::ExitInfo info);
  void fail_all();

  boost::asio::posix::stream_descriptor socket_;
  std::map<uint64_t, std::function<void(exec::ExitInfo)>> exit_handlers_;
  std::map<uint64_t, exec::ExitInfo> early_exits_;
  bool closed_ = false;
};

class LinuxSandbox final : public Sandbox {
 public:
  LinuxSandbox(boost::asio::io_context& io, InitProcess init, std::string host_workdir,
               base::UniqueFd workdir_fd, bool created_workdir, std::vector<FeatureState> caps,
               std::shared_ptr<Cgroup> cgroup);
  ~LinuxSandbox() override;

  const std::string& workdir() const override { return host_workdir_; }
  const std::string& visible_workdir() const override { return visible_workdir_; }
  policy::NetworkMode network() const override { return network_; }
  void set_network(policy::NetworkMode mode) { network_ = mode; }
  const std::vector<FeatureState>& capabilities() const override { return capabilities_; }
  std::variant<exec::LaunchedChild, exec::LaunchFailure> launch(
      const exec::LaunchRequest& request) override;
  bool destroy(bool keep_workdir) override;
  std::optional<std::string> exec_limit_problem(const std::string& wire_name) const override;
  base::Status suspend() override;
  base::Status resume() override;
  std::optional<Usage> usage() const override;
  FileReply file_op(const FileRequest& request) override;
  void on_violation(std::function<void(const Violation&)> handler) override;
  std::map<std::string, DestinationCount> egress() const override;

  // Serves the listener the init made on the sandbox's loopback with an
  // egress proxy applying `rules`; false when the init made none.
  bool start_proxy(std::shared_ptr<const netproxy::Allowlist> rules);

  // Where processes find the proxy: 127.0.0.1:kProxyPort inside.
  static constexpr uint16_t kProxyPort = 3128;

 private:
  std::optional<SandboxView> connecting_process(uint16_t client_port);

  boost::asio::io_context& io_;
  pid_t init_pid_;
  std::shared_ptr<ControlLink> link_;
  std::string host_workdir_;
  std::string visible_workdir_ = "/workspace";
  base::UniqueFd workdir_fd_;
  bool created_workdir_;
  std::vector<FeatureState> capabilities_;
  std::shared_ptr<Cgroup> cgroup_;  // shared with the children: they kill through it
  policy::NetworkMode network_ = policy::NetworkMode::kNone;
  uint64_t next_exec_ = 1;
  bool destroyed_ = false;
  std::shared_ptr<bool> suspended_ = std::make_shared<bool>(false);
  std::shared_ptr<SeccompMonitor> seccomp_monitor_;
  base::UniqueFd proxy_listener_;
  std::shared_ptr<netproxy::ProxyServer> proxy_;
  base::TokenBucket connection_lookups_{20, 20};  // see connecting_process()
  // Shared with the monitor's and proxy's callbacks, which may run late.
  std::shared_ptr<std::function<void(const Violation&)>> violation_handler_ =
      std::make_shared<std::function<void(const Violation&)>>();
};

}  // namespace agentd::sandbox::linuxns
