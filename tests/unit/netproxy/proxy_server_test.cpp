// The proxy on loopback: real sockets, a real echo server and a real HTTP origin. No internet,
// no DNS beyond "localhost" from /etc/hosts.
#include "netproxy/proxy_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "loopback_peers.hpp"

namespace agentd::netproxy {
namespace {

using namespace agentd::netproxy::testing;
namespace asio = boost::asio;

std::string socks_greeting() { return std::string{5, 1, 0}; }

std::string socks_connect_ipv4(uint16_t port, char command = 1) {
  return std::string{
      5, command, 0, 1, 127, 0, 0, 1, static_cast<char>(port >> 8), static_cast<char>(port & 0xff)};
}

std::string socks_connect_domain(const std::string& name, uint16_t port) {
  std::string request{5, 1, 0, 3, static_cast<char>(name.size())};
  request += name;
  request += static_cast<char>(port >> 8);
  request += static_cast<char>(port & 0xff);
  return request;
}

class ProxyServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    echo_port_ = start_echo_server(io_);
    origin_ = start_http_origin(io_);
    io_thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    proxy_.reset();
    run_on_io([] {});  // the proxy's closing has run
    io_.stop();
    io_thread_.join();
  }

  void start_proxy(std::vector<std::string> allow, std::vector<std::string> deny = {},
                   ProxyServer::Options options = {}) {
    auto parsed = parse_allowlist(allow, deny);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message();
    ProxyServer::Callbacks callbacks;
    callbacks.on_decision = [this](const ConnectionEvent& event) {
      std::lock_guard lock(events_mutex_);
      events_.push_back(event);
    };
    proxy_ = std::make_unique<ProxyServer>(
        io_, std::make_shared<const Allowlist>(std::move(*parsed)), callbacks, options);
    Listener listener = listen_on_loopback();
    proxy_port_ = listener.port;
    auto served = proxy_->serve(listener.fd.release());
    ASSERT_TRUE(served.ok()) << served.error().message();
  }

  std::string loopback(uint16_t port) const { return "127.0.0.1:" + std::to_string(port); }

  std::vector<ConnectionEvent> events() {
    std::lock_guard lock(events_mutex_);
    return events_;
  }

  void run_on_io(std::function<void()> work) {
    std::promise<void> done;
    asio::post(io_, [&] {
      work();
      done.set_value();
    });
    done.get_future().wait();
  }

