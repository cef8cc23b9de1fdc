#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "exec/child.hpp"
#include "policy/sandbox_spec.hpp"
#include "sandbox/features.hpp"
#include "sandbox/file_ops.hpp"

namespace agentd::sandbox {

// Why sandbox/create failed, in terms the API maps to an error code.
struct CreateError {
  enum class Kind {
    kIsolationUnavailable,  // the backend cannot run here at all
    kFeatureUnavailable,    // a requested feature cannot be enforced
    kInvalidArgument,       // the request is wrong (field names it)
    kSystem,                // the host failed us (mkdir, ...)
  };
  Kind kind = Kind::kSystem;
  std::string message;
  std::string field;    // JSON path under params, for kInvalidArgument
  std::string feature;  // for kFeatureUnavailable / kIsolationUnavailable
  std::string fix;      // what the caller can do about it
};

// Something a sandboxed process tried and the kernel (or agentd's egress
// proxy) refused, as reported to the client in sandbox/violation.
struct Violation {
  std::string kind;    // "syscall", "filesystem" or "network"
  std::string detail;  // the syscall, path or destination
  pid_t pid = 0;       // as the sandbox sees it; 0 when unknown
  // The process's ancestors as the sandbox sees them, nearest first, up to
  // (not including) PID 1: which exec it belongs to.
  std::vector<pid_t> ancestry;
};

// One live sandbox. Processes are launched through it; the exec layer owns
// their lifetime. The caller kills every exec before calling destroy().
class Sandbox {
 public:
  virtual ~Sandbox() = default;
  virtual const std::string& workdir() const = 0;  // host path
  // The workdir as processes in the sandbox see it (HOME, default cwd).
  virtual const std::string& visible_workdir() const = 0;
  virtual policy::NetworkMode network() const = 0;
  virtual const std::vector<FeatureState>& capabilities() const = 0;
  virtual std::variant<exec::LaunchedChild, exec::LaunchFailure> launch(
      const exec::LaunchRequest& request) = 0;
  // Removes what the backend created; returns whether the workdir was removed.
  virtual bool destroy(bool keep_workdir) = 0;
  // Why an exec of this sandbox cannot have its own `limits.<wire_name>` (a
  // phrase that follows the limit's name), or
  // nullopt when it can. By default: when the sandbox reports it unavailable.
  virtual std::optional<std::string> exec_limit_problem(const std::string& wire_name) const {
    for (const auto& f : capabilities()) {
      if (f.name == "limits." + wire_name) {
        if (f.state != FeatureState::State::kUnavailable) return std::nullopt;
        return "unavailable in this sandbox: " + f.reason;
      }
    }
    return "not supported by this backend";
  }
  // Stops every process of the sandbox in place (freezer) and lets it go on.
  virtual base::Status suspend() {
    return base::plain_error("this backend cannot suspend: it needs the freezer cgroup of "
                             "isolation \"linux\"");
  }
  virtual base::Status resume() { return suspend(); }
  // Cumulative usage of the whole sandbox, when the backend measures it.
  struct Usage {
    uint64_t cpu_time_ms = 0;
    uint64_t peak_memory_bytes = 0;
    uint64_t oom_kills = 0;
  };
  virtual std::optional<Usage> usage() const { return std::nullopt; }
  // Where refusals of this sandbox are reported from now on (backends that
  // cannot observe them never call it).
  virtual void on_violation(std::function<void(const Violation&)> handler) { (void)handler; }
  // Egress through the allowlist proxy per destination ("host:port"), when
  // the sandbox has one.
  struct DestinationCount {
    uint64_t allowed = 0;
    uint64_t refused = 0;
    uint64_t bytes_sent = 0;
    uint64_t bytes_received = 0;
  };
  virtual std::map<std::string, DestinationCount> egress() const { return {}; }
  // Runs a file method (fs/*) with paths as the sandbox's processes see
  // them: relative to visible_workdir(), or absolute. Confined by the kernel
  // (openat2 beneath the backend's root), never by string checks alone.
  virtual FileReply file_op(const FileRequest& request) {
    FileReply reply;
    reply.error = FileError{FileError::Kind::kInvalid, ENOTSUP, "sandboxId",
                            "this backend has no file operations"};
    return reply;
  }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const BackendInfo& info() const = 0;
  virtual std::variant<std::unique_ptr<Sandbox>, CreateError> create(
      const policy::SandboxSpec& spec, const std::string& sandbox_id) = 0;
};

}  // namespace agentd::sandbox
