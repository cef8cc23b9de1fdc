#include "rpc/dispatcher.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace agentd::rpc {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// Drives a Dispatcher like a transport would and keeps what it sends.
class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() : dispatcher_([this](const json& m) { sent_.push_back(m); }) {
    dispatcher_.on_request("initialize", [](const json&, Reply reply) {
      reply.result({{"capabilities", json::object()}});
    });
    dispatcher_.on_request("echo", [](const json& params, Reply reply) { reply.result(params); });
    dispatcher_.on_exit([this](int code) { exit_code_ = code; });
  }

  void send(const json& message) { dispatcher_.handle_message(message.dump()); }
  void request(const json& id, const std::string& method, json params = json::object()) {
    send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
  }
  void notification(const std::string& method, json params = json::object()) {
    send({{"jsonrpc", "2.0"}, {"method", method}, {"params", params}});
  }
  void initialize() {
    request(0, "initialize");
    ASSERT_EQ(sent_.size(), 1u);
    ASSERT_TRUE(sent_[0].contains("result")) << sent_[0];
    sent_.clear();
  }
  // The only message sent since the last call; fails when there is not
  // exactly one.
  json only_sent() {
    EXPECT_EQ(sent_.size(), 1u) << json(sent_).dump();
    json out = sent_.empty() ? json() : sent_.back();
    sent_.clear();
    return out;
  }
  static int error_code(const json& response) {
    return response.contains("error") ? response["error"]["code"].get<int>() : 0;
  }

  std::vector<json> sent_;
  Dispatcher dispatcher_;
  std::optional<int> exit_code_;
};

// --- lifecycle ---

TEST_F(DispatcherTest, RequestsBeforeInitializeGetServerNotInitialized) {
  request(1, "echo");
  json r = only_sent();
  EXPECT_EQ(error_code(r), code::kServerNotInitialized);
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["jsonrpc"], "2.0");
  EXPECT_EQ(dispatcher_.lifecycle(), Lifecycle::kUninitialized);
}

TEST_F(DispatcherTest, InitializeIsAnsweredAndStartsTheSession) {
  request("init", "initialize", {{"processId", nullptr}});
  json r = only_sent();
  EXPECT_EQ(r["id"], "init");
  EXPECT_TRUE(r["result"].contains("capabilities"));
  EXPECT_EQ(dispatcher_.lifecycle(), Lifecycle::kRunning);
  request(2, "echo", {{"x", 1}});
  EXPECT_EQ(only_sent()["result"], json({{"x", 1}}));
}