  // Waits (boundedly) for the proxy to have closed every connection, so stats are final.
  bool wait_until_idle() {
    for (int i = 0; i < 1000; ++i) {
      if (proxy_->stats().connections_open == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // Sends a CONNECT and returns the response head.
  std::string http_connect(int fd, const std::string& target) {
    send_all(fd, "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n");
    return receive_until(fd, "\r\n\r\n");
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread io_thread_;
  uint16_t echo_port_ = 0;
  HttpOrigin origin_;
  std::unique_ptr<ProxyServer> proxy_;
  uint16_t proxy_port_ = 0;
  std::mutex events_mutex_;
  std::vector<ConnectionEvent> events_;
};

TEST_F(ProxyServerTest, HttpConnectRelaysBothWaysAndCounts) {
  start_proxy({loopback(echo_port_)});
  base::UniqueFd client = connect_to(proxy_port_);
  ASSERT_TRUE(client);
  // Bytes sent right behind the head (TLS clients do this) must reach the destination too.
  send_all(client.get(), "CONNECT " + loopback(echo_port_) + " HTTP/1.1\r\n\r\nearly");
  // The echo of "early" may arrive in the same read as the response head.
  EXPECT_EQ(receive_until(client.get(), "early"),
            "HTTP/1.1 200 Connection established\r\n\r\nearly");
  send_all(client.get(), "ping over the tunnel");
  EXPECT_EQ(receive_exactly(client.get(), 20), "ping over the tunnel");
  // Half-close: our end of stream reaches the echo server, which then ends its side.
  ::shutdown(client.get(), SHUT_WR);
  bool ended = false;
  EXPECT_EQ(receive_to_end(client.get(), &ended), "");
  EXPECT_TRUE(ended);

  ASSERT_TRUE(wait_until_idle());
  const auto all = events();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].allowed);
  EXPECT_EQ(all[0].protocol, "http-connect");
  EXPECT_EQ(all[0].destination, loopback(echo_port_));
  ASSERT_TRUE(all[0].resolved);
  EXPECT_EQ(all[0].resolved->to_string(), "127.0.0.1");
  const Stats stats = proxy_->stats();
  const DestinationStats& counts = stats.destinations.at(loopback(echo_port_));
  EXPECT_EQ(counts.allowed, 1u);
  EXPECT_EQ(counts.refused, 0u);
  EXPECT_EQ(counts.bytes_up, 25u);
  EXPECT_EQ(counts.bytes_down, 25u);
  EXPECT_EQ(stats.connections_accepted, 1u);
}

TEST_F(ProxyServerTest, HttpConnectToLocalhostByNameIsRefusedEvenWhenTheNameIsListed) {
  start_proxy({"localhost"});
  base::UniqueFd client = connect_to(proxy_port_);
  ASSERT_TRUE(client);
  const std::string target = "localhost:" + std::to_string(echo_port_);
  send_all(client.get(), "CONNECT " + target + " HTTP/1.1\r\n\r\n");
  const std::string response = receive_to_end(client.get());
  EXPECT_TRUE(response.starts_with("HTTP/1.1 403 Forbidden\r\n")) << response;
  EXPECT_NE(response.find(target), std::string::npos) << response;
  EXPECT_NE(response.find("loopback"), std::string::npos) << response;

  ASSERT_TRUE(wait_until_idle());
  const auto all = events();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_FALSE(all[0].allowed);
  EXPECT_EQ(all[0].destination, target);
  ASSERT_TRUE(all[0].resolved);
  EXPECT_TRUE(all[0].resolved->is_loopback()) << all[0].resolved->to_string();
  EXPECT_EQ(proxy_->stats().destinations.at(target).refused, 1u);
}

TEST_F(ProxyServerTest, UnlistedNamesAreRefusedWithoutResolving) {
  start_proxy({"example.com:443"});
  base::UniqueFd client = connect_to(proxy_port_);
  ASSERT_TRUE(client);
  const std::string response = http_connect(client.get(), "secret.attacker.invalid:443");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 403 Forbidden\r\n")) << response;
  ASSERT_TRUE(wait_until_idle());
  const auto all = events();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_FALSE(all[0].allowed);
  EXPECT_FALSE(all[0].resolved) << "the name must not have been resolved";
  EXPECT_NE(all[0].reason.find("no allow rule"), std::string::npos) << all[0].reason;
}

TEST_F(ProxyServerTest, Socks5RefusesLocalhostByNameWithRulesetCode) {
  start_proxy({"localhost"});
  base::UniqueFd client = connect_to(proxy_port_);
  ASSERT_TRUE(client);
  send_all(client.get(), socks_greeting());
  EXPECT_EQ(receive_exactly(client.get(), 2), std::string({5, 0}));
  send_all(client.get(), socks_connect_domain("localhost", echo_port_));
  const std::string reply = receive_exactly(client.get(), 10);
  ASSERT_EQ(reply.size(), 10u);
  EXPECT_EQ(reply[0], 5);
  EXPECT_EQ(reply[1], 0x02) << "not allowed by ruleset";
  ASSERT_TRUE(wait_until_idle());
  const auto all = events();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_FALSE(all[0].allowed);
  EXPECT_EQ(all[0].protocol, "socks5");
}

TEST_F(ProxyServerTest, Socks5ConnectsToAnExplicitlyListedLoopbackAddress) {
  start_proxy({loopback(echo_port_)});
  base::UniqueFd client = connect_to(proxy_port_);
  ASSERT_TRUE(client);
  send_all(client.get(), socks_greeting() + socks_connect_ipv4(echo_port_));
  EXPECT_EQ(receive_exactly(client.get(), 2), std::string({5, 0}));
  const std::string reply = receive_exactly(client.get(), 10);
  ASSERT_EQ(reply.size(), 10u);
  EXPECT_EQ(reply[1], 0x00);
  send_all(client.get(), "socks data");
  EXPECT_EQ(receive_exactly(client.get(), 10), "socks data");
  client.reset();
  ASSERT_TRUE(wait_until_idle());
  const auto all = events();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].allowed);
  EXPECT_EQ(all[0].protocol, "socks5");
  const DestinationStats counts = proxy_->stats().destinations.at(loopback(echo_port_));
  EXPECT_EQ(counts.allowed, 1u);
  EXPECT_EQ(counts.bytes_up, 10u);
  EXPECT_EQ(counts.bytes_down, 10u);
}

