#include "mcp/detect.hpp"

#include <gtest/gtest.h>

namespace agentd::mcp {
namespace {

TEST(DetectTest, McpInitializeWithDatedProtocolVersionIsMcp) {
  EXPECT_TRUE(is_mcp_initialize(
      R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
      R"("capabilities":{},"clientInfo":{"name":"c","version":"1"}}})"));
  EXPECT_TRUE(is_mcp_initialize(
      R"({"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"2024-11-05"}})"));
}

TEST(DetectTest, AgentdInitializeIsNotMcp) {
  EXPECT_FALSE(is_mcp_initialize(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":12,"clientInfo":{"name":"x"}}})"));
  EXPECT_FALSE(is_mcp_initialize(R"({"jsonrpc":"2.0","id":1,"method":"initialize"})"));
  // agentd's own protocolVersion shape (semver) is not an MCP revision.
  EXPECT_FALSE(is_mcp_initialize(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"0.1.0"}})"));
  EXPECT_FALSE(is_mcp_initialize(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":20250618}})"));
}

TEST(DetectTest, OtherMessagesAreNotMcp) {
  EXPECT_FALSE(is_mcp_initialize(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"protocolVersion":"2025-06-18"}})"));
  EXPECT_FALSE(is_mcp_initialize("not json"));
  EXPECT_FALSE(is_mcp_initialize(R"([{"method":"initialize"}])"));
  EXPECT_FALSE(is_mcp_initialize(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-6-18x"}})"));
}

}  // namespace
}  // namespace agentd::mcp