TEST_F(DispatcherTest, NotificationsBeforeInitializeAreDropped) {
  int calls = 0;
  dispatcher_.on_notification("note", [&](const json&) { ++calls; });
  notification("note");
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(sent_.empty());
  initialize();
  notification("note");
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(DispatcherTest, SecondInitializeIsInvalidRequest) {
  initialize();
  request(5, "initialize");
  json r = only_sent();
  EXPECT_EQ(error_code(r), code::kInvalidRequest);
  EXPECT_EQ(r["id"], 5);
}

TEST_F(DispatcherTest, ShutdownAnswersNullThenRefusesRequests) {
  bool shutdown_called = false;
  dispatcher_.on_shutdown([&] { shutdown_called = true; });
  initialize();
  request(1, "shutdown");
  json r = only_sent();
  ASSERT_TRUE(r.contains("result"));
  EXPECT_TRUE(r["result"].is_null());
  EXPECT_TRUE(shutdown_called);
  EXPECT_EQ(dispatcher_.lifecycle(), Lifecycle::kShutDown);
  request(2, "echo");
  EXPECT_EQ(error_code(only_sent()), code::kInvalidRequest);
  request(3, "shutdown");
  EXPECT_EQ(error_code(only_sent()), code::kInvalidRequest);
}

TEST_F(DispatcherTest, ExitAfterShutdownIsZero) {
  initialize();
  request(1, "shutdown");
  sent_.clear();
  notification("exit");
  EXPECT_EQ(exit_code_, 0);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(DispatcherTest, ExitWithoutShutdownIsOne) {
  initialize();
  notification("exit");
  EXPECT_EQ(exit_code_, 1);
}

TEST_F(DispatcherTest, ExitIsHonouredEvenBeforeInitialize) {
  notification("exit");
  EXPECT_EQ(exit_code_, 1);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(DispatcherTest, UnknownMethodIsMethodNotFound) {
  initialize();
  request(7, "no/such/method");
  json r = only_sent();
  EXPECT_EQ(error_code(r), code::kMethodNotFound);
  EXPECT_EQ(r["id"], 7);
  EXPECT_THAT(r["error"]["message"].get<std::string>(), HasSubstr("no/such/method"));
}

TEST_F(DispatcherTest, UnknownNotificationsAreIgnored) {
  initialize();
  notification("no/such/notification");
  notification("$/somethingNew");
  EXPECT_TRUE(sent_.empty());
}

TEST_F(DispatcherTest, NotifySendsANotification) {
  dispatcher_.notify("exec/output", {{"execId", "e1"}});
  json n = only_sent();
  EXPECT_EQ(n,
            json({{"jsonrpc", "2.0"}, {"method", "exec/output"}, {"params", {{"execId", "e1"}}}}));
}

TEST_F(DispatcherTest, FrameErrorIsAParseErrorWithNullId) {
  dispatcher_.handle_frame_error("header block too long");
  json r = only_sent();
  EXPECT_EQ(error_code(r), code::kParseError);
  EXPECT_TRUE(r["id"].is_null());
  EXPECT_EQ(r["error"]["message"], "header block too long");
}

// --- malformed messages ---

TEST_F(DispatcherTest, InvalidJsonIsParseError) {
  for (std::string body : {"{", "", "nul", "{\"jsonrpc\":\"2.0\",}", "[1,", "\"unterminated"}) {
    dispatcher_.handle_message(body);
    json r = only_sent();
    EXPECT_EQ(error_code(r), code::kParseError) << body;
    EXPECT_TRUE(r.contains("id") && r["id"].is_null()) << body;
  }
}

TEST_F(DispatcherTest, InvalidUtf8IsParseError) {
  initialize();
  dispatcher_.handle_message(
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\",\"params\":[\"\xff\"]}");
  json r = only_sent();
  EXPECT_EQ(error_code(r), code::kParseError);
  EXPECT_TRUE(r["id"].is_null());
}

TEST_F(DispatcherTest, NonObjectMessagesAreInvalidRequests) {
  for (std::string body : {"1", "\"text\"", "null", "true"}) {
    dispatcher_.handle_message(body);
    json r = only_sent();
    EXPECT_EQ(error_code(r), code::kInvalidRequest) << body;
    EXPECT_TRUE(r["id"].is_null()) << body;
  }
}

TEST_F(DispatcherTest, WrongOrMissingJsonrpcVersionIsInvalidRequest) {
  initialize();
  send({{"jsonrpc", "1.0"}, {"id", 1}, {"method", "echo"}});
  json r = only_sent();
  EXPECT_EQ(error_code(r), code::kInvalidRequest);
  EXPECT_EQ(r["id"], 1);  // the id is known, so it is echoed
  send({{"id", 2}, {"method", "echo"}});
  EXPECT_EQ(error_code(only_sent()), code::kInvalidRequest);
  send({{"jsonrpc", 2.0}, {"id", 3}, {"method", "echo"}});
  EXPECT_EQ(error_code(only_sent()), code::kInvalidRequest);
}

TEST_F(DispatcherTest, BadIdTypesAreInvalidRequestWithNullId) {
  initialize();
  for (json id : {json(1.5), json::object(), json::array({1}), json(true)}) {
    send({{"jsonrpc", "2.0"}, {"id", id}, {"method", "echo"}});
    json r = only_sent();
    EXPECT_EQ(error_code(r), code::kInvalidRequest) << id;
    EXPECT_TRUE(r["id"].is_null()) << id;
  }
}

TEST_F(DispatcherTest, StringAndIntegerIdsAreEchoedExactly) {
  initialize();
  for (json id : {json("abc"), json(""), json(0), json(-5), json(9007199254740993ull)}) {
    request(id, "echo");
    EXPECT_EQ(only_sent()["id"], id);
  }
}

TEST_F(DispatcherTest, MissingOrNonStringMethodIsInvalidRequest) {
  initialize();
  send({{"jsonrpc", "2.0"}, {"id", 1}});
  EXPECT_EQ(error_code(only_sent()), code::kInvalidRequest);
  send({{"jsonrpc", "2.0"}, {"id", 2}, {"method", 42}});
  EXPECT_EQ(error_code(only_sent()), code::kInvalidRequest);
}

TEST_F(DispatcherTest, UnstructuredParamsAreInvalidRequest) {
  initialize();
  for (json params : {json(1), json("s"), json(true)}) {
    send({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "echo"}, {"params", params}});
    json r = only_sent();
    EXPECT_EQ(error_code(r), code::kInvalidRequest) << params;
    EXPECT_EQ(r["id"], 1);
  }
  // Arrays and objects are fine; absent params read as an empty object.
  send({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "echo"}, {"params", {1, 2}}});
  EXPECT_EQ(only_sent()["result"], json({1, 2}));
  send({{"jsonrpc", "2.0"}, {"id", 3}, {"method", "echo"}});
  EXPECT_EQ(only_sent()["result"], json::object());
}

TEST_F(DispatcherTest, ResponsesFromTheClientAreIgnored) {
  initialize();
  send({{"jsonrpc", "2.0"}, {"id", 1}, {"result", 5}});
  send({{"jsonrpc", "2.0"}, {"id", 2}, {"error", {{"code", 1}, {"message", "x"}}}});
  EXPECT_TRUE(sent_.empty());
}

// --- batches ---

TEST_F(DispatcherTest, EmptyBatchIsOneInvalidRequestNotAnArray) {
  dispatcher_.handle_message("[]");
  json r = only_sent();
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(error_code(r), code::kInvalidRequest);
}

TEST_F(DispatcherTest, BatchOfInvalidElementsGetsOneErrorEach) {
  dispatcher_.handle_message("[1,2,3]");
  json r = only_sent();
  ASSERT_TRUE(r.is_array());
  ASSERT_EQ(r.size(), 3u);
  for (const json& e : r) {
    EXPECT_EQ(error_code(e), code::kInvalidRequest);
    EXPECT_TRUE(e["id"].is_null());
  }
}

TEST_F(DispatcherTest, MixedBatchAnswersOnlyTheRequests) {
  initialize();
  int notes = 0;
  dispatcher_.on_notification("note", [&](const json&) { ++notes; });
  dispatcher_.handle_message(R"([
    {"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1}},
    {"jsonrpc":"2.0","method":"note"},
    {"foo":"boo"},
    {"jsonrpc":"2.0","id":"x","method":"nope"},
    {"jsonrpc":"2.0","id":2,"method":"echo","params":[7]}
  ])");
  json r = only_sent();
  ASSERT_TRUE(r.is_array());
  std::vector<std::string> summary;
  for (const json& e : r) summary.push_back(e["id"].dump() + ":" + std::to_string(error_code(e)));
  EXPECT_THAT(summary, UnorderedElementsAre("1:0", "null:-32600", "\"x\":-32601", "2:0"));
  EXPECT_EQ(notes, 1);
}

TEST_F(DispatcherTest, BatchOfNotificationsOnlySendsNothing) {
  initialize();
  int notes = 0;
  dispatcher_.on_notification("note", [&](const json&) { ++notes; });
  dispatcher_.handle_message(R"([{"jsonrpc":"2.0","method":"note"},
                                 {"jsonrpc":"2.0","method":"note","params":[]}])");
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(notes, 2);
}

