#pragma once

#include <chrono>
#include <string>

namespace agentd::base {

// RFC 3339 UTC: "2024-05-01T12:00:00Z", or with milliseconds
// "2024-05-01T12:00:00.123Z" (event times that come in bursts).
std::string utc_time(std::chrono::system_clock::time_point t, bool milliseconds = false);

}  // namespace agentd::base
