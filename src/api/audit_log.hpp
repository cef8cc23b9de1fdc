#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace agentd::api {

// An append-only JSON Lines record of what clients did: sandboxes created
// and destroyed, execs finished, requests refused. Never holds environment
// values. Rotates by size: path -> path.1 -> ... -> path.<keep>.
class AuditLog {
 public:
  static constexpr uint64_t kDefaultMaxBytes = 10ull << 20;
  static constexpr int kDefaultKeep = 3;

  static base::Result<std::unique_ptr<AuditLog>> open(std::string path,
                                                      uint64_t max_bytes = kDefaultMaxBytes,
                                                      int keep = kDefaultKeep);

  // Writes one line: {"time", "event", ...fields}. Failures are logged, never thrown.
  void record(const std::string& event, nlohmann::json fields);

  const std::string& path() const { return path_; }

 private:
  AuditLog(std::string path, uint64_t max_bytes, int keep)
      : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep) {}
  base::Status reopen();
  void rotate();

  std::string path_;
  uint64_t max_bytes_;
  int keep_;
  base::UniqueFd fd_;
  uint64_t size_ = 0;
};

}  // namespace agentd::api
