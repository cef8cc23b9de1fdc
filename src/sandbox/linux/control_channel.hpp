#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace agentd::sandbox::linuxns {

// The control channel between agentd and a sandbox's init: a SOCK_SEQPACKET
// socket pair carrying one JSON object per packet, plus file descriptors
// (SCM_RIGHTS) where a message needs them (the stdio of an exec).
struct ControlMessage {
  nlohmann::json body;
  std::vector<base::UniqueFd> fds;
};

inline constexpr size_t kMaxControlMessage = 256 * 1024;
inline constexpr size_t kMaxControlFds = 8;

// Sends one message; `fds` are borrowed (duplicated by the kernel).
base::Status send_control(int socket, const nlohmann::json& body, const std::vector<int>& fds = {});

// Receives one message. nullopt with an ok status means the peer closed.
// With `dont_wait`, an empty socket is an error with code EAGAIN.
base::Result<std::optional<ControlMessage>> receive_control(int socket, bool dont_wait = false);

// A connected SOCK_SEQPACKET pair, both ends CLOEXEC.
base::Result<std::pair<base::UniqueFd, base::UniqueFd>> control_socket_pair();

}  // namespace agentd::sandbox::linuxns
