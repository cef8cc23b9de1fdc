#include "sandbox/linux/seccomp_monitor.hpp"

#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "base/log.hpp"
#include "sandbox/linux/process_tree.hpp"
#include "sandbox/linux/seccomp_filter.hpp"

namespace agentd::sandbox::linuxns {

namespace asio = boost::asio;

// libseccomp sizes these for the running kernel (it may know a larger
// struct than our headers).
// The kernel refuses (EINVAL) a receive buffer that is not all zeroes.
struct SeccompMonitor::Buffers {
  seccomp_notif* request = nullptr;
  seccomp_notif_resp* response = nullptr;
  size_t request_size = 0;
  ~Buffers() { seccomp_notify_free(request, response); }
};

SeccompMonitor::SeccompMonitor(asio::io_context& io, base::UniqueFd listener, pid_t init_host_pid)
    : listener_(io, listener.release()), init_host_pid_(init_host_pid), buffers_(new Buffers) {
  seccomp_notif_sizes sizes{};
  if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0 ||
      seccomp_notify_alloc(&buffers_->request, &buffers_->response) != 0) {
    base::log_error(std::string("seccomp notification buffers: ") + std::strerror(errno) +
                    "; denied syscalls of this sandbox fail with ENOSYS, unreported");
    stop();
    return;
  }
  buffers_->request_size = sizes.seccomp_notif;
}

SeccompMonitor::~SeccompMonitor() { stop(); }

void SeccompMonitor::start() { wait_readable(); }

void SeccompMonitor::stop() {
  boost::system::error_code ignored;
  listener_.close(ignored);
}

void SeccompMonitor::wait_readable() {
  if (!listener_.is_open() || !buffers_->request) return;
  auto self = shared_from_this();
  listener_.async_wait(asio::posix::stream_descriptor::wait_read, [self](boost::system::error_code ec) {
    if (ec || !self->listener_.is_open()) return;
    if (self->answer_one()) return self->wait_readable();
    self->stop();  // every process of the sandbox is gone, or the listener broke
  });
}

// Receiving blocks unless a notification is pending, so poll first: the
// listener also wakes up when the sandbox's last process is gone (POLLHUP),
// and then nothing will ever be pending. libseccomp returns -ECANCELED for
// every kernel error, the kernel's in errno: ENOENT means the process died
// meanwhile (routine). False when the monitor should stop.
bool SeccompMonitor::answer_one() {
  int fd = listener_.native_handle();
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) < 0 && errno != EINTR) return false;
  if (!(p.revents & POLLIN)) return !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
  seccomp_notif* request = buffers_->request;
  seccomp_notif_resp* response = buffers_->response;
  std::memset(request, 0, buffers_->request_size);
  if (seccomp_notify_receive(fd, request) != 0) {
    if (errno == ENOENT || errno == EINTR) return true;
    base::log_warn(std::string("seccomp_notify_receive: ") + std::strerror(errno) +
                   "; this sandbox's denied syscalls now fail with ENOSYS, unreported");
    return false;
  }
  // Read /proc while the process is still stopped in the syscall, within a
  // budget: a process looping on a denied syscall must not make agentd walk
  // /proc without end (later reports then have no pid).
  bool look_up = lookups_.admit(base::TokenBucket::Clock::now());
  Violation violation =
      describe(look_up ? pid_t(request->pid) : 0, request->data.nr, request->data.args[0]);
  response->id = request->id;
  response->val = 0;
  response->error = -denial_errno(request->data.nr);
  response->flags = 0;
  if (seccomp_notify_respond(fd, response) != 0 && errno != ENOENT) {
    base::log_warn(std::string("seccomp_notify_respond: ") + std::strerror(errno));
  }
  if (handler_) handler_(violation);
  return true;
}

Violation SeccompMonitor::describe(pid_t host_pid, int syscall_nr, uint64_t first_arg) const {
  Violation v;
  v.kind = "syscall";
  v.detail = syscall_name(syscall_nr);
  if (denial_errno(syscall_nr) == EAFNOSUPPORT) {
    v.detail += "(address family " + std::to_string(first_arg) + ")";
  }
  if (host_pid <= 0) return v;
  auto view = sandbox_view(host_pid, init_host_pid_);
  v.pid = view.pid;
  v.ancestry = std::move(view.ancestry);
  return v;
}

}  // namespace agentd::sandbox::linuxns
