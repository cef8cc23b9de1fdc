#include "mcp/tool_results.hpp"

namespace agentd::mcp {

namespace {

json text_content(std::string text) {
  return json::array({{{"type", "text"}, {"text", std::move(text)}}});
}

// What to do about an agentd error, by code; empty when its message says it.
std::string hint_for(int code) {
  switch (code) {
    case rpc::code::kSandboxNotFound:
      return "Create one with sandbox_create (or see sandbox_list), or omit sandboxId to use this "
             "session's default sandbox.";
    case rpc::code::kIsolationUnavailable:
      return "This machine cannot run linux sandboxes (`agentd probe` says why). Use isolation "
             "\"none\" only if the user accepts running commands on the host without isolation.";
    case rpc::code::kFeatureUnavailable:
      return "Leave the option out, or name the feature in `optional` to accept running without "
             "it.";
    case rpc::code::kInvalidParams:
      return "Correct the argument the message names and call the tool again.";
    case rpc::code::kResourceExhausted:
      return "Destroy sandboxes you no longer need (sandbox_destroy) and try again.";
    default:
      return "";
  }
}

void end_line(std::string& text) {
  if (!text.empty() && text.back() != '\n') text += '\n';
}

// "[exited with code 0]", "[timeout: wall time limit of 100 ms reached]", ...
std::string status_line(const json& exit) {
  std::string status = exit.value("status", std::string("unknown"));
  if (status == "exited")
    return "[exited with code " + std::to_string(exit.value("exitCode", -1)) + "]";
  std::string line = "[" + status;
  if (exit.contains("signalName")) line += " by " + exit.value("signalName", std::string());
  if (exit.contains("reason")) line += ": " + exit.value("reason", std::string());
  line += "]";
  if (status == "setupError") {
    line +=
        "\nThe command did not start. Check argv[0] (looked up on PATH inside the sandbox) "
        "and cwd, or pass a shell command line as `command`.";
  }
  return line;
}

}  // namespace

void ExecTranscript::append(const std::string& stream, const std::string& text) {
  std::string& target = stream == "stderr" ? stderr_text : stdout_text;
  size_t room = kMaxCollectedBytes - std::min(kMaxCollectedBytes, target.size());
  if (text.size() > room) clipped = true;
  target.append(text, 0, std::min(room, text.size()));
}

json tool_error_result(const std::string& tool, const rpc::RpcError& error) {
  std::string text = tool + " failed: " + error.message;
  std::string hint = hint_for(error.code);
  if (!hint.empty()) text += "\n" + hint;
  json structured = {{"error", error.to_json()}};
  return {{"content", text_content(std::move(text))},
          {"structuredContent", std::move(structured)},
          {"isError", true}};
}

json tool_success_result(std::string text, json structured) {
  json result = {{"content", text_content(std::move(text))}, {"isError", false}};
  if (structured.is_object()) result["structuredContent"] = std::move(structured);
  return result;
}

void ExecTranscript::add_refusal(const std::string& kind, const std::string& detail) {
  if (refusals.size() >= kMaxRefusals) {
    ++refusals_not_kept;
    return;
  }
  refusals.push_back(kind + ": " + detail);
}

json exec_result(const json& exit, const ExecTranscript& transcript) {
  std::string text = transcript.stdout_text;
  if (!transcript.stderr_text.empty()) {
    end_line(text);
    text += "[stderr]\n" + transcript.stderr_text;
  }
  end_line(text);
  if (transcript.clipped) {
    text +=
        "[output clipped by the MCP facade at 1 MiB per stream; redirect it to a file and "
        "read that with fs_read]\n";
  }
  // The model learns what the sandbox refused, not only that something failed.
  for (const auto& refusal : transcript.refusals) text += "[refused by the sandbox] " + refusal + "\n";
  if (transcript.refusals_not_kept) {
    text += "[and " + std::to_string(transcript.refusals_not_kept) + " more refusals]\n";
  }
  text += status_line(exit);
  json structured = exit;
  if (!transcript.refusals.empty()) structured["refused"] = transcript.refusals;
  structured["stdout"] = transcript.stdout_text;
  structured["stderr"] = transcript.stderr_text;
  bool ok = exit.value("status", "") == "exited" && exit.value("exitCode", -1) == 0;
  return {{"content", text_content(std::move(text))},
          {"structuredContent", std::move(structured)},
          {"isError", !ok}};
}

json fs_read_result(const json& read) {
  std::string text = read.value("data", std::string());
  if (read.value("encoding", "") == "base64") text = "base64: " + text;
  json structured = read;
  return tool_success_result(std::move(text), std::move(structured));
}

}  // namespace agentd::mcp
