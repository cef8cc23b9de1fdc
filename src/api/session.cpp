#include "api/session.hpp"

#include <signal.h>

#include "base/log.hpp"
#include "sandbox/host_direct.hpp"
#include "sandbox/linux_backend.hpp"

namespace agentd::api {

inline constexpr const char* kProtocolVersion = "0.1.0";

Session::Session(boost::asio::io_context& io, rpc::Dispatcher& dispatcher, ServerOptions options)
    : io_(io), dispatcher_(dispatcher), options_(std::move(options)) {
  if (!options_.profiles) options_.profiles = std::make_shared<policy::ProfileSet>();
  host_backend_ = std::make_unique<sandbox::HostDirectBackend>(io_, options_.workdir_root);
  linux_backend_ = std::make_unique<sandbox::LinuxBackend>(io_, options_.workdir_root);
  bind_methods();
}

Session::~Session() { destroy_everything(); }

void Session::bind_methods() {
  using namespace std::placeholders;
  auto bind = [this](const char* method, void (Session::*handler)(const json&, rpc::Reply)) {
    on_request(method, [this, handler](const json& params, rpc::Reply reply) {
      (this->*handler)(params, std::move(reply));
    });
  };
  bind("initialize", &Session::initialize);
  bind("sandbox/create", &Session::sandbox_create);
  bind("sandbox/list", &Session::sandbox_list);
  bind("sandbox/info", &Session::sandbox_info);
  bind("sandbox/destroy", &Session::sandbox_destroy);
  bind("exec/write", &Session::exec_write);
  bind("exec/kill", &Session::exec_kill);
  bind("exec/resize", &Session::exec_resize);
  bind("exec/list", &Session::exec_list);
  bind("profile/list", &Session::profile_list);
  bind_file_methods();  // fs/*, sandbox/snapshot, sandbox/restore, snapshot/*
  on_request("exec/start", [this](const json& params, rpc::Reply reply) {
    exec_start(params, std::move(reply), /*run=*/false);
  });
  on_request("exec/run", [this](const json& params, rpc::Reply reply) {
    exec_start(params, std::move(reply), /*run=*/true);
  });
  on_request("sandbox/suspend", [this](const json& params, rpc::Reply reply) {
    sandbox_suspend(params, std::move(reply), /*suspend=*/true);
  });
  on_request("sandbox/resume", [this](const json& params, rpc::Reply reply) {
    sandbox_suspend(params, std::move(reply), /*suspend=*/false);
  });
  dispatcher_.on_notification("initialized", [](const json&) {});
}

void Session::initialize(const json& params, rpc::Reply reply) {
  if (!params.is_object()) throw rpc::invalid_params("params: must be an object");
  std::string client = "unknown client";
  if (auto info = params.find("clientInfo"); info != params.end() && info->is_object()) {
    auto text = [&](const char* key) {
      auto it = info->find(key);
      return it != info->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    client = text("name") + " " + text("version");
  }
  base::log_info("initialize from " + client + " (" + options_.framing() + " framing)");
  reply.result({
      {"serverInfo", {{"name", "agentd"}, {"version", options_.version}}},
      {"protocolVersion", kProtocolVersion},
      {"capabilities",
       {{"framing", options_.framing()},
        {"maxMessageBytes", options_.max_message_bytes},
        {"encodings", {"base64", "utf8"}},
        {"cancellation", "$/cancelRequest"}}},
      {"backends", {backend_to_json(host_backend_->info()), backend_to_json(linux_backend_->info())}},
      {"defaultLimits", limits_to_json(options_.profiles->find("default")->limits)},
      {"profiles", options_.profiles->names()},
  });
}

Session::SandboxEntry& Session::find_sandbox(const std::string& id) {
  auto it = sandboxes_.find(id);
  if (it == sandboxes_.end() || it->second.destroying) {
    throw rpc::RpcError{rpc::code::kSandboxNotFound,
                        "sandbox not found: \"" + id + "\" (see sandbox/list)",
                        json{{"sandboxId", id}}};
  }
  return it->second;
}

Session::ExecEntry& Session::find_exec(const std::string& id) {
  auto it = execs_.find(id);
  if (it == execs_.end()) {
    throw rpc::RpcError{rpc::code::kExecNotFound,
                        "exec not found: \"" + id + "\" (it may have exited; see exec/list)",
                        json{{"execId", id}}};
  }
  return it->second;
}

sandbox::Backend* Session::backend_for(policy::Isolation isolation) {
  return isolation == policy::Isolation::kNone ? host_backend_.get() : linux_backend_.get();
}

void Session::destroy_everything() {
  for (auto& [id, entry] : execs_) {
    if (entry.session) entry.session->kill(SIGKILL);
    if (entry.run_reply && !entry.run_reply->answered()) {
      entry.run_reply->error({rpc::code::kOperationFailed,
                              "agentd is exiting; " + id + " was killed", json{{"execId", id}}});
    }
  }
  // Child handles kill their process groups and reap when destroyed.
  execs_.clear();
  for (auto& [id, entry] : sandboxes_) {
    if (!entry.sandbox) continue;
    bool removed = entry.sandbox->destroy(entry.keep_workdir || entry.spec.keep_workdir);
    audit("sandbox.destroyed", {{"sandboxId", id}, {"workdirRemoved", removed}, {"reason", "agentd exiting"}});
  }
  sandboxes_.clear();
}

}  // namespace agentd::api