TEST_F(ProxyServerTest, Socks5DomainLocalhostAllowedWhenItsAddressIsListed) {
  start_proxy({loopback(echo_port_), "[::1]:" + std::to_string(echo_port_)});
  base::UniqueFd client = connect_to(proxy_port_);
  ASSERT_TRUE(client);
  send_all(client.get(), socks_greeting() + socks_connect_domain("localhost", echo_port_));
  EXPECT_EQ(receive_exactly(client.get(), 2), std::string({5, 0}));
  const std::string reply = receive_exactly(client.get(), 10);
  ASSERT_EQ(reply.size(), 10u);
  // ::1 may come first but the echo server only listens on 127.0.0.1: the proxy must go on to
  // the next allowed address.
  EXPECT_EQ(reply[1], 0x00);
  send_all(client.get(), "x");
  EXPECT_EQ(receive_exactly(client.get(), 1), "x");
}

TEST_F(ProxyServerTest, Socks5UnsupportedCommandAndMethod) {
  start_proxy({loopback(echo_port_)});
  base::UniqueFd bind_client = connect_to(proxy_port_);
  ASSERT_TRUE(bind_client);
  send_all(bind_client.get(), socks_greeting() + socks_connect_ipv4(echo_port_, /*BIND*/ 2));
  EXPECT_EQ(receive_exactly(bind_client.get(), 2), std::string({5, 0}));
  const std::string reply = receive_exactly(bind_client.get(), 10);
  ASSERT_EQ(reply.size(), 10u);
  EXPECT_EQ(reply[1], 0x07) << "command not supported";

  base::UniqueFd auth_client = connect_to(proxy_port_);
  ASSERT_TRUE(auth_client);
  send_all(auth_client.get(), std::string{5, 1, 2});  // only username/password offered
  EXPECT_EQ(receive_exactly(auth_client.get(), 2), std::string({5, static_cast<char>(0xff)}));
  bool ended = false;
  receive_to_end(auth_client.get(), &ended);
  EXPECT_TRUE(ended);
}

TEST_F(ProxyServerTest, Socks5MappedIpv6LoopbackIsRefusedAndUnknownAddressTypeIs08) {
  start_proxy({"0.0.0.0/0", "::/0"});  // every public address, nothing special
  base::UniqueFd mapped = connect_to(proxy_port_);
  ASSERT_TRUE(mapped);
  std::string request{5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, 127, 0, 0, 1};
  request += static_cast<char>(echo_port_ >> 8);
  request += static_cast<char>(echo_port_ & 0xff);
  send_all(mapped.get(), socks_greeting() + request);
  EXPECT_EQ(receive_exactly(mapped.get(), 2), std::string({5, 0}));
  const std::string reply = receive_exactly(mapped.get(), 10);
  ASSERT_EQ(reply.size(), 10u);
  EXPECT_EQ(reply[1], 0x02) << "::ffff:127.0.0.1 is loopback";

  base::UniqueFd unknown = connect_to(proxy_port_);
  ASSERT_TRUE(unknown);
  send_all(unknown.get(), socks_greeting() + std::string{5, 1, 0, 9});
  EXPECT_EQ(receive_exactly(unknown.get(), 2), std::string({5, 0}));
  const std::string unknown_reply = receive_exactly(unknown.get(), 10);
  ASSERT_EQ(unknown_reply.size(), 10u);
  EXPECT_EQ(unknown_reply[1], 0x08) << "address type not supported";

  ASSERT_TRUE(wait_until_idle());
  const auto all = events();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_FALSE(all[0].allowed);
  EXPECT_EQ(all[0].destination, "[::ffff:127.0.0.1]:" + std::to_string(echo_port_));
}

