#include "rpc/dispatcher.hpp"

#include "base/log.hpp"

namespace agentd::rpc {

using Clock = std::chrono::steady_clock;

struct PendingRequest {
  json id;
  std::string key;  // id.dump(), the key in Dispatcher::pending_
  std::string method;
  Clock::time_point started = Clock::now();
  std::function<void(json)> sink;
  std::function<void()> cancel_handler;
  Dispatcher* dispatcher = nullptr;
  bool answered = false;
  bool failed = false;  // answered with an error
  // While the handler runs, a dropped Reply (also one destroyed by stack
  // unwinding when the handler throws) does not answer: dispatch_request
  // answers afterwards, with the thrown error if there is one.
  bool in_handler = false;
  bool dropped_in_handler = false;

  void answer(json response) {
    if (answered) {
      base::log_error("internal: second reply to " + method + "(" + key + ") dropped");
      return;
    }
    answered = true;
    failed = response.contains("error");
    cancel_handler = nullptr;
    if (base::log_level() >= base::LogLevel::kDebug) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
      base::log_debug("--> reply " + method + "(" + key + ") " + std::to_string(ms.count()) + "ms" +
                      (response.contains("error") ? " error" : ""));
    }
    if (dispatcher) dispatcher->forget(key, this);
    sink(std::move(response));
  }
};

json make_error_response(const json& id, const RpcError& error) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", error.to_json()}};
}

namespace {

RpcError no_reply_error(const PendingRequest& request) {
  return RpcError{code::kInternalError,
                  "internal error: " + request.method + " finished without a reply", nullptr};
}

}  // namespace

Reply::~Reply() {
  if (!state_ || state_->answered) return;
  if (state_->in_handler) {
    state_->dropped_in_handler = true;
    return;
  }
  state_->answer(make_error_response(state_->id, no_reply_error(*state_)));
}

void Reply::result(json value) {
  state_->answer(json{{"jsonrpc", "2.0"}, {"id", state_->id}, {"result", std::move(value)}});
}

void Reply::error(RpcError error) { state_->answer(make_error_response(state_->id, error)); }

void Reply::on_cancel(std::function<void()> handler) { state_->cancel_handler = std::move(handler); }

void Reply::cancelled() {
  error(RpcError{code::kRequestCancelled, state_->method + " was cancelled by the client",
                 nullptr});
}

bool Reply::answered() const { return state_->answered; }

void Dispatcher::on_request(std::string method, RequestHandler handler) {
  requests_[std::move(method)] = std::move(handler);
}

void Dispatcher::on_notification(std::string method, NotificationHandler handler) {
  notifications_[std::move(method)] = std::move(handler);
}

void Dispatcher::notify(const std::string& method, json params) {
  send_(json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
}

void Dispatcher::handle_frame_error(const std::string& message) {
  base::log_warn("framing: " + message);
  send_(make_error_response(nullptr, RpcError{code::kParseError, message, nullptr}));
}

void Dispatcher::handle_message(std::string_view body) {
  json message = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    send_(make_error_response(
        nullptr, RpcError{code::kParseError,
                          "parse error: the message is not valid JSON (or not valid UTF-8)",
                          nullptr}));
    return;
  }
  if (message.is_array()) {
    handle_batch(message);
    return;
  }
  handle_one(message, send_);
}

// A batch is answered with one array once every request in it is answered;
// a batch of notifications only is not answered at all.
struct Dispatcher::Batch {
  Sender send;
  std::vector<json> responses;
  size_t outstanding = 0;
  bool dispatching = true;

  void maybe_finish() {
    if (dispatching || outstanding > 0 || responses.empty()) return;
    send(json(std::move(responses)));
    responses.clear();
  }
};

void Dispatcher::handle_batch(const json& batch) {
  if (batch.empty()) {
    send_(make_error_response(
        nullptr, RpcError{code::kInvalidRequest, "invalid request: empty batch", nullptr}));
    return;
  }
  auto state = std::make_shared<Batch>();
  state->send = send_;
  for (const json& element : batch) {
    ++state->outstanding;
    auto answered = std::make_shared<bool>(false);
    handle_one(element, [state, answered](json response) {
      *answered = true;
      state->responses.push_back(std::move(response));
      --state->outstanding;
      state->maybe_finish();
    });
    // Notifications never answer; requests answer now or later.
    bool is_request = element.is_object() && element.contains("id") && element.contains("method");
    if (!*answered && !is_request) --state->outstanding;
  }
  state->dispatching = false;
  state->maybe_finish();
}

namespace {

RpcError invalid_request(std::string why) {
  return RpcError{code::kInvalidRequest, "invalid request: " + why, nullptr};
}

bool valid_id(const json& id) {
  return id.is_string() || id.is_number_integer() || id.is_number_unsigned() || id.is_null();
}

}  // namespace

