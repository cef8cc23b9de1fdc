#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

#include "rpc/errors.hpp"

namespace agentd::rpc {

using json = nlohmann::json;

struct PendingRequest;

// The only way to answer a request. Move-only; answers exactly once; a Reply
// dropped unanswered answers InternalError so the client never waits forever.
class Reply {
 public:
  explicit Reply(std::shared_ptr<PendingRequest> state) : state_(std::move(state)) {}
  Reply(Reply&&) = default;
  Reply& operator=(Reply&&) = default;
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  ~Reply();

  void result(json value);
  void error(RpcError error);
  // Called when the client sends $/cancelRequest for this request; the
  // handler must then answer (normally with cancelled()).
  void on_cancel(std::function<void()> handler);
  void cancelled();
  bool answered() const;

 private:
  std::shared_ptr<PendingRequest> state_;
};

enum class Lifecycle { kUninitialized, kRunning, kShutDown };

// JSON-RPC 2.0 message handling without any transport: takes message bodies,
// validates them, enforces the LSP lifecycle, routes to the method table and
// hands responses to `send`. Knows nothing of sandboxes.
class Dispatcher {
 public:
  using RequestHandler = std::function<void(const json& params, Reply reply)>;
  using NotificationHandler = std::function<void(const json& params)>;
  using Sender = std::function<void(const json& message)>;

  // Without set_raw_sender(), serialized notifications are parsed and sent.
  explicit Dispatcher(Sender send)
      : send_(std::move(send)),
        send_raw_([this](std::string_view body) { send_(json::parse(body, nullptr, false)); }) {}

  void on_request(std::string method, RequestHandler handler);
  void on_notification(std::string method, NotificationHandler handler);
  // Called with the exit code when the client sends `exit`.
  void on_exit(std::function<void(int)> handler) { on_exit_ = std::move(handler); }
  // Called once when `shutdown` arrives, before it is answered.
  void on_shutdown(std::function<void()> handler) { on_shutdown_ = std::move(handler); }

  void handle_message(std::string_view body);
  void handle_frame_error(const std::string& message);
  void notify(const std::string& method, json params);
  // Sends a notification already serialized as one JSON object (the hot
  // output path builds it without a DOM).
  void notify_serialized(std::string_view body) { send_raw_(body); }
  void set_raw_sender(std::function<void(std::string_view)> send) { send_raw_ = std::move(send); }

  Lifecycle lifecycle() const { return lifecycle_; }
  size_t pending_requests() const { return pending_.size(); }

 private:
  friend struct PendingRequest;
  struct Batch;
  using ResponseSink = std::function<void(json)>;

  void handle_one(const json& message, const ResponseSink& sink);
  void handle_batch(const json& batch);
  void dispatch_request(const json& id, const std::string& method, const json& params,
                        const ResponseSink& sink);
  // Runs a request handler; returns the error it threw, if any.
  static std::optional<RpcError> call_handler(const RequestHandler& handler, const json& params,
                                              const std::shared_ptr<PendingRequest>& state);
  void dispatch_notification(const std::string& method, const json& params);
  void handle_cancel(const json& params);
  void forget(const std::string& key, const PendingRequest* request);

  Sender send_;
  std::function<void(std::string_view)> send_raw_;
  std::unordered_map<std::string, RequestHandler> requests_;
  std::unordered_map<std::string, NotificationHandler> notifications_;
  std::unordered_map<std::string, std::weak_ptr<PendingRequest>> pending_;
  std::function<void(int)> on_exit_;
  std::function<void()> on_shutdown_;
  Lifecycle lifecycle_ = Lifecycle::kUninitialized;
};

json make_error_response(const json& id, const RpcError& error);

}  // namespace agentd::rpc
