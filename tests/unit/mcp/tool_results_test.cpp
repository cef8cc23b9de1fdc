#include "mcp/tool_results.hpp"

#include <gtest/gtest.h>

namespace agentd::mcp {
namespace {

TEST(ToolResultsTest, ExecResultIsAnErrorUnlessExitCodeZero) {
  ExecTranscript transcript;
  transcript.append("stdout", "hi\n");
  json ok = exec_result({{"status", "exited"}, {"exitCode", 0}}, transcript);
  EXPECT_EQ(ok["isError"], false);
  EXPECT_EQ(ok["content"][0]["text"], "hi\n[exited with code 0]");
  EXPECT_EQ(ok["structuredContent"]["stdout"], "hi\n");
  EXPECT_EQ(exec_result({{"status", "exited"}, {"exitCode", 1}}, transcript)["isError"], true);
  json timeout = exec_result({{"status", "timeout"}, {"reason", "wall time limit"}}, {});
  EXPECT_EQ(timeout["isError"], true);
  EXPECT_EQ(timeout["content"][0]["text"], "[timeout: wall time limit]");
}

TEST(ToolResultsTest, TranscriptClipsEachStreamAtTheLimit) {
  ExecTranscript transcript;
  std::string chunk(ExecTranscript::kMaxCollectedBytes - 1, 'a');
  transcript.append("stdout", chunk);
  transcript.append("stdout", "bc");
  transcript.append("stderr", "e");
  EXPECT_EQ(transcript.stdout_text.size(), ExecTranscript::kMaxCollectedBytes);
  EXPECT_EQ(transcript.stdout_text.back(), 'b');
  EXPECT_EQ(transcript.stderr_text, "e");
  EXPECT_TRUE(transcript.clipped);
}

TEST(ToolResultsTest, ExecResultNamesWhatTheSandboxRefused) {
  ExecTranscript transcript;
  transcript.append("stderr", "unshare: Operation not permitted\n");
  for (size_t i = 0; i < ExecTranscript::kMaxRefusals + 3; ++i) transcript.add_refusal("syscall", "unshare");
  json result = exec_result({{"status", "exited"}, {"exitCode", 1}}, transcript);
  std::string text = result["content"][0]["text"];
  EXPECT_NE(text.find("[refused by the sandbox] syscall: unshare\n"), std::string::npos) << text;
  EXPECT_NE(text.find("[and 3 more refusals]"), std::string::npos) << text;
  EXPECT_EQ(result["structuredContent"]["refused"].size(), ExecTranscript::kMaxRefusals);
}

TEST(ToolResultsTest, ErrorResultSaysWhatFailedAndWhatToDo) {
  json result =
      tool_error_result("exec", rpc::RpcError{rpc::code::kIsolationUnavailable,
                                              "linux sandboxes need user namespaces", nullptr});
  EXPECT_EQ(result["isError"], true);
  std::string text = result["content"][0]["text"];
  EXPECT_EQ(text.rfind("exec failed: linux sandboxes need user namespaces", 0), 0u) << text;
  EXPECT_NE(text.find("agentd probe"), std::string::npos) << text;
  EXPECT_EQ(result["structuredContent"]["error"]["code"], rpc::code::kIsolationUnavailable);
}

}  // namespace
}  // namespace agentd::mcp