TEST_F(DispatcherTest, AsyncRepliesInABatchAreCollectedIntoOneArray) {
  initialize();
  std::vector<Reply> held;
  dispatcher_.on_request("later",
                         [&](const json&, Reply reply) { held.push_back(std::move(reply)); });
  dispatcher_.handle_message(R"([
    {"jsonrpc":"2.0","id":1,"method":"later"},
    {"jsonrpc":"2.0","id":2,"method":"echo","params":{"now":true}},
    {"jsonrpc":"2.0","method":"note"},
    {"jsonrpc":"2.0","id":3,"method":"later"}
  ])");
  EXPECT_TRUE(sent_.empty()) << "the batch was answered before all its requests";
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(dispatcher_.pending_requests(), 2u);
  held[1].result("third");
  EXPECT_TRUE(sent_.empty());
  held[0].result("first");
  json r = only_sent();
  ASSERT_TRUE(r.is_array());
  std::vector<std::string> summary;
  for (const json& e : r) summary.push_back(e["id"].dump() + "=" + e["result"].dump());
  EXPECT_THAT(summary, UnorderedElementsAre("1=\"first\"", "2={\"now\":true}", "3=\"third\""));
  EXPECT_EQ(dispatcher_.pending_requests(), 0u);
}

TEST_F(DispatcherTest, ADroppedReplyInsideABatchBecomesInternalErrorInTheArray) {
  initialize();
  dispatcher_.on_request("forget", [](const json&, Reply) {});
  dispatcher_.handle_message(R"([{"jsonrpc":"2.0","id":1,"method":"forget"},
                                 {"jsonrpc":"2.0","id":2,"method":"echo"}])");
  json r = only_sent();
  ASSERT_TRUE(r.is_array());
  ASSERT_EQ(r.size(), 2u);
  std::vector<int> codes{error_code(r[0]), error_code(r[1])};
  EXPECT_THAT(codes, UnorderedElementsAre(code::kInternalError, 0));
}

