#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>

#include "base/token_bucket.hpp"
#include "base/unique_fd.hpp"
#include "sandbox/backend.hpp"

namespace agentd::sandbox::linuxns {

// agentd's end of a sandbox's seccomp user-notification listener. Each
// denied syscall stops the calling process until it is answered here: with
// the errno the filter would have returned itself (never "continue"), and a
// Violation naming the syscall and the process. Without an answer (agentd
// gone) the kernel fails the syscall with ENOSYS: still denied.
class SeccompMonitor : public std::enable_shared_from_this<SeccompMonitor> {
 public:
  using Handler = std::function<void(const Violation&)>;
  // `init_host_pid`: the sandbox's PID 1, where the ancestry walk stops.
  SeccompMonitor(boost::asio::io_context& io, base::UniqueFd listener, pid_t init_host_pid);
  ~SeccompMonitor();
  void start();
  // False when it could not set itself up: nothing is reported (and the
  // kernel fails denied syscalls with ENOSYS once the listener is closed).
  bool running() const { return listener_.is_open(); }
  void set_handler(Handler handler) { handler_ = std::move(handler); }
  void stop();

 private:
  void wait_readable();
  bool answer_one();
  Violation describe(pid_t host_pid, int syscall_nr, uint64_t first_arg) const;

  boost::asio::posix::stream_descriptor listener_;
  pid_t init_host_pid_;
  Handler handler_;
  base::TokenBucket lookups_{100, 50};  // /proc lookups of pid and ancestry
  struct Buffers;
  std::unique_ptr<Buffers> buffers_;
};

}  // namespace agentd::sandbox::linuxns
