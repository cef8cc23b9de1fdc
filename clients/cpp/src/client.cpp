#include "agentd/client/client.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

extern char** environ;

namespace agentd::client {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

RpcError::RpcError(std::string method, int code, std::string message, json data)
    : std::runtime_error(method + ": error " + std::to_string(code) + ": " + message),
      method_(std::move(method)),
      code_(code),
      message_(std::move(message)),
      data_(std::move(data)) {}

std::optional<int> ExecResult::exit_code() const {
  auto it = exit.find("exitCode");
  if (it == exit.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int>();
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
  // A write to an agentd that has died must fail with EPIPE, not kill this process.
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  spawn();
  reader_ = std::thread([this] { reader_loop(); });
}

Client::~Client() {
  close_stdin();
  if (pid_ > 0 && !wait_status_) {
    if (reap(Millis{5'000}) < 0) {
      kill(pid_, SIGKILL);
      reap(Millis{5'000});
    }
  }
  if (reader_.joinable()) reader_.join();
  if (from_agentd_ >= 0) close(from_agentd_);
}

// posix_spawn with agentd's stdin and stdout on two CLOEXEC pipes (dup2 clears CLOEXEC on 0/1).
void Client::spawn() {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) throw_errno("pipe2");
  if (pipe2(out, O_CLOEXEC) != 0) {
    int e = errno;
    close(in[0]), close(in[1]);
    errno = e;
    throw_errno("pipe2");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  if (!options_.forward_stderr) posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

  std::vector<std::string> args{options_.agentd_path};
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int rc = posix_spawnp(&pid_, options_.agentd_path.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    errno = rc;
    throw_errno("posix_spawn(\"" + options_.agentd_path + "\")");
  }
  to_agentd_ = in[1];
  from_agentd_ = out[0];
}

void Client::reader_loop() {
  std::string buf;
  std::vector<char> chunk(1 << 20);
  for (;;) {
    ssize_t n = read(from_agentd_, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk.data(), static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(buf.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (message.is_discarded()) {
        std::lock_guard lock(mu_);
        ++parse_errors_;
        continue;
      }
      try {
        handle_message(std::move(message));
      } catch (const std::exception&) {  // a malformed notification (bad base64, missing field)
        std::lock_guard lock(mu_);
        ++parse_errors_;
      }
    }
    buf.erase(0, start);
  }
  fail_all();
}

void Client::handle_message(json message) {
  if (message.is_object() && message.contains("method")) {
    Notification n{message.value("method", std::string{}),
                   message.contains("params") ? std::move(message["params"]) : json::object()};
    std::function<void(const Notification&)> handler;
    {
      std::lock_guard lock(mu_);
      handler = handler_;
    }
    if (handler) handler(n);
    handle_exec_notification(n);
    if (options_.record_notifications) {
      std::lock_guard lock(mu_);
      recorded_.push_back(std::move(n));
    }
    cv_.notify_all();
    return;
  }
  auto id = message.find("id");
  if (id == message.end() || !id->is_number_integer()) return;  // not ours (or id: null)
  std::lock_guard lock(mu_);
  auto it = pending_.find(id->get<std::int64_t>());
  if (it == pending_.end()) return;  // timed out meanwhile
  it->second.done = true;
  it->second.message = std::move(message);
  cv_.notify_all();
}

void Client::handle_exec_notification(const Notification& n) {
  bool output = n.method == "exec/output";
  if (!output && n.method != "exec/exit") return;
  const std::string exec_id = n.params.value("execId", std::string{});
  if (output) {
    const auto& data = n.params.at("data").get_ref<const std::string&>();
    const bool is_stderr = n.params.value("stream", std::string{}) == "stderr";
    const bool utf8 = n.params.value("encoding", std::string{}) == "utf8";
    // Decode outside the lock; the reader thread is the only writer of exec state.
    thread_local std::string scratch;
    scratch.clear();
    std::size_t bytes = utf8 ? (scratch = data).size() : base64_decode_append(data, &scratch);
    std::lock_guard lock(mu_);
    ExecState& st = execs_[exec_id];
    st.result.exec_id = exec_id;
    std::int64_t seq = n.params.value("seq", std::int64_t{-1});
    if (seq != st.next_seq[is_stderr]) ++st.result.seq_gaps;
    st.next_seq[is_stderr] = seq + 1;
    ++st.result.output_notifications;
    (is_stderr ? st.result.stderr_bytes : st.result.stdout_bytes) += bytes;
    if (options_.keep_output)
      (is_stderr ? st.result.stderr_data : st.result.stdout_data) += scratch;
    return;
  }
  std::lock_guard lock(mu_);
  ExecState& st = execs_[exec_id];
  st.result.exec_id = exec_id;
  st.result.exit = n.params;
  st.result.exit_received = std::chrono::steady_clock::now();
  ++st.result.exit_notifications;
  st.exited = true;
}

void Client::write_line(const std::string& line) {
  std::lock_guard lock(write_mu_);
  if (to_agentd_ < 0) throw ConnectionClosed("agentd's stdin is closed");
  std::size_t off = 0;
  while (off < line.size()) {
    ssize_t n = write(to_agentd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno == EPIPE) throw ConnectionClosed("agentd closed its stdin");
      throw_errno("write to agentd");
    }
    off += static_cast<std::size_t>(n);
  }
}

json Client::call(std::string_view method, json params) {
  return call(method, std::move(params), options_.default_timeout);
}

json Client::call(std::string_view method, json params, Millis timeout) {
  std::int64_t id;
  {
    std::lock_guard lock(mu_);
    if (closed_) throw ConnectionClosed(std::string(method) + ": agentd is gone");
    id = next_id_++;
    pending_[id];
  }
  json request{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
  try {
    write_line(request.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  } catch (...) {
    std::lock_guard lock(mu_);
    pending_.erase(id);
    throw;
  }
  std::unique_lock lock(mu_);
  Pending& p = pending_[id];
  bool answered = cv_.wait_for(lock, timeout, [&] { return p.done || closed_; });
  json message = std::move(p.message);
  bool done = p.done;
  pending_.erase(id);
  lock.unlock();
  if (!done && !answered)
    throw TimeoutError(std::string(method) + ": no answer within " +
                       std::to_string(timeout.count()) + " ms");
  if (!done) throw ConnectionClosed(std::string(method) + ": agentd exited before answering");
  if (auto err = message.find("error"); err != message.end()) {
    throw RpcError(std::string(method), err->value("code", 0), err->value("message", ""),
                   err->contains("data") ? (*err)["data"] : json());
  }
  return message.contains("result") ? std::move(message["result"]) : json();
}

void Client::notify(std::string_view method, json params) {
  json n{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
  write_line(n.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

void Client::on_notification(std::function<void(const Notification&)> handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
}

std::optional<Notification> Client::wait_notification(
    const std::function<bool(const Notification&)>& pred, Millis timeout) {
  std::unique_lock lock(mu_);
  std::optional<Notification> found;
  cv_.wait_for(lock, timeout, [&] {
    for (auto it = recorded_.begin(); it != recorded_.end(); ++it) {
      if (pred(*it)) {
        found = std::move(*it);
        recorded_.erase(it);
        return true;
      }
    }
    return closed_;
  });
  return found;
}

json Client::initialize(json params) {
  if (!params.contains("clientInfo"))
    params["clientInfo"] = {{"name", "agentd-cpp-client"}, {"version", "0.1.0"}};
  json result = call("initialize", std::move(params));
  notify("initialized");
  return result;
}

json Client::sandbox_create(json params) { return call("sandbox/create", std::move(params)); }

std::string Client::exec_start(const std::string& sandbox_id, const std::vector<std::string>& argv,
                               json extra) {
  extra["sandboxId"] = sandbox_id;
  extra["argv"] = argv;
  return call("exec/start", std::move(extra)).at("execId").get<std::string>();
}

ExecResult Client::wait_exit(const std::string& exec_id, std::optional<Millis> timeout) {
  std::unique_lock lock(mu_);
  auto ready = [&] {
    auto it = execs_.find(exec_id);
    return (it != execs_.end() && it->second.exited) || closed_;
  };
  if (!cv_.wait_for(lock, timeout.value_or(options_.default_timeout), ready))
    throw TimeoutError("exec/exit of " + exec_id + " did not come in time");
  auto it = execs_.find(exec_id);
  if (it == execs_.end() || !it->second.exited)
    throw ConnectionClosed("agentd exited before exec/exit of " + exec_id);
  ExecResult result = std::move(it->second.result);
  execs_.erase(it);
  return result;
}

std::vector<std::string> Client::unclaimed_execs() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, st] : execs_) ids.push_back(id);
  return ids;
}

json Client::sandbox_destroy(const std::string& sandbox_id) {
  return call("sandbox/destroy", {{"sandboxId", sandbox_id}});
}

int Client::shutdown(Millis timeout) {
  call("shutdown", json::object(), timeout);
  notify("exit");
  close_stdin();
  int status = reap(timeout);
  if (status < 0) throw TimeoutError("agentd did not exit after shutdown and exit");
  return status;
}

bool Client::running() const {
  std::lock_guard lock(mu_);
  return !closed_;
}

std::uint64_t Client::parse_errors() const {
  std::lock_guard lock(mu_);
  return parse_errors_;
}

void Client::close_stdin() {
  std::lock_guard lock(write_mu_);
  if (to_agentd_ >= 0) close(to_agentd_);
  to_agentd_ = -1;
}

// Waits for agentd to end, polling (agentd is our child; no SIGCHLD handler is installed).
// Returns the wait status, or -1 if it is still running after timeout.
int Client::reap(Millis timeout) {
  if (wait_status_) return *wait_status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      wait_status_ = status;
      return status;
    }
    if (r < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(Millis{2});
  }
}

void Client::fail_all() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

// ---- base64 ----

std::size_t base64_decode_append(std::string_view in, std::string* out) {
  static const auto table = [] {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i)
      t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    return t;
  }();
  if (in.size() % 4 != 0) throw std::invalid_argument("base64: length is not a multiple of 4");
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() >= 2 && in[in.size() - 2] == '=') ++pad;
  const std::size_t before = out->size();
  const std::size_t n = in.size() / 4 * 3 - pad;
  out->resize(before + in.size() / 4 * 3);
  char* dst = out->data() + before;
  const auto* src = reinterpret_cast<const unsigned char*>(in.data());
  for (std::size_t i = 0; i < in.size(); i += 4) {
    std::int8_t a = table[src[i]], b = table[src[i + 1]];
    bool last = i + 4 == in.size();
    std::int8_t c = (last && src[i + 2] == '=') ? 0 : table[src[i + 2]];
    std::int8_t d = (last && src[i + 3] == '=') ? 0 : table[src[i + 3]];
    if ((a | b | c | d) < 0) throw std::invalid_argument("base64: invalid character");
    std::uint32_t v = (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) |
                      (std::uint32_t(c) << 6) | std::uint32_t(d);
    *dst++ = static_cast<char>(v >> 16);
    *dst++ = static_cast<char>(v >> 8);
    *dst++ = static_cast<char>(v);
  }
  out->resize(before + n);
  return n;
}

std::string base64_decode(std::string_view in) {
  std::string out;
  base64_decode_append(in, &out);
  return out;
}

}  // namespace agentd::client
