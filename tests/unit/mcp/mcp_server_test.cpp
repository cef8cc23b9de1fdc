// The MCP facade driven message by message, with host-direct sandboxes
// (isolation "none", asked for explicitly) so it runs on any machine.
#include "mcp/mcp_server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "support/temp_dir.hpp"

namespace agentd::mcp {
namespace {

using namespace std::chrono_literals;

// True while some process's command line contains `needle`.
bool process_running(const std::string& needle) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(needle) != std::string::npos) return true;
  }
  return false;
}

class McpServerTest : public ::testing::Test {
 protected:
  McpServerTest() {
    api::ServerOptions options;
    options.version = "test";
    options.workdir_root = temp_.path();
    options.max_message_bytes = 1 << 20;
    options.framing = [] { return std::string("line"); };
    options.wait_for_room = [this](std::function<void()> resume) {
      boost::asio::post(io_, std::move(resume));
    };
    server_ =
        std::make_unique<McpServer>(io_, options, [this](const json& m) { sent_.push_back(m); });
  }
  ~McpServerTest() override { server_->shutdown(); }

  void send(const json& message) { server_->handle_message(message.dump()); }

  // Runs the io_context until a message with this id arrives (or 20 s pass).
  json response_to(const json& id) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& m : sent_) {
        if (m.contains("id") && m["id"] == id && !m.contains("method")) return m;
      }
      io_.run_one_for(20ms);
    }
    ADD_FAILURE() << "no response to " << id.dump();
    return json();
  }

  json request(const json& id, const std::string& method, json params = json::object()) {
    send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    return response_to(id);
  }

  json call_tool(const json& id, const std::string& name, json arguments, json meta = nullptr) {
    json params = {{"name", name}, {"arguments", std::move(arguments)}};
    if (!meta.is_null()) params["_meta"] = std::move(meta);
    return request(id, "tools/call", std::move(params));
  }

  void initialize() {
    json reply = request(0, "initialize",
                         {{"protocolVersion", "2025-06-18"},
                          {"capabilities", json::object()},
                          {"clientInfo", {{"name", "test"}, {"version", "1"}}}});
    ASSERT_TRUE(reply.contains("result")) << reply.dump();
    send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  }

  std::string host_sandbox() {
    json reply = call_tool("mk", "sandbox_create", {{"isolation", "none"}});
    EXPECT_EQ(reply["result"]["isError"], false) << reply.dump();
    return reply["result"]["structuredContent"].value("sandboxId", "");
  }

  static std::string text_of(const json& response) {
    return response["result"]["content"][0].value("text", "");
  }

  test_support::TempDir temp_;
  boost::asio::io_context io_;
  std::vector<json> sent_;
  std::unique_ptr<McpServer> server_;
};

TEST_F(McpServerTest, InitializeEchoesASupportedVersionElseOffersTheLatest) {
  json reply = request(1, "initialize", {{"protocolVersion", "2024-11-05"}});
  EXPECT_EQ(reply["result"]["protocolVersion"], "2024-11-05");
  EXPECT_TRUE(reply["result"]["capabilities"]["tools"].is_object());
  EXPECT_EQ(reply["result"]["serverInfo"]["name"], "agentd");
  EXPECT_EQ(request(2, "initialize", {{"protocolVersion", "2024-11-05"}})["error"]["code"], -32600);
}

TEST(NegotiateTest, UnknownRevisionGetsTheNewest) {
  EXPECT_EQ(negotiate_protocol_version("2099-01-01"), supported_protocol_versions().front());
  EXPECT_EQ(negotiate_protocol_version("2025-03-26"), "2025-03-26");
  EXPECT_EQ(negotiate_protocol_version("2025-06-18"), "2025-06-18");
}

TEST_F(McpServerTest, OnlyPingBeforeInitialize) {
  EXPECT_EQ(request(1, "ping")["result"], json::object());
  EXPECT_EQ(request(2, "tools/list")["error"]["code"], -32600);
  initialize();
  EXPECT_EQ(request(3, "tools/list")["result"], ToolCatalog::builtin().to_list_result());
  EXPECT_EQ(request(4, "resources/list")["error"]["code"], -32601);
}

