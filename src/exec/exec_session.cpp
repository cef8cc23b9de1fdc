#include "exec/exec_session.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <boost/asio/write.hpp>
#include <memory>

namespace agentd::exec {

namespace asio = boost::asio;

ExecOutcome setup_error_outcome(std::string reason) {
  ExecOutcome outcome;
  outcome.status = ExecStatus::kSetupError;
  outcome.reason = std::move(reason);
  return outcome;
}

std::shared_ptr<ExecSession> ExecSession::start(asio::io_context& io, LaunchedChild launched,
                                                Options options, Callbacks callbacks) {
  std::shared_ptr<ExecSession> session(
      new ExecSession(io, std::move(launched), std::move(options), std::move(callbacks)));
  session->begin();
  return session;
}

ExecSession::ExecSession(asio::io_context& io, LaunchedChild launched, Options options,
                         Callbacks callbacks)
    : io_(io),
      child_(std::move(launched.child)),
      options_(options),
      callbacks_(std::move(callbacks)),
      stdout_pump_(io, Stream::kStdout, launched.stdout_reader.release()),
      stderr_pump_(io, Stream::kStderr, launched.stderr_reader.release()),
      stdin_(io),
      pty_master_(std::move(launched.pty_master)),
      wall_timer_(io),
      drain_timer_(io),
      started_(std::chrono::steady_clock::now()) {
  for (Pump* pump : {&stdout_pump_, &stderr_pump_}) {
    if (pump->done) continue;
    boost::system::error_code ignored;
    pump->pipe.non_blocking(true, ignored);  // read_now reads only what is there
    // A bigger pipe lets a fast writer hand over more per wake-up (fewer
    // context switches per MiB). Best effort: the kernel may refuse (EPERM
    // above the user's pipe quota), and a pty is no pipe (EBADF).
    (void)::fcntl(pump->pipe.native_handle(), F_SETPIPE_SZ, kPipeBytes);
  }
  if (launched.stdin_writer) {
    stdin_.assign(launched.stdin_writer.release());
  } else {
    stdin_closed_ = true;
  }
}

void ExecSession::begin() {
  auto self = shared_from_this();
  child_->on_exit([self](ExitInfo info) { self->on_leader_exit(info); });
  if (options_.wall_time_ms) {
    wall_timer_.expires_after(std::chrono::milliseconds(*options_.wall_time_ms));
    wall_timer_.async_wait([self](boost::system::error_code ec) {
      if (ec || self->exit_info_) return;
      self->timed_out_ = true;
      self->child_->signal_group(SIGKILL);
    });
  }
  // Never read here: output handed on before start() returned would reach a
  // caller that has not registered the exec yet. The first read comes from
  // the event loop.
  for (Pump* pump : {&stdout_pump_, &stderr_pump_}) {
    if (!pump->done) wait_readable(*pump);
  }
}

void ExecSession::read_next(Pump& pump) {
  if (pump.done) return;
  if (!callbacks_.wait_for_room) return read_now(pump);
  auto self = shared_from_this();
  callbacks_.wait_for_room([self, &pump] { self->read_now(pump); });
}

// Reads at once what the pipe holds, into the thread's buffer, and hands it
// on before the next read can overwrite it. Only when the pipe is empty, or
// after kReadsInARow reads without a pause (so that one busy exec cannot
// starve the others and agentd's own input), it waits for the reactor.
void ExecSession::read_now(Pump& pump) {
  if (pump.done) return;
  if (drain_over_) return pump_done(pump);
  if (pump.reads_in_a_row >= kReadsInARow) return wait_readable(pump);
  ++pump.reads_in_a_row;
  thread_local std::unique_ptr<char[]> buffer(new char[kReadBytes]);
  ssize_t n = ::read(pump.pipe.native_handle(), buffer.get(), kReadBytes);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return wait_readable(pump);
  if (n <= 0) return pump_done(pump);  // EOF; EIO once a pty's last writer is gone
  deliver(pump, buffer.get(), size_t(n));
  read_next(pump);
}

void ExecSession::wait_readable(Pump& pump) {
  pump.reads_in_a_row = 0;
  auto self = shared_from_this();
  pump.pipe.async_wait(asio::posix::stream_descriptor::wait_read,
                       [self, &pump](boost::system::error_code ec) {
                         if (ec) return self->pump_done(pump);  // cancelled (drain grace over)
                         self->read_next(pump);
                       });
}

void ExecSession::deliver(Pump& pump, const char* data, size_t n) {
  uint64_t& counted = pump.stream == Stream::kStdout ? stdout_bytes_ : stderr_bytes_;
  if (options_.max_output_bytes) {
    uint64_t used = stdout_bytes_ + stderr_bytes_;
    uint64_t room = used >= *options_.max_output_bytes ? 0 : *options_.max_output_bytes - used;
    if (n > room) {
      n = size_t(room);
      if (!truncated_) {
        truncated_ = true;
        child_->signal_group(SIGKILL);
      }
    }
  }
  if (n == 0) return;  // past the limit: keep draining, deliver nothing
  counted += n;
  callbacks_.on_output(pump.stream, std::string_view(data, n));
}

void ExecSession::pump_done(Pump& pump) {
  if (pump.done) return;
  pump.done = true;
  boost::system::error_code ignored;
  pump.pipe.close(ignored);
  maybe_finish();
}

void ExecSession::on_leader_exit(ExitInfo info) {
  duration_ms_ = uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started_)
                              .count());
  exit_info_ = info;
  wall_timer_.cancel();
  fail_pending_writes("the process has exited");
  boost::system::error_code ignored;
  stdin_.close(ignored);
  stdin_closed_ = true;
  // The group is dead; pipes close unless an escapee (setsid) holds them.
  auto self = shared_from_this();
  drain_timer_.expires_after(kDrainGrace);
  drain_timer_.async_wait([self](boost::system::error_code ec) {
    if (ec) return;
    self->drain_over_ = true;  // also stops a read whose wake-up was already queued
    boost::system::error_code ignored;
    self->stdout_pump_.pipe.cancel(ignored);
    self->stderr_pump_.pipe.cancel(ignored);
  });
  maybe_finish();
}

