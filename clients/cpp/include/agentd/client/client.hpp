// A small blocking C++ client for agentd: spawns the binary, speaks line-framed JSON-RPC 2.0
// over its stdin/stdout, and tracks exec/output and exec/exit per exec.
//
//   agentd::client::Client c({.agentd_path = "build/src/agentd"});
//   c.initialize();
//   auto sb = c.sandbox_create({{"isolation", "none"}}).at("sandboxId").get<std::string>();
//   auto ex = c.exec_start(sb, {"uname", "-a"});
//   auto r = c.wait_exit(ex);            // r.stdout_data, r.exit.at("exitCode")
//   c.shutdown();
//
// The constructor sets SIGPIPE to SIG_IGN if it is SIG_DFL, so that writing to a dead agentd
// throws ConnectionClosed instead of killing the process.
//
// Threading: one reader thread parses agentd's stdout. call() and notify() may be used from any
// number of threads at once. The notification callback runs on the reader thread: keep it short
// and never call call() from it (that would wait for the thread that has to deliver the answer).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace agentd::client {

using json = nlohmann::json;
using Millis = std::chrono::milliseconds;

// An error response from agentd: the JSON-RPC error object, typed.
class RpcError : public std::runtime_error {
 public:
  RpcError(std::string method, int code, std::string message, json data);
  const std::string& method() const { return method_; }
  int code() const { return code_; }
  const std::string& rpc_message() const { return message_; }
  const json& data() const { return data_; }

 private:
  std::string method_;
  int code_;
  std::string message_;
  json data_;
};

// No answer within the timeout (the request stays unanswered as far as the client cares).
class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// agentd closed its stdout (exited or crashed) while something was still expected.
class ConnectionClosed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Notification {
  std::string method;
  json params;
};

// Everything the client saw of one exec started with exec/start.
struct ExecResult {
  std::string exec_id;
  json exit;                // the exec/exit params
  std::string stdout_data;  // decoded bytes (empty when ClientOptions::keep_output is false)
  std::string stderr_data;
  std::uint64_t stdout_bytes = 0;  // decoded bytes received, whether kept or not
  std::uint64_t stderr_bytes = 0;
  std::uint64_t output_notifications = 0;
  std::uint64_t exit_notifications = 0;  // must be 1
  std::uint64_t seq_gaps = 0;            // exec/output whose seq was not the next one
  std::chrono::steady_clock::time_point exit_received{};

  std::string status() const { return exit.value("status", std::string{}); }
  std::optional<int> exit_code() const;
};

struct ClientOptions {
  std::string agentd_path = "agentd";
  std::vector<std::string> args;      // extra command-line arguments for agentd
  bool forward_stderr = true;         // false: agentd's log goes to /dev/null
  Millis default_timeout{30'000};     // for call() without an explicit timeout
  bool keep_output = true;            // false: decode and count exec output, but drop it
  bool record_notifications = false;  // true: keep every notification for wait_notification()
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();  // closes agentd's stdin, waits up to 5 s, then SIGKILL
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a request and waits for its answer. Throws RpcError, TimeoutError, ConnectionClosed.
  json call(std::string_view method, json params = json::object());
  json call(std::string_view method, json params, Millis timeout);
  void notify(std::string_view method, json params = json::object());

  // Called on the reader thread for every notification, before exec tracking.
  void on_notification(std::function<void(const Notification&)> handler);
  // With record_notifications: removes and returns the first recorded notification matching
  // pred, waiting up to timeout for one to arrive. nullopt on timeout.
  std::optional<Notification> wait_notification(
      const std::function<bool(const Notification&)>& pred, Millis timeout);

  // Convenience wrappers.
  json initialize(json params = json::object());
  json sandbox_create(json params);
  std::string exec_start(const std::string& sandbox_id, const std::vector<std::string>& argv,
                         json extra = json::object());
  // Waits for exec/exit of exec_id and returns (and forgets) what was collected.
  ExecResult wait_exit(const std::string& exec_id, std::optional<Millis> timeout = {});
  // Ids of execs that have output or an exit recorded but were not claimed by wait_exit():
  // after every wait_exit() has returned, a non-empty list means duplicate or stray messages.
  std::vector<std::string> unclaimed_execs() const;
  json sandbox_destroy(const std::string& sandbox_id);
  // shutdown request, exit notification, close stdin, reap. Returns agentd's wait status.
  int shutdown(Millis timeout = Millis{5'000});

  pid_t pid() const { return pid_; }
  bool running() const;
  std::uint64_t parse_errors() const;  // lines from agentd that were not JSON

 private:
  struct Pending {
    bool done = false;
    json message;
  };
  struct ExecState {
    ExecResult result;
    std::int64_t next_seq[2] = {0, 0};
    bool exited = false;
  };

  void spawn();
  void reader_loop();
  void handle_message(json message);
  void handle_exec_notification(const Notification& n);
  bool try_fast_output(std::string_view line);
  void record_output(const std::string& exec_id, bool is_stderr, bool utf8, std::int64_t seq,
                     std::string_view data);
  void write_line(const std::string& line);
  void close_stdin();
  int reap(Millis timeout);
  void fail_all();

  ClientOptions options_;
  pid_t pid_ = -1;
  int to_agentd_ = -1;
  int from_agentd_ = -1;
  std::thread reader_;
  std::mutex write_mu_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::int64_t next_id_ = 1;
  std::map<std::int64_t, Pending> pending_;
  std::map<std::string, ExecState> execs_;
  std::deque<Notification> recorded_;
  std::function<void(const Notification&)> handler_;
  bool closed_ = false;
  std::uint64_t parse_errors_ = 0;
  std::optional<int> wait_status_;
};

// The fields of a base64 exec/output line exactly as agentd writes it (views into the line).
struct RawOutput {
  std::string_view exec_id;
  bool is_stderr = false;
  std::uint64_t seq = 0;
  std::string_view data;
};
// True and `out` filled when `line` has that shape; false for anything else (then parse it as
// JSON). `data` is not checked here: if it does not decode as base64 (it held a JSON escape),
// parse the line as JSON instead. Lets a reader skip the JSON DOM for the bulk of exec output.
bool parse_base64_output_line(std::string_view line, RawOutput* out);

// Standard base64 (with padding) to bytes. Throws std::invalid_argument on bad input.
std::string base64_decode(std::string_view in);
// Appends the decoded bytes to out; returns how many were appended.
std::size_t base64_decode_append(std::string_view in, std::string* out);

}  // namespace agentd::client