TEST_F(McpServerTest, ProtocolErrorsAreJsonRpcErrors) {
  initialize();
  server_->handle_message("{not json");
  EXPECT_EQ(sent_.back()["error"]["code"], -32700);
  json unknown = call_tool(1, "no_such_tool", json::object());
  EXPECT_EQ(unknown["error"]["code"], -32602);
  EXPECT_NE(unknown["error"]["message"].get<std::string>().find("no_such_tool"), std::string::npos);
  json bad = call_tool(2, "exec", {{"argv", "echo hi"}});
  EXPECT_EQ(bad["error"]["code"], -32602);
  EXPECT_EQ(bad["error"]["message"], "arguments.argv: expected array");
  EXPECT_EQ(call_tool(3, "exec", {{"argv", {"true"}}, {"command", "true"}})["error"]["code"],
            -32602);
  EXPECT_EQ(call_tool(4, "fs_read", {{"sandboxId", "sb-1"}})["error"]["code"], -32602);
}

TEST_F(McpServerTest, FailuresWhileRunningAreToolErrors) {
  initialize();
  json reply = call_tool(1, "exec", {{"sandboxId", "sb-nope"}, {"argv", {"true"}}});
  ASSERT_TRUE(reply.contains("result")) << reply.dump();
  EXPECT_EQ(reply["result"]["isError"], true);
  EXPECT_NE(text_of(reply).find("sandbox not found"), std::string::npos) << text_of(reply);
  EXPECT_NE(text_of(reply).find("sandbox_create"), std::string::npos) << text_of(reply);
}

TEST_F(McpServerTest, FilesRoundTrip) {
  initialize();
  std::string id = host_sandbox();
  ASSERT_FALSE(id.empty());
  json wrote =
      call_tool(1, "fs_write", {{"sandboxId", id}, {"path", "note.txt"}, {"text", "héllo"}});
  EXPECT_EQ(wrote["result"]["isError"], false) << wrote.dump();
  json read = call_tool(2, "fs_read", {{"sandboxId", id}, {"path", "note.txt"}});
  EXPECT_EQ(text_of(read), "héllo");
  json listed = call_tool(3, "fs_list", {{"sandboxId", id}});
  EXPECT_EQ(listed["result"]["structuredContent"]["entries"][0]["name"], "note.txt");
}

TEST_F(McpServerTest, ExecStreamsProgressAndReturnsTheOutput) {
  initialize();
  std::string id = host_sandbox();
  json reply = call_tool(7, "exec", {{"sandboxId", id}, {"command", "echo hi; echo oops >&2"}},
                         {{"progressToken", "tok"}});
  EXPECT_EQ(reply["result"]["isError"], false) << reply.dump();
  EXPECT_EQ(text_of(reply), "hi\n[stderr]\noops\n[exited with code 0]");
  EXPECT_EQ(reply["result"]["structuredContent"]["exitCode"], 0);
  std::string streamed;
  double last = 0;
  for (const auto& m : sent_) {
    if (m.value("method", "") != "notifications/progress") continue;
    EXPECT_EQ(m["params"]["progressToken"], "tok");
    EXPECT_GT(m["params"]["progress"].get<double>(), last);
    last = m["params"]["progress"].get<double>();
    streamed += m["params"].value("message", "");
  }
  EXPECT_NE(streamed.find("hi\n"), std::string::npos) << streamed;
  EXPECT_NE(streamed.find("oops\n"), std::string::npos) << streamed;
}