TEST_F(ProxyServerTest, UnreachableDestinationGives502AndSocksConnectionRefused) {
  uint16_t closed_port = 0;
  {
    Listener unused = listen_on_loopback();
    closed_port = unused.port;
  }  // closed: connecting there is refused
  start_proxy({loopback(closed_port)});
  base::UniqueFd http_client = connect_to(proxy_port_);
  ASSERT_TRUE(http_client);
  const std::string response = http_connect(http_client.get(), loopback(closed_port));
  EXPECT_TRUE(response.starts_with("HTTP/1.1 502 Bad Gateway\r\n")) << response;

  base::UniqueFd socks_client = connect_to(proxy_port_);
  ASSERT_TRUE(socks_client);
  send_all(socks_client.get(), socks_greeting() + socks_connect_ipv4(closed_port));
  receive_exactly(socks_client.get(), 2);
  const std::string reply = receive_exactly(socks_client.get(), 10);
  ASSERT_EQ(reply.size(), 10u);
  EXPECT_EQ(reply[1], 0x05) << "connection refused";
  ASSERT_TRUE(wait_until_idle());
  const DestinationStats counts = proxy_->stats().destinations.at(loopback(closed_port));
  EXPECT_EQ(counts.allowed, 2u);
  EXPECT_EQ(counts.failed, 2u);
}

TEST_F(ProxyServerTest, PlainHttpIsForwardedInOriginFormWithoutProxyHeaders) {
  start_proxy({loopback(origin_.port)});
  base::UniqueFd client = connect_to(proxy_port_);
  ASSERT_TRUE(client);
  send_all(client.get(), "GET http://" + loopback(origin_.port) +
                             "/path?q=1 HTTP/1.1\r\nHost: elsewhere\r\n"
                             "Proxy-Authorization: Basic c2VjcmV0\r\n"
                             "Proxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n");
  bool ended = false;
  const std::string response = receive_to_end(client.get(), &ended);
  EXPECT_TRUE(ended);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response;
  EXPECT_TRUE(response.ends_with("hello from origin")) << response;

  ASSERT_TRUE(wait_until_idle());
  const auto heads = origin_.received();
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0], "GET /path?q=1 HTTP/1.1\r\nHost: " + loopback(origin_.port) +
                          "\r\nAccept: */*\r\nConnection: close\r\n\r\n");
  const auto all = events();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].protocol, "http");
  EXPECT_TRUE(all[0].allowed);
}

TEST_F(ProxyServerTest, PlainHttpToAnUnlistedDestinationIs403) {
  start_proxy({});
  base::UniqueFd client = connect_to(proxy_port_);
  ASSERT_TRUE(client);
  send_all(client.get(), "GET http://" + loopback(origin_.port) + "/ HTTP/1.1\r\n\r\n");
  const std::string response = receive_to_end(client.get());
  EXPECT_TRUE(response.starts_with("HTTP/1.1 403 Forbidden\r\n")) << response;
  EXPECT_NE(response.find(loopback(origin_.port)), std::string::npos) << response;
  EXPECT_TRUE(origin_.received().empty());
}

TEST_F(ProxyServerTest, MalformedRequestsGet400) {
  start_proxy({loopback(echo_port_)});
  for (const std::string request :
       {"this is not http\r\n\r\n", "GET /origin-form HTTP/1.1\r\nHost: a\r\n\r\n",
        "CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n"}) {
    base::UniqueFd client = connect_to(proxy_port_);
    ASSERT_TRUE(client);
    send_all(client.get(), request);
    const std::string response = receive_to_end(client.get());
    EXPECT_TRUE(response.starts_with("HTTP/1.1 400 Bad Request\r\n")) << request << response;
  }
  EXPECT_TRUE(events().empty());
}

TEST_F(ProxyServerTest, OversizedHeadGets431) {
  ProxyServer::Options options;
  options.max_head_bytes = 1024;
  start_proxy({loopback(echo_port_)}, {}, options);
  base::UniqueFd client = connect_to(proxy_port_);
  ASSERT_TRUE(client);
  send_all(client.get(),
           "CONNECT " + loopback(echo_port_) + " HTTP/1.1\r\nX-Big: " + std::string(2000, 'x'));
  const std::string response = receive_to_end(client.get());
  EXPECT_TRUE(response.starts_with("HTTP/1.1 431 ")) << response;
}

