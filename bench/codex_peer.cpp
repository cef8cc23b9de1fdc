// The closest protocol peer: the Codex app-server's `command/exec` (newline-delimited JSON-RPC
// over stdio, one sandbox per command) against agentd's exec in an existing linux sandbox,
// interleaved pair by pair so both see the same machine load.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "agentd/client/client.hpp"
#include "cases.hpp"

extern char** environ;

namespace agentd::bench {
namespace {

namespace ac = agentd::client;

constexpr int kAnswerTimeoutMs = 30'000;

// Why the peer cannot be measured; the row prints it as "unavailable: <why>".
struct Unavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string absolute(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

// A running `codex app-server`, spoken to line by line. Its stderr goes to a log file in
// CODEX_HOME so that a failure can say why.
class CodexAppServer {
 public:
  CodexAppServer(const std::string& codex, const std::string& home) : log_(home + "/app-server.log") {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
      throw Unavailable(std::string("pipe2: ") + std::strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<std::string> env_strings{"CODEX_HOME=" + home};
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "CODEX_HOME=", 11) != 0) env_strings.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string arg0 = codex, arg1 = "app-server";
    char* argv[] = {arg0.data(), arg1.data(), nullptr};
    int rc = posix_spawn(&pid_, codex.c_str(), &fa, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
    if (rc != 0) throw Unavailable("posix_spawn(" + codex + "): " + std::strerror(rc));
  }
  ~CodexAppServer() {
    if (to_ >= 0) ::close(to_);
    if (from_ >= 0) ::close(from_);
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      for (int i = 0; i < 200 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) ::usleep(10'000);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  CodexAppServer(const CodexAppServer&) = delete;
  CodexAppServer& operator=(const CodexAppServer&) = delete;

  // Sends a request and returns its answer's result; notifications in between are skipped.
  json call(const std::string& method, const json& params) {
    int id = next_id_++;
    send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
    while (true) {
      json message = read_message();
      if (!message.contains("id") || message["id"] != id) continue;
      if (message.contains("error"))
        throw Unavailable(method + " answered " + message["error"].dump());
      return message.value("result", json());
    }
  }
  void send(const json& message) {
    std::string line = message.dump() + "\n";
    for (size_t off = 0; off < line.size();) {
      ssize_t n = ::write(to_, line.data() + off, line.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Unavailable("codex app-server closed its stdin" + log_tail());
      off += size_t(n);
    }
  }

 private:
  json read_message() {
    while (true) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        json message = json::parse(line, nullptr, false);
        if (!message.is_discarded()) return message;
        continue;
      }
      pollfd p{from_, POLLIN, 0};
      if (::poll(&p, 1, kAnswerTimeoutMs) <= 0)
        throw Unavailable("codex app-server did not answer within 30 s" + log_tail());
      char chunk[65536];
      ssize_t n = ::read(from_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Unavailable("codex app-server exited" + log_tail());
      buffer_.append(chunk, size_t(n));
    }
  }
  std::string log_tail() const {
    std::ifstream f(log_);
    std::string line, last;
    while (std::getline(f, line))
      if (!line.empty()) last = line;
    return last.empty() ? "" : " (its stderr: " + last.substr(0, 300) + ")";
  }

  std::string log_;
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  int next_id_ = 1;
  std::string buffer_;
};

// One sandboxed /bin/true through command/exec; throws Unavailable if it did not run.
void codex_exec_true(CodexAppServer& codex) {
  json result = codex.call("command/exec", {{"command", {"/bin/true"}},
                                            {"sandboxPolicy", {{"type", "readOnly"}}}});
  if (result.value("exitCode", -1) != 0)
    throw Unavailable("command/exec /bin/true under readOnly answered " + result.dump());
}

// A write outside the writable roots must fail, or the row would time an unsandboxed exec.
void check_codex_sandboxes(CodexAppServer& codex, const std::string& home) {
  std::string probe = home + "/sandbox-probe";
  ::unlink(probe.c_str());
  json result = codex.call("command/exec", {{"command", {"/bin/sh", "-c", "echo x > " + probe}},
                                            {"sandboxPolicy", {{"type", "readOnly"}}}});
  struct stat st {};
  if (::stat(probe.c_str(), &st) == 0 || result.value("exitCode", 0) == 0)
    throw Unavailable("command/exec under readOnly could write " + probe + ": not sandboxed here");
}

}  // namespace

void codex_peer(const Options& o, ac::Client& c, const json& linux_params,
                const std::string& linux_skipped, Report& report) {
  Row row("protocol peer",
          "codex app-server command/exec /bin/true (readOnly sandbox), request -> answer");
  row.vs_a = kRawForkExec;
  row.vs_b = kBwrap;
  if (access(o.codex.c_str(), X_OK) != 0) {
    row.skipped = "unavailable: " + o.codex +
                  " is not installed (scripts/bench.sh runs npm ci in bench/peers)";
    report.add(std::move(row));
    return;
  }
  std::string home = absolute(o.codex_home);
  ::mkdir(home.c_str(), 0700);
  std::string agentd_sandbox;
  try {
    CodexAppServer codex(absolute(o.codex), home);
    codex.call("initialize", {{"clientInfo", {{"name", "agentd_bench"}, {"version", "0"}}}});
    codex.send({{"jsonrpc", "2.0"}, {"method", "initialized"}});
    check_codex_sandboxes(codex, home);
    if (linux_skipped.empty()) agentd_sandbox = c.sandbox_create(linux_params).at("sandboxId");
    std::vector<double> paired;
    for (int i = -2; i < o.namespace_iterations; ++i) {  // 2 warm-up runs
      auto t0 = Clock::now();
      codex_exec_true(codex);
      double codex_ms = ms_since(t0);
      if (i < 0) continue;
      row.samples.push_back(codex_ms);
      if (agentd_sandbox.empty()) continue;
      auto t1 = Clock::now();
      ac::ExecResult r = c.wait_exit(c.exec_start(agentd_sandbox, {"/bin/true"}));
      paired.push_back(codex_ms / ms_since(t1, r.exit_received));
    }
    if (!paired.empty()) {
      Row p("", "");
      p.samples = std::move(paired);
      row.extra["agentd linux exec is N times faster (interleaved; median of per-pair ratios)"] =
          p.median();
    }
  } catch (const Unavailable& e) {
    row.samples.clear();
    row.skipped = std::string("unavailable: ") + e.what();
  }
  if (!agentd_sandbox.empty()) c.sandbox_destroy(agentd_sandbox);
  const Row* agentd_linux = report.find(kLinuxExecRoundTrip);
  if (!row.samples.empty() && agentd_linux && !agentd_linux->samples.empty())
    row.extra["agentd linux exec round trip is N times faster (ratio of medians)"] =
        row.median() / agentd_linux->median();
  report.add(std::move(row));
}

}  // namespace agentd::bench
