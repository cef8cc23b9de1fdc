#include "sandbox/linux/linux_sandbox.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <tuple>

#include "base/log.hpp"
#include "netproxy/proxy_environment.hpp"
#include "netproxy/proxy_server.hpp"
#include "sandbox/linux/cgroup.hpp"
#include "sandbox/linux/file_channel.hpp"
#include "sandbox/linux/process_tree.hpp"
#include "sandbox/path_beneath.hpp"
#include "sandbox/workdir.hpp"

namespace agentd::sandbox::linuxns {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

constexpr int kStartTimeoutMs = 10000;

exec::ExitInfo exit_info_from(const json& body) {
  exec::ExitInfo info;
  info.signaled = body.value("signaled", false);
  info.exit_code = body.value("code", 0);
  info.signal = body.value("signal", 0);
  info.usage = exec::Usage{body.value("userMs", uint64_t(0)), body.value("systemMs", uint64_t(0)),
                           body.value("maxRssBytes", uint64_t(0))};
  return info;
}

// A process started by the sandbox init; its exit comes over the link.
// With the whole sandbox frozen nothing can fork or exit, so the exec's tree
// (its leader and every descendant, setsid'd ones included: the leader is
// their subreaper) is read from the host's /proc at leisure and SIGKILLed;
// it dies on thaw. Even a process that forks a successor and exits in a tight
// loop cannot outrun this. False when it cannot be done (no freezer, the
// sandbox is suspended by its owner, the leader is gone).
bool kill_frozen_tree(Cgroup& cgroup, pid_t inside_leader) {
  if (!cgroup.has_freezer()) return false;
  if (!cgroup.freeze()) {
    (void)cgroup.thaw();  // a freeze that timed out may still complete: undo it
    return false;
  }
  pid_t leader = 0;
  for (pid_t host_pid : cgroup.processes()) {
    if (innermost_pid(host_pid) == inside_leader) leader = host_pid;
  }
  if (leader > 0) {
    for (pid_t pid : descendants_of(leader)) ::kill(pid, SIGKILL);
    ::kill(leader, SIGKILL);
  }
  (void)cgroup.thaw();
  return leader > 0;
}

// `oom_kills` reads the sandbox cgroup's OOM counter (empty without one):
// an exec killed while it rose ends with status memoryLimit. SIGKILLs go
// through the frozen cgroup when there is one, else through the init.
class LinuxChild final : public exec::Child {
 public:
  LinuxChild(std::shared_ptr<ControlLink> link, uint64_t id, pid_t pid,
             std::weak_ptr<Cgroup> cgroup, std::shared_ptr<bool> suspended)
      : link_(std::move(link)), id_(id), pid_(pid), cgroup_(std::move(cgroup)),
        suspended_(std::move(suspended)) {
    if (auto cgroup = cgroup_.lock()) oom_before_ = cgroup->usage().oom_kills;
  }
  int pid() const override { return pid_; }
  void on_exit(std::function<void(exec::ExitInfo)> done) override {
    link_->on_exit(id_, [this, done = std::move(done)](exec::ExitInfo info) {
      auto cgroup = cgroup_.lock();
      if (cgroup && info.signaled) info.memory_limit_hit = cgroup->usage().oom_kills > oom_before_;
      done(info);
    });
  }
  void signal_group(int signal) override {
    auto cgroup = cgroup_.lock();
    if (signal == SIGKILL && cgroup && !*suspended_ && kill_frozen_tree(*cgroup, pid_)) return;
    link_->kill(pid_, signal);
  }