void ExecSession::maybe_finish() {
  if (finished_ || !exit_info_ || !stdout_pump_.done || !stderr_pump_.done) return;
  finished_ = true;
  drain_timer_.cancel();
  callbacks_.on_exit(build_outcome());
}

ExecOutcome ExecSession::build_outcome() const {
  ExecOutcome out;
  const ExitInfo& info = *exit_info_;
  out.duration_ms = duration_ms_;
  out.stdout_bytes = stdout_bytes_;
  out.stderr_bytes = stderr_bytes_;
  out.truncated = truncated_;
  out.usage = info.usage;
  if (info.signaled) {
    out.signal = info.signal;
  } else {
    out.exit_code = info.exit_code;
  }
  uint64_t cpu_ms = info.usage ? info.usage->user_time_ms + info.usage->system_time_ms : 0;
  bool cpu_limit_hit = options_.cpu_time_ms && info.signaled &&
                       (info.signal == SIGXCPU ||
                        (info.signal == SIGKILL && cpu_ms >= *options_.cpu_time_ms));
  if (timed_out_) {
    out.status = ExecStatus::kTimeout;
    out.reason = "wall time limit of " + std::to_string(*options_.wall_time_ms) + " ms reached";
  } else if (truncated_) {
    out.status = ExecStatus::kOutputLimit;
    out.reason = "output exceeded maxOutputBytes=" + std::to_string(*options_.max_output_bytes);
  } else if (kill_requested_ && info.signaled) {
    out.status = ExecStatus::kKilled;
    out.reason = "killed on request";
  } else if (info.memory_limit_hit && info.signal == SIGKILL) {
    out.status = ExecStatus::kMemoryLimit;
    out.reason = "killed by the OOM killer at the sandbox's memory limit";
  } else if (cpu_limit_hit) {
    out.status = ExecStatus::kTimeout;
    out.reason = "cpu time limit of " + std::to_string(*options_.cpu_time_ms) + " ms reached";
  } else if (info.signaled) {
    out.status = ExecStatus::kSignaled;
    out.reason = std::string("terminated by signal ") + ::strsignal(info.signal);
  } else {
    out.status = ExecStatus::kExited;
  }
  return out;
}

void ExecSession::kill(int signal) {
  if (exit_info_) return;
  kill_requested_ = true;
  child_->signal_group(signal);
}

base::Status ExecSession::resize(PtySize size) {
  if (!pty_master_) return base::plain_error("the exec has no pseudo-terminal (start it with pty)");
  winsize ws{size.rows, size.cols, 0, 0};
  if (::ioctl(pty_master_.get(), TIOCSWINSZ, &ws) != 0) return base::errno_error("ioctl(TIOCSWINSZ)");
  return {};
}

void ExecSession::write_stdin(std::string bytes, bool eof, WriteDone done) {
  if (stdin_closed_) {
    done(exit_info_ ? "the process has exited"
                    : "stdin is closed (the exec was started with stdin \"null\" or eof was sent)");
    return;
  }
  if (eof) stdin_closed_ = true;  // later writes are refused at once
  writes_.push_back({std::move(bytes), eof, std::move(done)});
  if (!writing_) write_next();
}

void ExecSession::write_next() {
  if (writes_.empty()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  asio::async_write(stdin_, asio::buffer(writes_.front().bytes),
                    [self](boost::system::error_code ec, size_t) {
                      if (self->writes_.empty()) return;  // failed meanwhile
                      PendingWrite write = std::move(self->writes_.front());
                      self->writes_.pop_front();
                      if (ec) {
                        write.done("writing stdin failed: " + ec.message());
                      } else {
                        if (write.eof) {
                          boost::system::error_code ignored;
                          self->stdin_.close(ignored);
                        }
                        write.done(std::nullopt);
                      }
                      self->write_next();
                    });
}

void ExecSession::fail_pending_writes(const std::string& why) {
  auto writes = std::move(writes_);
  writes_.clear();
  for (auto& write : writes) write.done(why);
}

}  // namespace agentd::exec
