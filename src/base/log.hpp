#pragma once

#include <string_view>

namespace agentd::base {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// Logs go to stderr only: stdout belongs to the protocol.
void set_log_level(LogLevel level);
LogLevel log_level();
void log(LogLevel level, std::string_view message);

inline void log_error(std::string_view m) { log(LogLevel::kError, m); }
inline void log_warn(std::string_view m) { log(LogLevel::kWarn, m); }
inline void log_info(std::string_view m) { log(LogLevel::kInfo, m); }
inline void log_debug(std::string_view m) { log(LogLevel::kDebug, m); }

}  // namespace agentd::base