 private:
  std::shared_ptr<ControlLink> link_;
  uint64_t id_;
  pid_t pid_;
  std::weak_ptr<Cgroup> cgroup_;
  std::shared_ptr<bool> suspended_;
  uint64_t oom_before_ = 0;
};

json rlimits_for(const policy::Limits& limits) {
  json out = json::array({json::array({RLIMIT_CORE, 0, 0})});
  if (limits.cpu_time_ms) {
    uint64_t seconds = std::max<uint64_t>(1, (*limits.cpu_time_ms + 999) / 1000);
    out.push_back({RLIMIT_CPU, seconds, seconds + 1});
  }
  if (limits.max_open_files) out.push_back({RLIMIT_NOFILE, *limits.max_open_files, *limits.max_open_files});
  if (limits.max_file_size_bytes) {
    out.push_back({RLIMIT_FSIZE, *limits.max_file_size_bytes, *limits.max_file_size_bytes});
  }
  return out;
}

std::optional<base::Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  return base::Pipe{base::UniqueFd(fds[0]), base::UniqueFd(fds[1])};
}

}  // namespace

ControlLink::ControlLink(asio::io_context& io, base::UniqueFd control) : socket_(io, control.release()) {}

void ControlLink::wait_readable() {
  if (closed_) return;
  auto self = shared_from_this();
  socket_.async_wait(asio::posix::stream_descriptor::wait_read, [self](boost::system::error_code ec) {
    if (ec || self->closed_) return;
    auto message = receive_control(self->socket_.native_handle(), /*dont_wait=*/true);
    if (!message && message.error().code.value() == EAGAIN) return self->wait_readable();
    if (!message || !message->has_value()) {
      base::log_warn("sandbox init closed its control channel");
      return self->fail_all();
    }
    self->handle((*message)->body);
    self->wait_readable();
  });
}

void ControlLink::handle(const json& body) {
  if (body.value("op", "") == "exit") deliver_exit(body.value("id", uint64_t(0)), exit_info_from(body));
}

void ControlLink::deliver_exit(uint64_t id, exec::ExitInfo info) {
  auto it = exit_handlers_.find(id);
  if (it == exit_handlers_.end()) {
    early_exits_[id] = info;
    return;
  }
  auto done = std::move(it->second);
  exit_handlers_.erase(it);
  done(info);
}

// The init is gone, and with it every process of the sandbox.
void ControlLink::fail_all() {
  closed_ = true;
  auto handlers = std::move(exit_handlers_);
  exit_handlers_.clear();
  exec::ExitInfo killed;
  killed.signaled = true;
  killed.signal = SIGKILL;
  for (auto& [id, done] : handlers) done(killed);
}

void ControlLink::on_exit(uint64_t id, std::function<void(exec::ExitInfo)> done) {
  if (auto early = early_exits_.find(id); early != early_exits_.end()) {
    exec::ExitInfo info = early->second;
    early_exits_.erase(early);
    asio::post(socket_.get_executor(), [done = std::move(done), info] { done(info); });
    return;
  }
  exit_handlers_[id] = std::move(done);
  if (closed_) fail_all();
}

void ControlLink::start() { wait_readable(); }

std::variant<ControlMessage, std::string> ControlLink::call(
    const json& request, const std::vector<int>& fds, const std::vector<std::string>& reply_ops) {
  if (closed_) return std::string("the sandbox init is gone (sandbox destroyed or crashed)");
  int fd = socket_.native_handle();
  if (auto sent = send_control(fd, request, fds); !sent) return sent.error().message();
  uint64_t id = request.value("id", uint64_t(0));
  while (true) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, kStartTimeoutMs);
    if (ready <= 0) return std::string("the sandbox init did not answer within 10 s (suspended?)");
    auto message = receive_control(fd, /*dont_wait=*/true);
    if (!message && message.error().code.value() == EAGAIN) continue;
    if (!message || !message->has_value()) {
      fail_all();
      return std::string("the sandbox init exited");
    }
    const json& body = (*message)->body;
    std::string op = body.value("op", "");
    if (std::find(reply_ops.begin(), reply_ops.end(), op) != reply_ops.end() &&
        body.value("id", uint64_t(0)) == id) {
      return std::move(**message);
    }
    handle(body);  // an exit of an exec, arriving meanwhile
  }
}

