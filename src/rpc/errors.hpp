#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace agentd::rpc {

// JSON-RPC 2.0, LSP and agentd error codes. agentd's own codes are in the
// server range -32000..-32099 and documented in docs/protocol.md.
namespace code {
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kServerNotInitialized = -32002;  // LSP
inline constexpr int kRequestCancelled = -32800;      // LSP
inline constexpr int kRequestFailed = -32803;         // LSP
// agentd
inline constexpr int kSandboxNotFound = -32001;
inline constexpr int kExecNotFound = -32003;
inline constexpr int kIsolationUnavailable = -32004;
inline constexpr int kFeatureUnavailable = -32005;
inline constexpr int kInvalidState = -32006;
inline constexpr int kResourceExhausted = -32007;
inline constexpr int kOperationFailed = -32008;
}  // namespace code

struct RpcError {
  int code = code::kInternalError;
  std::string message;
  nlohmann::json data;  // null when absent

  nlohmann::json to_json() const {
    nlohmann::json j = {{"code", code}, {"message", message}};
    if (!data.is_null()) j["data"] = data;
    return j;
  }
};

inline RpcError invalid_params(std::string message) {
  return RpcError{code::kInvalidParams, std::move(message), nullptr};
}

}  // namespace agentd::rpc