void Dispatcher::handle_one(const json& message, const ResponseSink& sink) {
  if (!message.is_object()) {
    sink(make_error_response(nullptr, invalid_request("expected a JSON object")));
    return;
  }
  bool has_id = message.contains("id");
  json id = has_id && valid_id(message["id"]) ? message["id"] : json(nullptr);
  if (has_id && !valid_id(message["id"])) {
    sink(make_error_response(nullptr, invalid_request("`id` must be a string or an integer")));
    return;
  }
  auto version = message.find("jsonrpc");
  if (version == message.end() || *version != "2.0") {
    sink(make_error_response(id, invalid_request("`jsonrpc` must be \"2.0\"")));
    return;
  }
  auto method = message.find("method");
  if (method == message.end()) {
    // A response from the client: we send no requests, so nothing waits for it.
    if (message.contains("result") || message.contains("error")) return;
    sink(make_error_response(id, invalid_request("`method` is missing")));
    return;
  }
  if (!method->is_string()) {
    sink(make_error_response(id, invalid_request("`method` must be a string")));
    return;
  }
  json params = message.value("params", json::object());
  if (!params.is_object() && !params.is_array()) {
    sink(make_error_response(id, invalid_request("`params` must be an object or an array")));
    return;
  }
  if (has_id) {
    dispatch_request(id, method->get<std::string>(), params, sink);
  } else {
    dispatch_notification(method->get<std::string>(), params);
  }
}

void Dispatcher::dispatch_request(const json& id, const std::string& method, const json& params,
                                  const ResponseSink& sink) {
  base::log_debug("<-- " + method + "(" + id.dump() + ")");
  auto reject = [&](int code, std::string message) {
    sink(make_error_response(id, RpcError{code, std::move(message), nullptr}));
  };
  if (lifecycle_ == Lifecycle::kUninitialized && method != "initialize") {
    return reject(code::kServerNotInitialized,
                  "server not initialized: send `initialize` before `" + method + "`");
  }
  if (lifecycle_ != Lifecycle::kUninitialized && method == "initialize") {
    return reject(code::kInvalidRequest, "invalid request: `initialize` was already received");
  }
  if (lifecycle_ == Lifecycle::kShutDown) {
    return reject(code::kInvalidRequest,
                  "invalid request: the server is shut down; only `exit` is accepted");
  }
  auto state = std::make_shared<PendingRequest>();
  state->id = id;
  state->key = id.dump();
  state->method = method;
  state->sink = sink;
  state->dispatcher = this;
  if (method == "shutdown") {
    if (on_shutdown_) on_shutdown_();
    lifecycle_ = Lifecycle::kShutDown;
    Reply(state).result(nullptr);
    return;
  }
  auto handler = requests_.find(method);
  if (handler == requests_.end()) {
    return reject(code::kMethodNotFound, "method not found: " + method);
  }
  if (method == "initialize") lifecycle_ = Lifecycle::kRunning;
  pending_[state->key] = state;
  state->in_handler = true;
  std::optional<RpcError> thrown = call_handler(handler->second, params, state);
  state->in_handler = false;
  if (!state->answered) {
    if (thrown) {
      Reply(state).error(std::move(*thrown));
    } else if (state->dropped_in_handler) {
      Reply(state).error(no_reply_error(*state));
    }
  }
  // A failed initialize leaves the session uninitialized: the client may retry.
  if (method == "initialize" && state->answered && state->failed) {
    lifecycle_ = Lifecycle::kUninitialized;
  }
}

std::optional<RpcError> Dispatcher::call_handler(const RequestHandler& handler, const json& params,
                                                 const std::shared_ptr<PendingRequest>& state) {
  try {
    handler(params, Reply(state));
  } catch (const RpcError& error) {
    return error;
  } catch (const std::exception& e) {
    base::log_error("internal error in " + state->method + ": " + e.what());
    return RpcError{code::kInternalError, "internal error in " + state->method + ": " + e.what(),
                    nullptr};
  } catch (...) {
    base::log_error("internal error in " + state->method + ": unknown exception");
    return RpcError{code::kInternalError, "internal error in " + state->method, nullptr};
  }
  return std::nullopt;
}

void Dispatcher::dispatch_notification(const std::string& method, const json& params) {
  base::log_debug("<-- notification " + method);
  if (method == "exit") {
    if (on_exit_) on_exit_(lifecycle_ == Lifecycle::kShutDown ? 0 : 1);
    return;
  }
  if (lifecycle_ == Lifecycle::kUninitialized) return;  // dropped, as LSP says
  if (method == "$/cancelRequest") return handle_cancel(params);
  auto handler = notifications_.find(method);
  if (handler == notifications_.end()) {
    if (method.rfind("$/", 0) != 0) base::log_info("ignoring unknown notification " + method);
    return;
  }
  try {
    handler->second(params);
  } catch (const std::exception& e) {
    base::log_warn("notification " + method + " failed: " + e.what());
  }
}

void Dispatcher::handle_cancel(const json& params) {
  if (!params.is_object() || !params.contains("id") || !valid_id(params["id"])) return;
  auto it = pending_.find(params["id"].dump());
  if (it == pending_.end()) return;  // already answered: nothing to cancel
  auto request = it->second.lock();
  if (!request || request->answered || !request->cancel_handler) return;
  auto handler = std::move(request->cancel_handler);
  request->cancel_handler = nullptr;
  handler();
}

void Dispatcher::forget(const std::string& key, const PendingRequest* request) {
  auto it = pending_.find(key);
  if (it == pending_.end()) return;
  auto current = it->second.lock();
  if (!current || current.get() == request) pending_.erase(it);
}

}  // namespace agentd::rpc