TEST_F(McpServerTest, NonZeroExitIsAToolError) {
  initialize();
  std::string id = host_sandbox();
  json reply = call_tool(1, "exec", {{"sandboxId", id}, {"argv", {"/bin/sh", "-c", "exit 3"}}});
  EXPECT_EQ(reply["result"]["isError"], true);
  EXPECT_EQ(reply["result"]["structuredContent"]["exitCode"], 3);
  json missing = call_tool(2, "exec", {{"sandboxId", id}, {"argv", {"no-such-command-xyz"}}});
  EXPECT_EQ(missing["result"]["isError"], true) << missing.dump();
  EXPECT_EQ(missing["result"]["structuredContent"]["status"], "setupError") << missing.dump();
}

// The isolation of each sandbox of the session, by id (from sandbox_list).
std::map<std::string, std::string> isolation_by_sandbox(const json& list_reply) {
  std::map<std::string, std::string> out;
  for (const auto& s : list_reply["result"]["structuredContent"]["sandboxes"]) {
    out[s.value("sandboxId", "")] = s.value("isolation", "");
  }
  return out;
}

TEST_F(McpServerTest, DefaultSandboxIsLinuxUnlessNoneIsAskedFor) {
  initialize();
  json host = call_tool(1, "exec", {{"argv", {"true"}}, {"isolation", "none"}});
  ASSERT_EQ(host["result"]["isError"], false) << host.dump();
  std::string host_id = host["result"]["structuredContent"]["sandboxId"];
  json again = call_tool(2, "exec", {{"argv", {"true"}}, {"isolation", "none"}});
  EXPECT_EQ(again["result"]["structuredContent"]["sandboxId"], host_id) << "reused";
  EXPECT_EQ(isolation_by_sandbox(call_tool(3, "sandbox_list", json::object()))[host_id], "none");
  EXPECT_EQ(
      call_tool(
          4, "exec",
          {{"sandboxId", host_id}, {"isolation", "none"}, {"argv", {"true"}}})["error"]["code"],
      -32602);

  json linux = call_tool(5, "exec", {{"argv", {"true"}}});
  json::json_pointer error_code("/result/structuredContent/error/code");
  if (linux.value(error_code, 0) == rpc::code::kIsolationUnavailable) {
    // No linux here: an error result, and no host-direct sandbox made instead.
    EXPECT_EQ(linux["result"]["isError"], true) << linux.dump();
    EXPECT_EQ(isolation_by_sandbox(call_tool(6, "sandbox_list", json::object())).size(), 1u);
    return;
  }
  ASSERT_EQ(linux["result"]["isError"], false) << linux.dump();
  std::string linux_id = linux["result"]["structuredContent"]["sandboxId"];
  EXPECT_NE(linux_id, host_id);
  EXPECT_EQ(isolation_by_sandbox(call_tool(6, "sandbox_list", json::object()))[linux_id], "linux");
}

TEST_F(McpServerTest, CancelledCallIsNeverAnsweredAndItsProcessDies) {
  initialize();
  std::string id = host_sandbox();
  const std::string marker = "31.41592";  // a sleep no one else runs
  send({{"jsonrpc", "2.0"},
        {"id", "long"},
        {"method", "tools/call"},
        {"params",
         {{"name", "exec"}, {"arguments", {{"sandboxId", id}, {"argv", {"sleep", marker}}}}}}});
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!process_running("sleep " + marker) && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(20ms);
  }
  ASSERT_TRUE(process_running("sleep " + marker)) << "the exec never started";
  send({{"jsonrpc", "2.0"},
        {"method", "notifications/cancelled"},
        {"params", {{"requestId", "long"}, {"reason", "test"}}}});
  deadline = std::chrono::steady_clock::now() + 10s;
  while (process_running("sleep " + marker) && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(20ms);
  }
  EXPECT_FALSE(process_running("sleep " + marker)) << "cancellation left the process running";
  // A later call is answered; the cancelled one never is.
  EXPECT_EQ(
      call_tool("after", "exec", {{"sandboxId", id}, {"argv", {"true"}}})["result"]["isError"],
      false);
  for (const auto& m : sent_) EXPECT_NE(m.value("id", json()), "long") << m.dump();
}

}  // namespace
}  // namespace agentd::mcp
