#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/audit_log.hpp"
#include "api/output_encoder.hpp"
#include "api/violation_log.hpp"
#include "api/wire.hpp"
#include "exec/exec_session.hpp"
#include "policy/profiles.hpp"
#include "rpc/dispatcher.hpp"
#include "sandbox/backend.hpp"
#include "sandbox/snapshot.hpp"

namespace agentd::api {

struct ServerOptions {
  std::string version;
  std::string workdir_root;
  size_t max_message_bytes = 0;
  std::function<std::string()> framing;  // the framing chosen for this session
  // Back-pressure from the transport: run the function once output has room.
  std::function<void(std::function<void()>)> wait_for_room;
  std::shared_ptr<const policy::ProfileSet> profiles;  // null: the built-in profiles
  std::shared_ptr<AuditLog> audit;                     // null: no audit log
};

// agentd's methods: binds them on the dispatcher and owns every sandbox and
// exec of the session.
class Session {
 public:
  Session(boost::asio::io_context& io, rpc::Dispatcher& dispatcher, ServerOptions options);
  ~Session();

  // Kills every process and removes every sandbox now (agentd is exiting).
  void destroy_everything();
  size_t sandbox_count() const { return sandboxes_.size(); }

 private:
  struct SandboxUsage {
    uint64_t exec_count = 0;
    uint64_t cpu_time_ms = 0;
    uint64_t peak_memory_bytes = 0;
    uint64_t stdout_bytes = 0;
    uint64_t stderr_bytes = 0;
  };
  struct SandboxEntry {
    std::string id;
    policy::SandboxSpec spec;
    policy::Limits limits;  // effective sandbox limits
    std::unique_ptr<sandbox::Sandbox> sandbox;
    std::vector<std::string> exec_ids;
    SandboxUsage usage;
    ViolationLog violations;
    std::chrono::system_clock::time_point created;
    bool destroying = false;
    bool suspended = false;
    bool keep_workdir = false;
    std::vector<rpc::Reply> destroy_replies;
  };
  struct ExecEntry {
    std::string id;
    std::string sandbox_id;
    std::vector<std::string> argv;
    std::shared_ptr<exec::ExecSession> session;
    OutputEncoder stdout_encoder;
    OutputEncoder stderr_encoder;
    uint64_t stdout_seq = 0;
    uint64_t stderr_seq = 0;
    std::chrono::system_clock::time_point started{};
    // exec/run: the output is collected and the reply waits for the exit.
    std::unique_ptr<rpc::Reply> run_reply{};
    std::string collected_stdout{};
    std::string collected_stderr{};
    bool cancelled = false;
    bool pty = false;  // its output is one stream, "pty"
    std::optional<std::string> cwd = std::nullopt;  // as asked; for the audit log
  };

  void bind_methods();
  // Registers a request handler; refusals it throws go to the audit log.
  void on_request(const char* method, rpc::Dispatcher::RequestHandler handler);
  void audit(const std::string& event, json fields) {
    if (options_.audit) options_.audit->record(event, std::move(fields));
  }
  // profile/list
  void profile_list(const json& params, rpc::Reply reply);
  // lifecycle
  void initialize(const json& params, rpc::Reply reply);
  // sandbox/*
  void sandbox_create(const json& params, rpc::Reply reply);
  void sandbox_list(const json& params, rpc::Reply reply);
  void sandbox_info(const json& params, rpc::Reply reply);
  void sandbox_destroy(const json& params, rpc::Reply reply);
  void sandbox_suspend(const json& params, rpc::Reply reply, bool suspend);
  // fs/* and snapshots (file_methods.cpp, snapshot_methods.cpp)
  void bind_file_methods();
  void file_method(const std::string& op, const json& params, rpc::Reply reply);
  void sandbox_snapshot(const json& params, rpc::Reply reply);
  void sandbox_restore(const json& params, rpc::Reply reply);
  void snapshot_list(const json& params, rpc::Reply reply);
  void snapshot_delete(const json& params, rpc::Reply reply);
  const sandbox::SnapshotStore::Snapshot* snapshot_for_create(const policy::SandboxSpec& spec);
  void seed_from_snapshot(const sandbox::SnapshotStore::Snapshot& snapshot, SandboxEntry& entry);
  // exec/*
  void exec_start(const json& params, rpc::Reply reply, bool run);
  void exec_write(const json& params, rpc::Reply reply);
  void exec_kill(const json& params, rpc::Reply reply);
  void exec_resize(const json& params, rpc::Reply reply);
  void exec_list(const json& params, rpc::Reply reply);

  SandboxEntry& find_sandbox(const std::string& id);
  ExecEntry& find_exec(const std::string& id);
  sandbox::Backend* backend_for(policy::Isolation isolation);
  json sandbox_summary(const SandboxEntry& entry) const;
  // Launches and registers an exec; returns the exec/start result.
  json start_exec(SandboxEntry& sandbox, const ExecParams& params,
                  std::unique_ptr<rpc::Reply> run_reply);
  void on_exec_output(const std::string& exec_id, exec::Stream stream, std::string_view bytes);
  void on_exec_exit(const std::string& exec_id, const exec::ExecOutcome& outcome);
  void finish_exec(ExecEntry& entry, const exec::ExecOutcome& outcome);
  void send_output(ExecEntry& entry, exec::Stream stream, json params);
  void maybe_finish_destroy(std::string sandbox_id);  // by value: the entry goes away
  // sandbox/violation: counted, rate-limited, sent and audited.
  void on_violation(const std::string& sandbox_id, const sandbox::Violation& violation);
  std::optional<std::string> exec_of(const SandboxEntry& entry, const sandbox::Violation& violation) const;

  boost::asio::io_context& io_;
  rpc::Dispatcher& dispatcher_;
  ServerOptions options_;
  std::unique_ptr<sandbox::Backend> host_backend_;
  std::unique_ptr<sandbox::Backend> linux_backend_;
  std::map<std::string, SandboxEntry> sandboxes_;
  std::unique_ptr<sandbox::SnapshotStore> snapshots_;  // made on first use
  std::map<std::string, ExecEntry> execs_;
  uint64_t next_sandbox_ = 1;
  uint64_t next_exec_ = 1;
};

}  // namespace agentd::api