// --- Reply ---

TEST_F(DispatcherTest, ReplyAnswersExactlyOnce) {
  initialize();
  dispatcher_.on_request("twice", [](const json&, Reply reply) {
    EXPECT_FALSE(reply.answered());
    reply.result(1);
    EXPECT_TRUE(reply.answered());
    reply.result(2);
    reply.error(RpcError{code::kRequestFailed, "late", nullptr});
  });
  request(1, "twice");
  json r = only_sent();
  EXPECT_EQ(r["result"], 1);
}

TEST_F(DispatcherTest, ReplyDroppedSynchronouslyAnswersInternalError) {
  initialize();
  dispatcher_.on_request("forget", [](const json&, Reply) {});
  request(4, "forget");
  json r = only_sent();
  EXPECT_EQ(error_code(r), code::kInternalError);
  EXPECT_EQ(r["id"], 4);
  EXPECT_EQ(dispatcher_.pending_requests(), 0u);
}

TEST_F(DispatcherTest, ReplyDroppedLaterAnswersInternalError) {
  initialize();
  std::optional<Reply> held;
  dispatcher_.on_request("later",
                         [&](const json&, Reply reply) { held.emplace(std::move(reply)); });
  request("k", "later");
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(dispatcher_.pending_requests(), 1u);
  held.reset();
  json r = only_sent();
  EXPECT_EQ(error_code(r), code::kInternalError);
  EXPECT_EQ(r["id"], "k");
  EXPECT_EQ(dispatcher_.pending_requests(), 0u);
}

TEST_F(DispatcherTest, MovedFromReplyDoesNotAnswer) {
  initialize();
  std::optional<Reply> held;
  dispatcher_.on_request("later", [&](const json&, Reply reply) {
    Reply moved = std::move(reply);
    held.emplace(std::move(moved));
  });
  request(1, "later");
  EXPECT_TRUE(sent_.empty());
  held->result("done");
  EXPECT_EQ(only_sent()["result"], "done");
}

// --- errors thrown by handlers ---

TEST_F(DispatcherTest, HandlerThrowingRpcErrorAnswersThatError) {
  initialize();
  dispatcher_.on_request("fail", [](const json&, Reply) {
    throw RpcError{code::kSandboxNotFound, "sandbox not found: \"sb-9\"", {{"sandboxId", "sb-9"}}};
  });
  request(1, "fail");
  json r = only_sent();
  EXPECT_EQ(error_code(r), code::kSandboxNotFound);
  EXPECT_EQ(r["error"]["message"], "sandbox not found: \"sb-9\"");
  EXPECT_EQ(r["error"]["data"], json({{"sandboxId", "sb-9"}}));
  EXPECT_EQ(r["id"], 1);
}

TEST_F(DispatcherTest, HandlerThrowingInvalidParamsAnswersInvalidParams) {
  initialize();
  dispatcher_.on_request("strict", [](const json&, Reply reply) {
    Reply mine = std::move(reply);  // held in a local, dropped by the unwinding
    throw invalid_params("params.argv: must be a non-empty array of strings");
  });
  request(2, "strict");
  json r = only_sent();
  EXPECT_EQ(error_code(r), code::kInvalidParams);
  EXPECT_EQ(r["error"]["message"], "params.argv: must be a non-empty array of strings");
}