std::variant<ControlLink::Started, std::string> ControlLink::start_exec(
    const json& request, const std::vector<int>& fds) {
  auto reply = call(request, fds, {"started", "execFailed"});
  if (auto* failure = std::get_if<std::string>(&reply)) return *failure;
  auto& message = std::get<ControlMessage>(reply);
  if (message.body.value("op", "") == "execFailed") {
    return message.body.value("message", std::string("exec failed"));
  }
  return Started{pid_t(message.body.value("pid", 0)), std::move(message.fds)};
}

// The request and the reply travel in memfds (see file_channel.hpp).
FileReply ControlLink::file_op(uint64_t id, const FileRequest& request) {
  auto failure = [](const std::string& message) {
    FileReply reply;
    reply.error = FileError{FileError::Kind::kSystem, EIO, "sandboxId", message};
    return reply;
  };
  auto memfd = json_to_memfd(file_request_to_json(request));
  if (!memfd) return failure(memfd.error().message());
  auto reply = call({{"op", "fs"}, {"id", id}}, {memfd->get()}, {"fsResult"});
  if (auto* error = std::get_if<std::string>(&reply)) return failure(*error);
  auto& message = std::get<ControlMessage>(reply);
  if (message.fds.size() != 1) {
    return failure(message.body.value("message", std::string("the init sent no reply file")));
  }
  auto body = json_from_memfd(message.fds[0].get());
  if (!body) return failure("reply of the sandbox init: " + body.error().message());
  try {
    return file_reply_from_json(*body);
  } catch (const json::exception& e) {
    return failure(std::string("malformed reply of the sandbox init: ") + e.what());
  }
}

void ControlLink::kill(pid_t pid, int signal) {
  if (!closed_) (void)send_control(socket_.native_handle(), {{"op", "kill"}, {"pid", pid}, {"signal", signal}});
}

void ControlLink::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
}

LinuxSandbox::LinuxSandbox(asio::io_context& io, InitProcess init, std::string host_workdir,
                           base::UniqueFd workdir_fd, bool created_workdir,
                           std::vector<FeatureState> caps, std::shared_ptr<Cgroup> cgroup)
    : io_(io),
      init_pid_(init.pid),
      link_(std::make_shared<ControlLink>(io, std::move(init.control))),
      host_workdir_(std::move(host_workdir)),
      workdir_fd_(std::move(workdir_fd)),
      created_workdir_(created_workdir),
      capabilities_(std::move(caps)),
      cgroup_(std::move(cgroup)),
      proxy_listener_(std::move(init.proxy_listener)) {
  link_->start();
  if (init.seccomp_listener) {
    seccomp_monitor_ = std::make_shared<SeccompMonitor>(io, std::move(init.seccomp_listener), init_pid_);
    seccomp_monitor_->set_handler([handler = violation_handler_](const Violation& v) {
      if (*handler) (*handler)(v);
    });
    seccomp_monitor_->start();
  }
  if (seccomp_monitor_ && !seccomp_monitor_->running()) {
    // Reported only while agentd really answers the listener.
    seccomp_monitor_.reset();
    for (auto& f : capabilities_) {
      if (f.name == "violationReports.syscall") {
        f = unavailable(f.name, "agentd could not set up its seccomp listener (see its log)");
      }
    }
  }
}

LinuxSandbox::~LinuxSandbox() { destroy(true); }

void LinuxSandbox::on_violation(std::function<void(const Violation&)> handler) {
  *violation_handler_ = std::move(handler);
}

bool LinuxSandbox::start_proxy(std::shared_ptr<const netproxy::Allowlist> rules) {
  if (!proxy_listener_) return false;
  netproxy::ProxyServer::Callbacks callbacks;
  // Never called after proxy_->stop(), which destroy() does first.
  callbacks.on_decision = [this](const netproxy::ConnectionEvent& event) {
    if (event.allowed || !*violation_handler_) return;
    Violation v;
    v.kind = "network";
    v.detail = event.destination + " refused: " + event.reason;
    if (auto view = connecting_process(event.client_port)) {
      v.pid = view->pid;
      v.ancestry = std::move(view->ancestry);
    }
    (*violation_handler_)(v);
  };
  proxy_ = std::make_shared<netproxy::ProxyServer>(io_, std::move(rules), std::move(callbacks));
  if (auto served = proxy_->serve(proxy_listener_.release()); !served) {
    base::log_error("egress proxy: " + served.error().message());
    return false;
  }
  return true;
}

