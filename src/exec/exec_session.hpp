#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "exec/child.hpp"
#include "exec/outcome.hpp"

namespace agentd::exec {

enum class Stream { kStdout, kStderr };

// One running exec: pumps its stdout and stderr, feeds its stdin, enforces
// wall time and output size, and reports exactly one outcome after the last
// output. Backend-agnostic: it only sees a Child and three pipe ends.
class ExecSession : public std::enable_shared_from_this<ExecSession> {
 public:
  struct Options {
    std::optional<uint64_t> wall_time_ms;
    std::optional<uint64_t> max_output_bytes;
    std::optional<uint64_t> cpu_time_ms;  // to name the limit when RLIMIT_CPU fires
  };
  struct Callbacks {
    std::function<void(Stream, std::string_view bytes)> on_output;
    std::function<void(const ExecOutcome&)> on_exit;
    // Optional back-pressure: called before each pipe read with a function
    // to call once the consumer has room for more output.
    std::function<void(std::function<void()> resume)> wait_for_room;
  };
  using WriteDone = std::function<void(std::optional<std::string> error)>;

  static std::shared_ptr<ExecSession> start(boost::asio::io_context& io, LaunchedChild launched,
                                            Options options, Callbacks callbacks);

  int pid() const { return child_->pid(); }
  bool finished() const { return finished_; }
  bool accepts_stdin() const { return !stdin_closed_; }

  void write_stdin(std::string bytes, bool eof, WriteDone done);
  bool has_pty() const { return pty_master_.valid(); }
  // Sets the terminal size of a pty exec (TIOCSWINSZ; the process gets SIGWINCH).
  base::Status resize(PtySize size);
  // exec/kill, cancellation, sandbox destroy: the exec ends as `killed`.
  void kill(int signal);

  // Time limit after the leader exits for stragglers that escaped the process
  // group (setsid) and still hold the pipes open.
  static constexpr std::chrono::milliseconds kDrainGrace{1000};
  // The most one read takes from a pipe, and so the most raw bytes one
  // exec/output notification carries (docs/protocol.md promises 64 KiB).
  static constexpr size_t kReadBytes = 64 * 1024;
  // The pipe size asked for: a fast writer runs further ahead, so agentd
  // takes several reads per wake-up instead of one.
  static constexpr int kPipeBytes = 256 * 1024;
  // Reads of one pipe before agentd returns to its event loop (fairness).
  static constexpr int kReadsInARow = 4;

 private:
  // A pipe (or pty master) being read. It has no buffer of its own: reads go
  // into one buffer per thread once the pipe is readable (see read_now), so
  // a thousand idle execs do not hold a thousand buffers.
  struct Pump {
    Stream stream;
    boost::asio::posix::stream_descriptor pipe;
    bool done = false;
    int reads_in_a_row = 0;
    // A stream the exec does not have (stderr on a pty) is done from the start.
    Pump(boost::asio::io_context& io, Stream s, int fd) : stream(s), pipe(io), done(fd < 0) {
      if (fd >= 0) pipe.assign(fd);
    }
  };
  struct PendingWrite {
    std::string bytes;
    bool eof;
    WriteDone done;
  };

  ExecSession(boost::asio::io_context& io, LaunchedChild launched, Options options,
              Callbacks callbacks);
  void begin();
  void read_next(Pump& pump);
  void read_now(Pump& pump);
  void wait_readable(Pump& pump);
  void deliver(Pump& pump, const char* data, size_t n);
  void pump_done(Pump& pump);
  void on_leader_exit(ExitInfo info);
  void maybe_finish();
  ExecOutcome build_outcome() const;
  void write_next();
  void fail_pending_writes(const std::string& why);

  boost::asio::io_context& io_;
  std::unique_ptr<Child> child_;
  Options options_;
  Callbacks callbacks_;
  Pump stdout_pump_;
  Pump stderr_pump_;
  boost::asio::posix::stream_descriptor stdin_;
  base::UniqueFd pty_master_;
  bool stdin_closed_ = false;
  bool writing_ = false;
  std::deque<PendingWrite> writes_;
  boost::asio::steady_timer wall_timer_;
  boost::asio::steady_timer drain_timer_;
  std::chrono::steady_clock::time_point started_;
  uint64_t duration_ms_ = 0;
  uint64_t stdout_bytes_ = 0;
  uint64_t stderr_bytes_ = 0;
  bool truncated_ = false;
  bool timed_out_ = false;
  bool kill_requested_ = false;
  bool drain_over_ = false;  // kDrainGrace after the leader's exit has passed
  std::optional<ExitInfo> exit_info_;
  bool finished_ = false;
};

// The outcome of an exec that never started (bad executable, failed set-up).
ExecOutcome setup_error_outcome(std::string reason);

}  // namespace agentd::exec
