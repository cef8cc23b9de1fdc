#include "api/audit_log.hpp"
#include "base/utc_time.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "base/log.hpp"

namespace agentd::api {

namespace {

// UTC with milliseconds: 2024-05-01T12:00:00.123Z
std::string now_iso() { return base::utc_time(std::chrono::system_clock::now(), true); }

}  // namespace

base::Result<std::unique_ptr<AuditLog>> AuditLog::open(std::string path, uint64_t max_bytes,
                                                       int keep) {
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(path), max_bytes, keep));
  if (auto opened = log->reopen(); !opened) return opened.error();
  return log;
}

base::Status AuditLog::reopen() {
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return base::errno_error("open(\"" + path_ + "\")");
  fd_.reset(fd);
  struct stat st {};
  size_ = ::fstat(fd, &st) == 0 ? uint64_t(st.st_size) : 0;
  return {};
}

void AuditLog::rotate() {
  for (int i = keep_; i >= 1; --i) {
    std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
    std::string to = path_ + "." + std::to_string(i);
    if (std::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      base::log_warn("audit log: rename(\"" + from + "\", \"" + to + "\") failed");
    }
  }
  if (keep_ < 1) ::unlink(path_.c_str());
  if (auto opened = reopen(); !opened) base::log_error("audit log: " + opened.error().message());
}

void AuditLog::record(const std::string& event, nlohmann::json fields) {
  nlohmann::json line = {{"time", now_iso()}, {"event", event}};
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = std::move(*it);
  }
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (size_ > 0 && size_ + text.size() > max_bytes_) rotate();
  if (!fd_) return;
  ssize_t n = ::write(fd_.get(), text.data(), text.size());
  if (n != ssize_t(text.size())) {
    base::log_error("audit log: write to \"" + path_ + "\" failed");
    return;
  }
  size_ += text.size();
}

}  // namespace agentd::api