// The process behind a proxy connection from `client_port`: the socket's
// inode from the sandbox's /proc/net/tcp, then the process holding it.
// Rate-bounded: a sandbox opening connections in a loop must not make agentd
// walk /proc without end (its refusals are still reported, pid-less).
std::optional<SandboxView> LinuxSandbox::connecting_process(uint16_t client_port) {
  if (client_port == 0 || !connection_lookups_.admit(base::TokenBucket::Clock::now())) {
    return std::nullopt;
  }
  std::vector<pid_t> candidates = cgroup_ ? cgroup_->processes() : descendants_of(init_pid_);
  pid_t owner = tcp_socket_owner(init_pid_, candidates, client_port, kProxyPort);
  if (owner <= 0) return std::nullopt;
  return sandbox_view(owner, init_pid_);
}

std::map<std::string, Sandbox::DestinationCount> LinuxSandbox::egress() const {
  std::map<std::string, DestinationCount> out;
  if (!proxy_) return out;
  for (const auto& [destination, stats] : proxy_->stats().destinations) {
    out[destination] = {stats.allowed, stats.refused, stats.bytes_up, stats.bytes_down};
  }
  return out;
}

std::variant<exec::LaunchedChild, exec::LaunchFailure> LinuxSandbox::launch(
    const exec::LaunchRequest& request) {
  auto relative = relative_to_root(visible_workdir_, request.cwd.value_or("."));
  if (!relative) return exec::LaunchFailure{"cwd", relative.error().message()};
  auto cwd = open_beneath(workdir_fd_.get(), *relative, O_PATH | O_DIRECTORY);
  if (!cwd) return exec::LaunchFailure{"cwd", cwd.error().message()};

  json env = json::array();
  for (const auto& [name, value] : request.env) env.push_back(name + "=" + value);
  if (proxy_) {
    // Tools find the allowlist proxy the usual way; a caller's own value wins.
    for (const auto& entry : netproxy::proxy_environment("127.0.0.1", kProxyPort)) {
      if (!request.env.count(entry.substr(0, entry.find('=')))) env.push_back(entry);
    }
  }
  uint64_t id = next_exec_++;
  json message = {{"op", "exec"},
                  {"id", id},
                  {"argv", request.argv},
                  {"env", env},
                  {"cwd", *relative == "." ? visible_workdir_ : visible_workdir_ + "/" + *relative},
                  {"rlimits", rlimits_for(request.limits)}};
  exec::LaunchedChild launched;
  std::vector<int> child_fds;
  base::UniqueFd child_ends[3];
  if (request.pty) {
    // The init makes the pty inside the sandbox's own devpts and sends the master.
    message["pty"] = {{"cols", request.pty->cols}, {"rows", request.pty->rows}};
  } else {
    auto out = make_pipe(), err = make_pipe();
    auto in = request.stdin_pipe ? make_pipe() : std::nullopt;
    if (!out || !err || (request.stdin_pipe && !in)) {
      return exec::LaunchFailure{"", std::string("pipe2: ") + std::strerror(errno)};
    }
    child_ends[0] = in ? std::move(in->read_end) : base::UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    child_ends[1] = std::move(out->write_end);
    child_ends[2] = std::move(err->write_end);
    if (in) launched.stdin_writer = std::move(in->write_end);
    launched.stdout_reader = std::move(out->read_end);
    launched.stderr_reader = std::move(err->read_end);
    for (auto& fd : child_ends) child_fds.push_back(fd.get());
  }
  auto started = link_->start_exec(message, child_fds);
  if (auto* failure = std::get_if<std::string>(&started)) return exec::LaunchFailure{"", *failure};
  auto& exec_started = std::get<ControlLink::Started>(started);
  if (request.pty) {
    if (exec_started.fds.empty()) return exec::LaunchFailure{"", "the init sent no pty master"};
    int master = exec_started.fds[0].get();
    launched.stdout_reader.reset(::fcntl(master, F_DUPFD_CLOEXEC, 3));
    launched.stdin_writer.reset(::fcntl(master, F_DUPFD_CLOEXEC, 3));
    launched.pty_master = std::move(exec_started.fds[0]);
  }
  launched.child = std::make_unique<LinuxChild>(link_, id, exec_started.pid, cgroup_, suspended_);
  return launched;
}

