#include "base/utc_time.hpp"

#include <cstdio>
#include <ctime>

namespace agentd::base {

std::string utc_time(std::chrono::system_clock::time_point t, bool milliseconds) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm parts{};
  ::gmtime_r(&secs, &parts);
  char text[40];
  size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  if (milliseconds) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
    n += std::snprintf(text + n, sizeof text - n, ".%03d", int(ms));
  }
  return std::string(text, n) + "Z";
}

}  // namespace agentd::base
