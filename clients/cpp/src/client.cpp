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

// Consumes `literal` at the front of `in`.
bool take(std::string_view& in, std::string_view literal) {
  if (in.substr(0, literal.size()) != literal) return false;
  in.remove_prefix(literal.size());
  return true;
}

// Consumes characters up to (not including) `stop`; false if there is none or one of them
// would need JSON unescaping.
bool take_until(std::string_view& in, char stop, std::string_view* out) {
  std::size_t end = in.find(stop);
  if (end == std::string_view::npos) return false;
  *out = in.substr(0, end);
  if (out->find('\\') != std::string_view::npos) return false;
  in.remove_prefix(end);
  return true;
}

}  // namespace

// The exact line agentd writes for base64 output (see base64_output_line in agentd), read
// without a JSON DOM: parsing every byte of the data into a json string was the client's
// main cost. Anything else, even equivalent JSON in another order, takes the general path.
bool parse_base64_output_line(std::string_view line, RawOutput* out) {
  std::string_view stream, seq;
  constexpr std::string_view kEnd = R"("}})";
  if (!take(line, R"({"jsonrpc":"2.0","method":"exec/output","params":{"execId":")") ||
      !take_until(line, '"', &out->exec_id) || !take(line, R"(","stream":")") ||
      !take_until(line, '"', &stream) || !take(line, R"(","seq":)") ||
      !take_until(line, ',', &seq) || !take(line, R"(,"encoding":"base64","data":")") ||
      line.size() < kEnd.size() || line.substr(line.size() - kEnd.size()) != kEnd)
    return false;
  // The data runs to the end of the line: no scan for its closing quote. A quote or an
  // escape inside it is no base64, and the decoder refuses it (see try_fast_output).
  out->data = line.substr(0, line.size() - kEnd.size());
  if (seq.empty() || seq.size() > 18 || seq.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  out->seq = 0;
  for (char c : seq) out->seq = out->seq * 10 + (c - '0');
  out->is_stderr = stream == "stderr";
  return true;
}

namespace {

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
  // A bigger pipe from agentd: it writes bursts of output while we parse. Best effort.
  (void)fcntl(from_agentd_, F_SETPIPE_SZ, 1 << 20);
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
      if (try_fast_output(line)) continue;
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

// Only when nobody needs the notification as JSON (no handler, nothing recorded).
bool Client::try_fast_output(std::string_view line) {
  if (options_.record_notifications) return false;
  {
    std::lock_guard lock(mu_);
    if (handler_) return false;
  }
  RawOutput raw;
  if (!parse_base64_output_line(line, &raw)) return false;
  try {
    record_output(std::string(raw.exec_id), raw.is_stderr, /*utf8=*/false,
                  static_cast<std::int64_t>(raw.seq), raw.data);
  } catch (const std::invalid_argument&) {
    // Not base64 as it stands (an escape, a quote): the general path decides. Nothing was
    // recorded yet (the decoding comes first).
    return false;
  }
  return true;  // nobody waits for output itself: no wake-up needed

}

void Client::record_output(const std::string& exec_id, bool is_stderr, bool utf8, std::int64_t seq,
                           std::string_view data) {
  // Decode outside the lock; the reader thread is the only writer of exec state.
  thread_local std::string scratch;
  scratch.clear();
  std::size_t bytes = utf8 ? (scratch = data).size() : base64_decode_append(data, &scratch);
  std::lock_guard lock(mu_);
  ExecState& st = execs_[exec_id];
  st.result.exec_id = exec_id;
  if (seq != st.next_seq[is_stderr]) ++st.result.seq_gaps;
  st.next_seq[is_stderr] = seq + 1;
  ++st.result.output_notifications;
  (is_stderr ? st.result.stderr_bytes : st.result.stdout_bytes) += bytes;
  if (options_.keep_output) (is_stderr ? st.result.stderr_data : st.result.stdout_data) += scratch;
}

void Client::handle_exec_notification(const Notification& n) {
  bool output = n.method == "exec/output";
  if (!output && n.method != "exec/exit") return;
  const std::string exec_id = n.params.value("execId", std::string{});
  if (output) {
    record_output(exec_id, n.params.value("stream", std::string{}) == "stderr",
                  n.params.value("encoding", std::string{}) == "utf8",
                  n.params.value("seq", std::int64_t{-1}),
                  n.params.at("data").get_ref<const std::string&>());
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

namespace {

// Four tables, one per position in a quad, holding each character's six bits already shifted
// into place, or kBad: a quad decodes as four lookups OR'ed together, and one test of the
// combined value finds any invalid character. 4 KiB in all, built at compile time.
constexpr std::uint32_t kBad = 0x01000000;

struct DecodeTables {
  std::uint32_t at[4][256];
  constexpr DecodeTables() : at{} {
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int pos = 0; pos < 4; ++pos)
      for (int c = 0; c < 256; ++c) at[pos][c] = kBad;
    for (int i = 0; i < 64; ++i) {
      auto c = static_cast<unsigned char>(alphabet[i]);
      for (int pos = 0; pos < 4; ++pos) at[pos][c] = std::uint32_t(i) << (18 - 6 * pos);
    }
  }
};
constexpr DecodeTables kDecode;

std::uint32_t decode_quad(const unsigned char* q) {
  return kDecode.at[0][q[0]] | kDecode.at[1][q[1]] | kDecode.at[2][q[2]] | kDecode.at[3][q[3]];
}

}  // namespace

std::size_t base64_decode_append(std::string_view in, std::string* out) {
  if (in.size() % 4 != 0) throw std::invalid_argument("base64: length is not a multiple of 4");
  if (in.empty()) return 0;
  const std::size_t before = out->size();
  out->resize(before + in.size() / 4 * 3);
  char* dst = out->data() + before;
  const auto* src = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t last = in.size() - 4;
  for (std::size_t i = 0; i < last; i += 4) {  // every quad but the last has no padding
    std::uint32_t v = decode_quad(src + i);
    if (v & kBad) throw std::invalid_argument("base64: invalid character");
    dst[0] = static_cast<char>(v >> 16);
    dst[1] = static_cast<char>(v >> 8);
    dst[2] = static_cast<char>(v);
    dst += 3;
  }
  // The last quad: "xy==", "xyz=" or "xyzw".
  const unsigned char* q = src + last;
  std::size_t pad = q[3] == '=' ? (q[2] == '=' ? 2 : 1) : 0;
  const unsigned char tail[4] = {q[0], q[1], pad == 2 ? 'A' : q[2], pad ? 'A' : q[3]};
  std::uint32_t v = decode_quad(tail);
  if (v & kBad) throw std::invalid_argument("base64: invalid character");
  *dst++ = static_cast<char>(v >> 16);
  if (pad < 2) *dst++ = static_cast<char>(v >> 8);
  if (pad < 1) *dst++ = static_cast<char>(v);
  const std::size_t n = static_cast<std::size_t>(dst - (out->data() + before));
  out->resize(before + n);
  return n;
}

std::string base64_decode(std::string_view in) {
  std::string out;
  base64_decode_append(in, &out);
  return out;
}

}  // namespace agentd::client
