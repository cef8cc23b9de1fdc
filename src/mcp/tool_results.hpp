#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rpc/errors.hpp"

namespace agentd::mcp {

using json = nlohmann::json;

// What the exec tool collected from one exec's output.
struct ExecTranscript {
  std::string stdout_text;
  std::string stderr_text;
  bool clipped = false;  // the facade stopped collecting at kMaxCollectedBytes
  // What the sandbox refused this exec (sandbox/violation), "kind: detail",
  // at most kMaxRefusals of them; refusals_not_kept counts the rest.
  std::vector<std::string> refusals;
  size_t refusals_not_kept = 0;
  static constexpr size_t kMaxRefusals = 20;

  static constexpr size_t kMaxCollectedBytes = 1 << 20;
  // Adds one exec/output chunk, up to kMaxCollectedBytes per stream.
  void append(const std::string& stream, const std::string& text);
  void add_refusal(const std::string& kind, const std::string& detail);
};

// A CallToolResult saying that `tool` failed, what agentd said and what to do
// next (isError: true, so the model sees it and can correct itself).
json tool_error_result(const std::string& tool, const rpc::RpcError& error);
// A successful CallToolResult: `text` for the model, `structured` as
// structuredContent.
json tool_success_result(std::string text, json structured);
// The exec tool's result from its exec/exit notification; isError unless the
// command exited with code 0.
json exec_result(const json& exit, const ExecTranscript& transcript);
// fs_read: the file's text (or base64) as the content.
json fs_read_result(const json& read);

}  // namespace agentd::mcp