TEST_F(ProxyServerTest, SlowHeadGets408) {
  ProxyServer::Options options;
  options.handshake_timeout = std::chrono::milliseconds(100);
  start_proxy({loopback(echo_port_)}, {}, options);
  base::UniqueFd client = connect_to(proxy_port_);
  ASSERT_TRUE(client);
  send_all(client.get(), "CONNECT 127.0.0.1:1 HTTP/1.1\r\n");  // and then nothing
  const std::string response = receive_to_end(client.get());
  EXPECT_TRUE(response.starts_with("HTTP/1.1 408 ")) << response;
}

TEST_F(ProxyServerTest, DenyRulesWin) {
  start_proxy({"127.0.0.0/8"}, {loopback(echo_port_)});
  base::UniqueFd client = connect_to(proxy_port_);
  ASSERT_TRUE(client);
  const std::string response = http_connect(client.get(), loopback(echo_port_));
  EXPECT_TRUE(response.starts_with("HTTP/1.1 403 Forbidden\r\n")) << response;
  ASSERT_TRUE(wait_until_idle());
  const auto all = events();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_NE(all[0].reason.find("denied by rule"), std::string::npos) << all[0].reason;
}

TEST_F(ProxyServerTest, StatsKeepABoundedNumberOfDestinations) {
  ProxyServer::Options options;
  options.max_tracked_destinations = 2;
  start_proxy({}, {}, options);
  for (const char* name : {"a.invalid", "b.invalid", "c.invalid", "d.invalid"}) {
    base::UniqueFd client = connect_to(proxy_port_);
    ASSERT_TRUE(client);
    EXPECT_TRUE(http_connect(client.get(), std::string(name) + ":443").starts_with("HTTP/1.1 403"));
  }
  ASSERT_TRUE(wait_until_idle());
  const Stats stats = proxy_->stats();
  ASSERT_EQ(stats.destinations.size(), 3u);
  EXPECT_EQ(stats.destinations.at("a.invalid:443").refused, 1u);
  EXPECT_EQ(stats.destinations.at("b.invalid:443").refused, 1u);
  EXPECT_EQ(stats.destinations.at("(other)").refused, 2u);
  EXPECT_EQ(events().size(), 4u) << "every refusal is still reported";
}

TEST_F(ProxyServerTest, StopClosesTunnelsAndTheListener) {
  start_proxy({loopback(echo_port_)});
  base::UniqueFd client = connect_to(proxy_port_);
  ASSERT_TRUE(client);
  ASSERT_EQ(http_connect(client.get(), loopback(echo_port_)),
            "HTTP/1.1 200 Connection established\r\n\r\n");
  send_all(client.get(), "before");
  ASSERT_EQ(receive_exactly(client.get(), 6), "before");
  base::UniqueFd idle = connect_to(proxy_port_);  // said nothing yet
  ASSERT_TRUE(idle);

  proxy_->stop();
  run_on_io([] {});
  bool ended = false;
  receive_to_end(client.get(), &ended);
  EXPECT_TRUE(ended) << "the tunnel must be closed by stop()";
  receive_to_end(idle.get(), &ended);
  EXPECT_TRUE(ended) << "a connection still in its handshake must be closed too";
  EXPECT_FALSE(connect_to(proxy_port_)) << "the listening socket must be closed";
  ASSERT_TRUE(wait_until_idle());
  const size_t events_at_stop = events().size();
  EXPECT_EQ(events_at_stop, 1u);
}

TEST_F(ProxyServerTest, ServesAUnixListeningSocketToo) {
  start_proxy({loopback(echo_port_)});
  base::UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // Abstract name: nothing on disk to clean up.
  const std::string name = "agentd-netproxy-test-" + std::to_string(::getpid());
  std::copy(name.begin(), name.end(), address.sun_path + 1);
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(listener.get(), 8), 0);
  ASSERT_TRUE(proxy_->serve(listener.release()).ok());

  base::UniqueFd client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(http_connect(client.get(), loopback(echo_port_)),
            "HTTP/1.1 200 Connection established\r\n\r\n");
  send_all(client.get(), "via unix");
  EXPECT_EQ(receive_exactly(client.get(), 8), "via unix");
}

TEST_F(ProxyServerTest, ServeRejectsASocketThatIsNotListening) {
  start_proxy({});
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto status = proxy_->serve(fd);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message().find("not listening"), std::string::npos)
      << status.error().message();
}

}  // namespace
}  // namespace agentd::netproxy
