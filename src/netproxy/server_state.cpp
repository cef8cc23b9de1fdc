#include "netproxy/server_state.hpp"

#include "base/log.hpp"
#include "netproxy/connection.hpp"

namespace agentd::netproxy {

void ServerState::report(const ConnectionEvent& event) {
  {
    std::lock_guard lock(stats_mutex_);
    DestinationStats& counts = entry(event.destination);
    (event.allowed ? counts.allowed : counts.refused) += 1;
  }
  const std::string address = event.resolved ? event.resolved->to_string() : "not resolved";
  const std::string line = "netproxy: " + std::string(event.allowed ? "allowed " : "refused ") +
                           event.protocol + " " + event.destination + " (" + address +
                           "): " + event.reason;
  if (event.allowed) {
    base::log_debug(line);
  } else {
    base::log_info(line);
  }
  if (!stopped && callbacks.on_decision) callbacks.on_decision(event);
}

void ServerState::count_failure(const std::string& destination) {
  std::lock_guard lock(stats_mutex_);
  entry(destination).failed += 1;
}

void ServerState::count_bytes(const std::string& destination, uint64_t up, uint64_t down) {
  std::lock_guard lock(stats_mutex_);
  DestinationStats& counts = entry(destination);
  counts.bytes_up += up;
  counts.bytes_down += down;
}

void ServerState::count_connection_opened() {
  std::lock_guard lock(stats_mutex_);
  stats_.connections_accepted += 1;
  stats_.connections_open += 1;
}

void ServerState::count_connection_closed() {
  std::lock_guard lock(stats_mutex_);
  stats_.connections_open -= 1;
}

Stats ServerState::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

DestinationStats& ServerState::entry(const std::string& destination) {
  // A sandbox could try many names to grow this map without bound: cap the number of keys.
  auto found = stats_.destinations.find(destination);
  if (found != stats_.destinations.end()) return found->second;
  if (stats_.destinations.size() >= options.max_tracked_destinations) {
    return stats_.destinations["(other)"];
  }
  return stats_.destinations[destination];
}

void ServerState::close_everything() {
  for (Acceptor& acceptor : acceptors) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
  }
  // Closing makes each connection's pending operations fail, so its coroutine ends and
  // unregisters itself; copy first because that may happen while we iterate.
  auto open = connections;
  for (auto& [id, weak] : open) {
    if (auto connection = weak.lock()) connection->close();
  }
}

}  // namespace agentd::netproxy
