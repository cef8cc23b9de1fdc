#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/session.hpp"
#include "rpc/dispatcher.hpp"
#include "rpc/errors.hpp"

namespace agentd::mcp {

using json = nlohmann::json;

// An agentd session driven from inside the process: its own rpc::Dispatcher
// and api::Session, exactly as serve() builds them, with the dispatcher's
// output routed back here instead of to stdout. The MCP facade speaks
// agentd's protocol to it, so every tool goes through agentd's own checks.
class InnerAgentd {
 public:
  // Exactly one of result and error is set.
  struct Outcome {
    json result;
    std::optional<rpc::RpcError> error;
  };
  using Done = std::function<void(Outcome)>;
  using NotificationHandler = std::function<void(const std::string& method, const json& params)>;

  InnerAgentd(boost::asio::io_context& io, api::ServerOptions options,
              NotificationHandler on_notification);
  ~InnerAgentd();

  // Sends one agentd request. `done` may run before call() returns (most
  // methods answer at once), so callers finish their bookkeeping first.
  void call(const std::string& method, json params, Done done);
  // Kills every process and removes every sandbox of the session.
  void destroy_everything();

 private:
  void on_message(const json& message);

  rpc::Dispatcher dispatcher_;
  std::unique_ptr<api::Session> session_;
  NotificationHandler on_notification_;
  std::map<int64_t, Done> pending_;
  int64_t next_id_ = 1;
};

}  // namespace agentd::mcp
