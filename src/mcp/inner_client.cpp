#include "mcp/inner_client.hpp"

#include "base/log.hpp"

namespace agentd::mcp {

InnerAgentd::InnerAgentd(boost::asio::io_context& io, api::ServerOptions options,
                         NotificationHandler on_notification)
    : dispatcher_([this](const json& message) { on_message(message); }),
      on_notification_(std::move(on_notification)) {
  session_ = std::make_unique<api::Session>(io, dispatcher_, std::move(options));
  call("initialize", {{"clientInfo", {{"name", "agentd-mcp-facade"}}}}, [](Outcome outcome) {
    if (outcome.error) base::log_error("MCP facade: inner initialize: " + outcome.error->message);
  });
}

InnerAgentd::~InnerAgentd() { destroy_everything(); }

void InnerAgentd::call(const std::string& method, json params, Done done) {
  int64_t id = next_id_++;
  pending_.emplace(id, std::move(done));
  json request = {
      {"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
  dispatcher_.handle_message(request.dump(-1, ' ', false, json::error_handler_t::replace));
}

void InnerAgentd::destroy_everything() {
  if (session_) session_->destroy_everything();
}

void InnerAgentd::on_message(const json& message) {
  if (!message.is_object()) {
    base::log_error("MCP facade: agentd sent a message that is not a JSON object");
    return;
  }
  if (auto method = message.find("method"); method != message.end() && method->is_string()) {
    static const json kNoParams = json::object();
    auto params = message.find("params");
    on_notification_(*method, params != message.end() ? *params : kNoParams);
    return;
  }
  auto id = message.find("id");
  if (id == message.end() || !id->is_number_integer()) return;
  auto it = pending_.find(id->get<int64_t>());
  if (it == pending_.end()) return;
  Done done = std::move(it->second);
  pending_.erase(it);
  Outcome outcome;
  if (auto error = message.find("error"); error != message.end()) {
    outcome.error = rpc::RpcError{error->value("code", rpc::code::kInternalError),
                                  error->value("message", std::string("unknown error")),
                                  error->value("data", json())};
  } else {
    outcome.result = message.value("result", json());
  }
  done(std::move(outcome));
}

}  // namespace agentd::mcp
