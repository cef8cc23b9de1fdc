#pragma once

#include <nlohmann/json.hpp>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace agentd::sandbox::linuxns {

// File requests and replies are too large for one control packet (a read
// moves up to 16 MiB): their JSON travels in a sealed memfd passed beside a
// small control message.

// Largest JSON accepted in a memfd: the file cap, base64, plus room.
inline constexpr size_t kMaxFileMessage = 24 * 1024 * 1024;

base::Result<base::UniqueFd> json_to_memfd(const nlohmann::json& body);
// Reads a JSON document from a memfd (a regular file, at most kMaxFileMessage).
base::Result<nlohmann::json> json_from_memfd(int fd);

}  // namespace agentd::sandbox::linuxns
