// Network attacks with network "none": reaching the internet, host services
// on 127.0.0.1, host abstract and path unix sockets, DNS, socket families
// the seccomp filter refuses. Plus the positive probe: the sandbox's own
// loopback works.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "attack.hpp"

namespace attack {

namespace {

constexpr int kConnectWaitMs = 3000;

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = 0;
};

Endpoint endpoint(const std::string& ip, const std::string& port) {
  Endpoint e;
  uint16_t p = htons(uint16_t(parse_number(port)));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&e.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.addr);
  if (::inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = e.family = AF_INET;
    v4->sin_port = p;
    e.len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = e.family = AF_INET6;
    v6->sin6_port = p;
    e.len = sizeof *v6;
  } else {
    usage_error("not an IP address: " + ip);
  }
  return e;
}

// Non-blocking connect with a bounded wait; 0 when connected, else errno
// (ETIMEDOUT when nothing answered in time).
int connect_bounded(int fd, const sockaddr* addr, socklen_t len) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (::connect(fd, addr, len) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, kConnectWaitMs) <= 0) return ETIMEDOUT;
  int err = 0;
  socklen_t err_len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
  return err;
}

std::string read_some(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 1000) <= 0) return "";
  char buf[128];
  ssize_t n = ::read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, size_t(n)) : "";
}

// connect IP PORT [EXPECTED]: TCP. A refusal blocks; a connection escapes,
// and so does silence (a route exists and the packet left).
void tcp_connect(const Args& args) {
  Endpoint e = endpoint(args[0], args[1]);
  int fd = ::socket(e.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) blocked(errno, "socket");
  int err = connect_bounded(fd, reinterpret_cast<sockaddr*>(&e.addr), e.len);
  std::string where = args[0] + ":" + args[1];
  if (err == ETIMEDOUT) escaped("no refusal from " + where + " within 3 s: a route exists", err);
  if (err != 0) blocked(err, "connect " + where);
  std::string got = read_some(fd);
  bool match = args.size() > 2 && got.find(args[2]) != std::string::npos;
  escaped("connected to " + where + (match ? " and read the host's token" : ""));
}

// udp-send IP PORT: escaped when the datagram is accepted for sending.
void udp_send(const Args& args) {
  Endpoint e = endpoint(args[0], args[1]);
  int fd = ::socket(e.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) blocked(errno, "socket");
  if (::sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&e.addr), e.len) != 1) {
    blocked(errno, "sendto " + args[0] + ":" + args[1]);
  }
  escaped("a datagram to " + args[0] + ":" + args[1] + " was sent");
}

void unix_connect(const std::string& name, bool abstract) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) blocked(errno, "socket(AF_UNIX)");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t room = sizeof addr.sun_path - 1;
  if (name.size() > room - 1) usage_error("socket name too long");
  std::memcpy(addr.sun_path + (abstract ? 1 : 0), name.data(), name.size());
  socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + (abstract ? 1 : 0) + name.size() +
                            (abstract ? 0 : 1));
  int err = connect_bounded(fd, reinterpret_cast<sockaddr*>(&addr), len);
  std::string what = (abstract ? "abstract socket @" : "unix socket ") + name;
  if (err == ETIMEDOUT) escaped("no refusal from " + what + " within 3 s", err);
  if (err != 0) blocked(err, "connect " + what);
  escaped("connected to " + what);
}

void connect_abstract(const Args& args) { unix_connect(args[0], true); }
void connect_unix(const Args& args) { unix_connect(args[0], false); }

// dns NAME: escaped when NAME resolves.
void dns(const Args& args) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int rc = ::getaddrinfo(args[0].c_str(), "80", &hints, &result);
  if (rc != 0)
    blocked(rc == EAI_SYSTEM ? errno : 0, std::string("getaddrinfo: ") + ::gai_strerror(rc));
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw =
      result->ai_family == AF_INET
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(result->ai_addr)->sin_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(result->ai_addr)->sin6_addr);
  ::inet_ntop(result->ai_family, raw, text, sizeof text);
  ::freeaddrinfo(result);
  escaped(args[0] + " resolved to " + text);
}

