#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/output_encoder.hpp"
#include "api/wire.hpp"
#include "exec/exec_session.hpp"
#include "rpc/dispatcher.hpp"
#include "sandbox/backend.hpp"

namespace agentd::api {

struct ServerOptions {
  std::string version;
  std::string workdir_root;
  size_t max_message_bytes = 0;
  std::function<std::string()> framing;  // the framing chosen for this session
  // Back-pressure from the transport: run the function once output has room.
  std::function<void(std::function<void()>)> wait_for_room;
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
    std::chrono::system_clock::time_point started;
    // exec/run: the output is collected and the reply waits for the exit.
    std::unique_ptr<rpc::Reply> run_reply;
    std::string collected_stdout;
    std::string collected_stderr;
    bool cancelled = false;
    bool pty = false;  // its output is one stream, "pty"
  };

  void bind_methods();
  // lifecycle
  void initialize(const json& params, rpc::Reply reply);
  // sandbox/*
  void sandbox_create(const json& params, rpc::Reply reply);
  void sandbox_list(const json& params, rpc::Reply reply);
  void sandbox_info(const json& params, rpc::Reply reply);
  void sandbox_destroy(const json& params, rpc::Reply reply);
  void sandbox_suspend(const json& params, rpc::Reply reply, bool suspend);
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
  std::string start_exec(SandboxEntry& sandbox, const ExecParams& params,
                         std::unique_ptr<rpc::Reply> run_reply, json& started);
  void on_exec_output(const std::string& exec_id, exec::Stream stream, std::string_view bytes);
  void on_exec_exit(const std::string& exec_id, const exec::ExecOutcome& outcome);
  void finish_exec(ExecEntry& entry, const exec::ExecOutcome& outcome);
  void send_output(ExecEntry& entry, exec::Stream stream, json params);
  void maybe_finish_destroy(std::string sandbox_id);  // by value: the entry goes away

  boost::asio::io_context& io_;
  rpc::Dispatcher& dispatcher_;
  ServerOptions options_;
  std::unique_ptr<sandbox::Backend> host_backend_;
  std::unique_ptr<sandbox::Backend> linux_backend_;
  std::map<std::string, SandboxEntry> sandboxes_;
  std::map<std::string, ExecEntry> execs_;
  uint64_t next_sandbox_ = 1;
  uint64_t next_exec_ = 1;
};

}  // namespace agentd::api
