#include "base/log.hpp"

#include <unistd.h>

#include <string>

namespace agentd::base {
namespace {
LogLevel g_level = LogLevel::kInfo;
constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void log(LogLevel level, std::string_view message) {
  if (level > g_level) return;
  std::string line = "agentd[";
  line += kNames[static_cast<int>(level)];
  line += "] ";
  line += message;
  line += '\n';
  // One write() per line so concurrent writers do not interleave mid-line.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace agentd::base
