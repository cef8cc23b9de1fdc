#include "sandbox/linux/control_channel.hpp"

#include <sys/socket.h>

#include <cstring>

namespace agentd::sandbox::linuxns {

base::Status send_control(int socket, const nlohmann::json& body, const std::vector<int>& fds) {
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxControlMessage) return base::plain_error("control message too large");
  iovec iov{text.data(), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxControlFds)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return base::errno_error("sendmsg(control)");
  return {};
}

base::Result<std::optional<ControlMessage>> receive_control(int socket, bool dont_wait) {
  // One buffer for the process: agentd and the sandbox init are single-threaded.
  static std::vector<char> buffer(kMaxControlMessage);
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxControlFds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC | (dont_wait ? MSG_DONTWAIT : 0));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return base::errno_error("recvmsg(control)");
  ControlMessage out;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      out.fds.emplace_back(fd);
    }
  }
  if (n == 0 && out.fds.empty()) return std::optional<ControlMessage>();
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return base::plain_error("control message truncated");
  out.body = nlohmann::json::parse(buffer.data(), buffer.data() + n, nullptr, false);
  if (out.body.is_discarded()) return base::plain_error("control message is not JSON");
  return std::optional<ControlMessage>(std::move(out));
}

base::Result<std::pair<base::UniqueFd, base::UniqueFd>> control_socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return base::errno_error("socketpair(AF_UNIX, SOCK_SEQPACKET)");
  }
  return std::pair<base::UniqueFd, base::UniqueFd>(base::UniqueFd(fds[0]), base::UniqueFd(fds[1]));
}

}  // namespace agentd::sandbox::linuxns