// memory, pids and cpu come from the sandbox's cgroup: they bound the whole
// sandbox, not one exec.
std::optional<std::string> LinuxSandbox::exec_limit_problem(const std::string& wire_name) const {
  if (wire_name == "memoryBytes" || wire_name == "maxProcesses" || wire_name == "cpuMillicores") {
    return "applies to the whole sandbox (its cgroup); set it in sandbox/create";
  }
  return Sandbox::exec_limit_problem(wire_name);
}

base::Status LinuxSandbox::suspend() {
  if (!cgroup_) return base::plain_error("this sandbox has no cgroup, so no freezer");
  auto frozen = cgroup_->freeze();
  if (frozen) {
    *suspended_ = true;
  } else {
    (void)cgroup_->thaw();  // never leave a half-frozen sandbox behind an error
  }
  return frozen;
}

base::Status LinuxSandbox::resume() {
  if (!cgroup_) return base::plain_error("this sandbox has no cgroup, so no freezer");
  auto thawed = cgroup_->thaw();
  if (thawed) *suspended_ = false;
  return thawed;
}

std::optional<Sandbox::Usage> LinuxSandbox::usage() const {
  if (!cgroup_) return std::nullopt;
  auto u = cgroup_->usage();
  return Usage{u.cpu_time_ns / 1000000, u.memory_peak_bytes, u.oom_kills};
}

// Relative paths are taken from the workdir and may not climb above it;
// absolute ones are paths of the sandbox. The init resolves them with
// RESOLVE_IN_ROOT in the sandbox's own root, under its Landlock rules.
FileReply LinuxSandbox::file_op(const FileRequest& request) {
  FileRequest inside = request;
  for (auto [given, out, field] : {std::tuple{&request.path, &inside.path, "path"},
                                   std::tuple{&request.to, &inside.to, "to"}}) {
    if (given->empty() && out == &inside.to) continue;
    FileReply refused;
    if (given->find('\0') != std::string::npos) {
      refused.error = FileError{FileError::Kind::kInvalid, EINVAL, field, "contains a NUL byte"};
      return refused;
    }
    if (!given->empty() && (*given)[0] == '/') continue;
    if (climbs_above(*given)) {
      refused.error = FileError{FileError::Kind::kEscape, EXDEV, field,
                                "\"" + *given + "\" climbs out of the workdir with .."};
      return refused;
    }
    *out = given->empty() || *given == "." ? visible_workdir_ : visible_workdir_ + "/" + *given;
  }
  return link_->file_op(next_exec_++, inside);
}

bool LinuxSandbox::destroy(bool keep_workdir) {
  if (destroyed_) return false;
  destroyed_ = true;
  *violation_handler_ = nullptr;
  if (seccomp_monitor_) seccomp_monitor_->stop();
  if (proxy_) proxy_->stop();
  if (*suspended_) (void)resume();  // frozen processes cannot die
  link_->close();
  stop_init(init_pid_);  // PID 1 gone: the kernel kills the whole namespace
  if (cgroup_) cgroup_->destroy();
  workdir_fd_.reset();
  if (!created_workdir_ || keep_workdir) return false;
  return remove_workdir(host_workdir_);
}

}  // namespace agentd::sandbox::linuxns
