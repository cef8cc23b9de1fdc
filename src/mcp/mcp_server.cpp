#include "mcp/mcp_server.hpp"

#include <algorithm>

#include "base/log.hpp"
#include "rpc/errors.hpp"

namespace agentd::mcp {

namespace {

constexpr const char* kInstructions =
    "agentd runs commands in sandboxes. Call exec with a command (or argv); without sandboxId it "
    "runs in this session's default linux sandbox, whose workdir is /workspace. Use fs_write, "
    "fs_read and fs_list for files there. Create more sandboxes with sandbox_create. isolation "
    "\"none\" runs on the host without isolation: use it only when the user asks for it.";

std::string id_key(const json& id) { return id.dump(); }

bool valid_id(const json& id) { return id.is_string() || id.is_number_integer(); }

}  // namespace

std::string negotiate_protocol_version(const json& requested) {
  const auto& versions = supported_protocol_versions();
  if (requested.is_string() &&
      std::find(versions.begin(), versions.end(), requested.get<std::string>()) != versions.end()) {
    return requested;
  }
  return versions.front();
}

McpServer::McpServer(boost::asio::io_context& io, api::ServerOptions inner_options, Sender send)
    : send_(std::move(send)),
      version_(inner_options.version),
      inner_(io, std::move(inner_options),
             [this](const std::string& method, const json& params) {
               on_inner_notification(method, params);
             }),
      catalog_(ToolCatalog::builtin()) {}

void McpServer::handle_message(std::string_view body) {
  json message = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    respond_error(nullptr, rpc::code::kParseError, "parse error: the line is not valid JSON");
    return;
  }
  if (message.is_array()) {
    respond_error(nullptr, rpc::code::kInvalidRequest,
                  "JSON-RPC batches are not supported over MCP (removed in 2025-06-18): send one "
                  "message per line");
    return;
  }
  if (!message.is_object() || message.value("jsonrpc", "") != "2.0") {
    respond_error(nullptr, rpc::code::kInvalidRequest,
                  "invalid request: expected a JSON object with \"jsonrpc\": \"2.0\"");
    return;
  }
  auto method = message.find("method");
  auto id = message.find("id");
  if (method == message.end()) return;  // a response: this server sends no requests
  static const json kNoParams = json::object();
  auto params_it = message.find("params");
  const json& params = params_it != message.end() ? *params_it : kNoParams;
  if (!method->is_string() || (id != message.end() && !valid_id(*id)) || !params.is_object()) {
    respond_error(id != message.end() && valid_id(*id) ? *id : json(), rpc::code::kInvalidRequest,
                  "invalid request: method must be a string, id a string or integer, params an "
                  "object");
    return;
  }
  if (id == message.end()) {
    handle_notification(*method, params);
  } else {
    handle_request(*id, *method, params);
  }
}

void McpServer::handle_frame_error(const std::string& message) {
  respond_error(nullptr, rpc::code::kParseError, message);
}

void McpServer::handle_request(const json& id, const std::string& method, const json& params) {
  base::log_debug("MCP <-- " + method + "(" + id.dump() + ")");
  if (method == "initialize") return initialize(id, params);
  if (method == "ping") return respond(id, json::object());
  if (!initialized_) {
    return respond_error(id, rpc::code::kInvalidRequest,
                         "not initialized: send initialize before " + method);
  }
  if (method == "tools/list") return respond(id, catalog_.to_list_result());
  if (method == "tools/call") return call_tool(id, params);
  respond_error(id, rpc::code::kMethodNotFound,
                "method not found: " + method +
                    " (this server offers tools only: tools/list, "
                    "tools/call)");
}

void McpServer::handle_notification(const std::string& method, const json& params) {
  base::log_debug("MCP <-- " + method);
  if (method == "notifications/cancelled") cancel(params);
  // notifications/initialized and anything else: nothing to do.
}

void McpServer::initialize(const json& id, const json& params) {
  if (initialized_) {
    return respond_error(id, rpc::code::kInvalidRequest, "initialize was already received");
  }
  auto requested = params.find("protocolVersion");
  if (requested == params.end() || !requested->is_string()) {
    return respond_error(id, rpc::code::kInvalidParams,
                         "params.protocolVersion: expected a string such as \"2025-06-18\"");
  }
  initialized_ = true;
  std::string version = negotiate_protocol_version(*requested);
  base::log_info("MCP initialize: client asked for " + requested->get<std::string>() +
                 ", speaking " + version);
  respond(id, {{"protocolVersion", version},
               {"capabilities", {{"tools", {{"listChanged", false}}}}},
               {"serverInfo", {{"name", "agentd"}, {"version", version_}}},
               {"instructions", kInstructions}});
}

// MCP cancellation: the request is never answered; its exec is killed.
void McpServer::cancel(const json& params) {
  auto request_id = params.find("requestId");
  if (request_id == params.end()) return;
  auto it = calls_.find(id_key(*request_id));
  if (it == calls_.end()) return;  // already answered, or never ours: ignore, as MCP says
  CallPtr call = it->second;
  calls_.erase(it);
  call->cancelled = true;
  base::log_info("MCP tools/call " + request_id->dump() + " (" + call->tool + ") cancelled");
  if (!call->exec_id.empty()) {
    inner_.call("exec/kill", {{"execId", call->exec_id}}, [](InnerAgentd::Outcome) {});
  }
}

void McpServer::finish(const CallPtr& call, json result) {
  if (call->cancelled) return;  // MCP: no response to a cancelled request
  calls_.erase(id_key(call->id));
  respond(call->id, std::move(result));
}

void McpServer::respond(const json& id, json result) {
  send_({{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

void McpServer::respond_error(const json& id, int code, const std::string& message) {
  send_({{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
}

}  // namespace agentd::mcp
