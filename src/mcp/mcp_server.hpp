#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/session.hpp"
#include "mcp/inner_client.hpp"
#include "mcp/tool_catalog.hpp"
#include "mcp/tool_results.hpp"

namespace agentd::mcp {

using json = nlohmann::json;

// The MCP revisions this server speaks, newest first.
inline const std::vector<std::string>& supported_protocol_versions() {
  static const std::vector<std::string> versions = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                    "2024-11-05"};
  return versions;
}
// The client's revision when supported, otherwise the newest we speak.
std::string negotiate_protocol_version(const json& requested);

// agentd as an MCP server (docs/mcp.md): MCP lifecycle, tools/list and
// tools/call, each tool translated into agentd requests to an inner session.
// Tool failures are results with isError; unknown tools and arguments that do
// not fit the inputSchema are JSON-RPC -32602. notifications/cancelled kills
// the call's exec and the call is never answered.
class McpServer {
 public:
  using Sender = std::function<void(const json& message)>;

  McpServer(boost::asio::io_context& io, api::ServerOptions inner_options, Sender send);

  void handle_message(std::string_view body);
  void handle_frame_error(const std::string& message);
  // Kills every exec and removes every sandbox (agentd is exiting).
  void shutdown() { inner_.destroy_everything(); }

 private:
  // One tools/call in flight.
  struct ToolCall {
    json id;
    std::string tool;
    json progress_token;  // null: no progress notifications
    uint64_t progress = 0;
    bool cancelled = false;
    std::string exec_id;  // set once exec/start answered
    ExecTranscript transcript;
  };
  using CallPtr = std::shared_ptr<ToolCall>;
  // The sandbox exec and fs_* use when no sandboxId is given, per isolation.
  struct DefaultSandbox {
    std::string id;  // empty while being created
    std::vector<std::function<void(const InnerAgentd::Outcome&)>> waiters;
  };

  // protocol (mcp_server.cpp)
  void handle_request(const json& id, const std::string& method, const json& params);
  void handle_notification(const std::string& method, const json& params);
  void initialize(const json& id, const json& params);
  void cancel(const json& params);
  void respond(const json& id, json result);
  void respond_error(const json& id, int code, const std::string& message);
  void finish(const CallPtr& call, json result);

  // tools (tool_calls.cpp)
  void call_tool(const json& id, const json& params);
  void run_tool(const CallPtr& call, const Tool& tool, json arguments);
  void run_exec(const CallPtr& call, json arguments);
  void start_exec(const CallPtr& call, json exec_params);
  void run_passthrough(const CallPtr& call, const Tool& tool, json arguments);
  void with_sandbox(json arguments, const std::string& isolation, const CallPtr& call,
                    std::function<void(json arguments)> then);
  void ensure_default_sandbox(const std::string& isolation,
                              std::function<void(const InnerAgentd::Outcome&)> then);
  void on_inner_notification(const std::string& method, const json& params);
  void on_exec_output(const json& params);
  void on_exec_exit(const json& params);

  Sender send_;
  std::string version_;
  InnerAgentd inner_;
  const ToolCatalog& catalog_;
  bool initialized_ = false;
  std::map<std::string, CallPtr> calls_;                     // by request id (its JSON text)
  std::map<std::string, CallPtr> execs_;                     // by agentd execId
  std::map<std::string, DefaultSandbox> default_sandboxes_;  // by isolation
};

}  // namespace agentd::mcp