TEST_F(DispatcherTest, HandlerThrowingStdExceptionAnswersInternalError) {
  initialize();
  dispatcher_.on_request("boom", [](const json& params, Reply) {
    (void)params.at("missing");  // nlohmann throws out_of_range
  });
  dispatcher_.on_request("boom2",
                         [](const json&, Reply) { throw std::runtime_error("disk on fire"); });
  request(1, "boom");
  EXPECT_EQ(error_code(only_sent()), code::kInternalError);
  request(2, "boom2");
  json r = only_sent();
  EXPECT_EQ(error_code(r), code::kInternalError);
  EXPECT_THAT(r["error"]["message"].get<std::string>(), HasSubstr("disk on fire"));
}

TEST_F(DispatcherTest, HandlerThrowingAfterAnsweringSendsOnlyTheAnswer) {
  initialize();
  dispatcher_.on_request("answer-then-throw", [](const json&, Reply reply) {
    reply.result("ok");
    throw std::runtime_error("too late");
  });
  request(1, "answer-then-throw");
  EXPECT_EQ(only_sent()["result"], "ok");
}

TEST_F(DispatcherTest, HandlerThrowingWhileAReplyIsHeldAnswersTheErrorOnce) {
  initialize();
  std::optional<Reply> held;
  dispatcher_.on_request("hold-then-throw", [&](const json&, Reply reply) {
    held.emplace(std::move(reply));
    throw RpcError{code::kInvalidState, "not now", nullptr};
  });
  request(1, "hold-then-throw");
  EXPECT_EQ(error_code(only_sent()), code::kInvalidState);
  held->result("late");  // dropped: already answered
  held.reset();
  EXPECT_TRUE(sent_.empty());
}

TEST_F(DispatcherTest, NotificationHandlerExceptionsAreContained) {
  initialize();
  dispatcher_.on_notification("bad", [](const json&) { throw std::runtime_error("x"); });
  EXPECT_NO_THROW(notification("bad"));
  EXPECT_TRUE(sent_.empty());
}

// --- cancellation ---

TEST_F(DispatcherTest, CancelRequestInvokesTheCancelHandler) {
  initialize();
  std::shared_ptr<Reply> held;
  int cancels = 0;
  dispatcher_.on_request("slow", [&](const json&, Reply reply) {
    held = std::make_shared<Reply>(std::move(reply));
    held->on_cancel([&] {
      ++cancels;
      held->cancelled();
    });
  });
  request(11, "slow");
  EXPECT_TRUE(sent_.empty());
  notification("$/cancelRequest", {{"id", 11}});
  EXPECT_EQ(cancels, 1);
  json r = only_sent();
  EXPECT_EQ(error_code(r), code::kRequestCancelled);
  EXPECT_EQ(r["id"], 11);
  // A second cancel for the answered request does nothing.
  notification("$/cancelRequest", {{"id", 11}});
  EXPECT_EQ(cancels, 1);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(DispatcherTest, CancelRequestForUnknownOrMismatchedIdsIsIgnored) {
  initialize();
  std::shared_ptr<Reply> held;
  int cancels = 0;
  dispatcher_.on_request("slow", [&](const json&, Reply reply) {
    held = std::make_shared<Reply>(std::move(reply));
    held->on_cancel([&] { ++cancels; });
  });
  request(1, "slow");
  notification("$/cancelRequest", {{"id", 99}});
  notification("$/cancelRequest", {{"id", "1"}});  // a string is not the integer 1
  notification("$/cancelRequest", json::object());
  notification("$/cancelRequest", {{"id", 1.0 / 3}});
  EXPECT_EQ(cancels, 0);
  EXPECT_TRUE(sent_.empty());
  held->result("finished");
  EXPECT_EQ(only_sent()["result"], "finished");
  notification("$/cancelRequest", {{"id", 1}});  // already answered
  EXPECT_EQ(cancels, 0);
}

TEST_F(DispatcherTest, CancelRequestWithoutACancelHandlerIsHarmless) {
  initialize();
  std::optional<Reply> held;
  dispatcher_.on_request("slow", [&](const json&, Reply reply) { held.emplace(std::move(reply)); });
  request("s", "slow");
  notification("$/cancelRequest", {{"id", "s"}});
  EXPECT_TRUE(sent_.empty());
  held->result(1);
  EXPECT_EQ(only_sent()["id"], "s");
}

TEST_F(DispatcherTest, CancelRequestBeforeInitializeIsDropped) {
  notification("$/cancelRequest", {{"id", 1}});
  EXPECT_TRUE(sent_.empty());
}

}  // namespace
}  // namespace agentd::rpc