// loopback: the sandbox's own 127.0.0.1 carries a TCP round trip.
void loopback(const Args&) {
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (server < 0 || ::bind(server, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(server, 1) != 0 ||
      ::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    broken("listen on 127.0.0.1", errno);
  }
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int err = connect_bounded(client, reinterpret_cast<sockaddr*>(&addr), len);
  if (err != 0) broken("connect to own listener", err);
  int conn = ::accept(server, nullptr, nullptr);
  if (conn < 0 || ::write(client, "ping", 4) != 4) broken("accept/write", errno);
  std::string got = read_some(conn);
  if (got != "ping") broken("round trip returned '" + got + "'");
  ok("TCP round trip on 127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
}

struct Family {
  const char* name;
  unsigned long long domain;
  int type;
  int protocol;
};

const Family kFamilies[] = {
    {"netlink", AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */},
    {"netlink-high-bits", (1ULL << 32) | AF_NETLINK, SOCK_RAW, 0},
    {"unix-high-bits", (1ULL << 32) | AF_UNIX, SOCK_STREAM, 0},
    {"packet", AF_PACKET, SOCK_RAW, 0x0300 /* htons(ETH_P_ALL) */},
    {"vsock", 40 /* AF_VSOCK */, SOCK_STREAM, 0},
    {"alg", 38 /* AF_ALG */, SOCK_SEQPACKET, 0},
    {"xdp", 44 /* AF_XDP */, SOCK_RAW, 0},
    {"key", 15 /* PF_KEY */, SOCK_RAW, 2 /* PF_KEY_V2 */},
    {"can", 29 /* AF_CAN */, SOCK_RAW, 1 /* CAN_RAW */},
    {"tipc", 30 /* AF_TIPC */, SOCK_RDM, 0},
    {"rds", 21 /* AF_RDS */, SOCK_SEQPACKET, 0},
    {"bluetooth", 31 /* AF_BLUETOOTH */, SOCK_RAW, 0},
    {"inet-raw", AF_INET, SOCK_RAW, IPPROTO_RAW},
    {"inet6-raw", AF_INET6, SOCK_RAW, IPPROTO_RAW},
};

// socket FAMILY: escaped when the socket is created.
void make_socket(const Args& args) {
  for (const Family& f : kFamilies) {
    if (args[0] != f.name) continue;
    long fd = ::syscall(SYS_socket, f.domain, f.type, f.protocol);
    if (fd < 0) blocked(errno, std::string("socket(") + f.name + ")");
    escaped(std::string("created a ") + f.name + " socket");
  }
  usage_error("unknown family " + args[0]);
}

}  // namespace

namespace {

// proxy-connect PROXY_PORT HOST PORT: asks the sandbox's egress proxy on
// 127.0.0.1:PROXY_PORT for a tunnel (HTTP CONNECT), then sends "ping\n"
// through it. A refusal (any status but 200) blocks; a tunnel whose far end
// answers is ok, with the answer as the detail.
void proxy_connect(const Args& args) {
  Endpoint proxy = endpoint("127.0.0.1", args[0]);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) broken("socket", errno);
  if (int err = connect_bounded(fd, reinterpret_cast<sockaddr*>(&proxy.addr), proxy.len)) {
    broken("connect to the proxy", err);
  }
  std::string target = args[1] + ":" + args[2];
  std::string request = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n";
  if (::write(fd, request.data(), request.size()) != ssize_t(request.size())) broken("write", errno);
  std::string head;
  for (int i = 0; i < 50 && head.find("\r\n\r\n") == std::string::npos; ++i) {
    std::string more = read_some(fd);
    if (more.empty()) break;
    head += more;
  }
  std::string status = head.substr(0, head.find("\r\n"));
  if (status.find(" 200") == std::string::npos) blocked(0, "proxy answered: " + status);
  if (::write(fd, "ping\n", 5) != 5) broken("write through the tunnel", errno);
  std::string reply = head.substr(head.find("\r\n\r\n") + 4);
  if (reply.empty()) reply = read_some(fd);
  ok("tunnel to " + target + " answered: " + reply.substr(0, reply.find('\n')));
}

}  // namespace

const std::vector<Command>& network_commands() {
  static const std::vector<Command> commands = {
      {"connect", "IP PORT [EXPECTED]", 2, tcp_connect},
      {"proxy-connect", "PROXY_PORT HOST PORT", 3, proxy_connect},
      {"udp-send", "IP PORT", 2, udp_send},
      {"connect-abstract", "NAME", 1, connect_abstract},
      {"connect-unix", "PATH", 1, connect_unix},
      {"dns", "NAME", 1, dns},
      {"loopback", "", 0, loopback},
      {"socket", "FAMILY", 1, make_socket},
  };
  return commands;
}

}  // namespace attack
