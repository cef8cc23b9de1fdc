// tools/call: checks the arguments, then translates each tool into agentd
// requests to the inner session and its replies into a CallToolResult.
#include "base/log.hpp"
#include "mcp/mcp_server.hpp"
#include "mcp/schema_check.hpp"
#include "rpc/errors.hpp"

namespace agentd::mcp {

namespace {

using Outcome = InnerAgentd::Outcome;

// Rules of the exec tool that its inputSchema cannot state without a
// top-level oneOf (which several MCP hosts refuse).
std::optional<std::string> check_exec_arguments(const json& arguments) {
  bool argv = arguments.contains("argv");
  bool command = arguments.contains("command");
  if (argv == command) {
    return "arguments: give exactly one of argv (program and arguments) and command (a shell "
           "command line)";
  }
  if (arguments.contains("isolation") && arguments.contains("sandboxId")) {
    return "arguments.isolation: only without sandboxId (a sandbox's isolation is fixed when it "
           "is created)";
  }
  return std::nullopt;
}

json progress_token_of(const json& params) {
  auto meta = params.find("_meta");
  if (meta == params.end() || !meta->is_object()) return nullptr;
  auto token = meta->find("progressToken");
  if (token == meta->end() || !(token->is_string() || token->is_number_integer())) return nullptr;
  return *token;
}

// The CallToolResult of a tool that maps to one agentd request.
json passthrough_result(const Tool& tool, const json& result) {
  if (tool.name == "fs_read") return fs_read_result(result);
  std::string text = result.is_object() && result.empty()
                         ? "done"
                         : result.dump(2, ' ', false, json::error_handler_t::replace);
  if (tool.name == "sandbox_create") {
    text = "Created sandbox " + result.value("sandboxId", "?") + " (isolation " +
           result.value("isolation", "?") + "). Pass this sandboxId to exec and fs_* tools.\n" +
           text;
  }
  return tool_success_result(std::move(text), result.is_object() ? result : json());
}

}  // namespace

void McpServer::call_tool(const json& id, const json& params) {
  if (calls_.count(id.dump())) {
    return respond_error(
        id, rpc::code::kInvalidRequest,
        "request id " + id.dump() + " is already in use by a tools/call in flight");
  }
  auto name = params.find("name");
  if (name == params.end() || !name->is_string()) {
    return respond_error(id, rpc::code::kInvalidParams,
                         "params.name: expected the name of a tool (see tools/list)");
  }
  const Tool* tool = catalog_.find(*name);
  if (!tool) {
    return respond_error(
        id, rpc::code::kInvalidParams,
        "params.name: unknown tool \"" + name->get<std::string>() + "\" (see tools/list)");
  }
  json arguments = params.value("arguments", json::object());
  auto failure = arguments.is_object()
                     ? check_against_schema(arguments, tool->input_schema, "arguments")
                     : std::optional<std::string>("arguments: expected an object");
  if (!failure && tool->name == "exec") failure = check_exec_arguments(arguments);
  if (failure) return respond_error(id, rpc::code::kInvalidParams, *failure);

  auto call = std::make_shared<ToolCall>();
  call->id = id;
  call->tool = tool->name;
  call->progress_token = progress_token_of(params);
  calls_[id.dump()] = call;
  run_tool(call, *tool, std::move(arguments));
}

void McpServer::run_tool(const CallPtr& call, const Tool& tool, json arguments) {
  if (tool.name == "exec") return run_exec(call, std::move(arguments));
  if (tool.name == "sandbox_create" && !arguments.contains("isolation") &&
      !arguments.contains("profile")) {
    arguments["isolation"] = "linux";  // never "none" unless asked
  }
  if (tool.name == "fs_read" && !arguments.contains("encoding")) arguments["encoding"] = "utf8";
  if (!tool.input_schema["properties"].contains("sandboxId")) {
    return run_passthrough(call, tool, std::move(arguments));
  }
  with_sandbox(arguments, "linux", call, [this, call, &tool](json with_id) {
    run_passthrough(call, tool, std::move(with_id));
  });
}

void McpServer::run_passthrough(const CallPtr& call, const Tool& tool, json arguments) {
  inner_.call(tool.method, arguments, [this, call, &tool, arguments](Outcome outcome) {
    if (outcome.error) return finish(call, tool_error_result(tool.name, *outcome.error));
    if (tool.name == "sandbox_create" && call->cancelled) {
      // Nobody will learn its id: do not leave it behind.
      inner_.call("sandbox/destroy", {{"sandboxId", outcome.result.value("sandboxId", "")}},
                  [](Outcome) {});
      return;
    }
    if (tool.name == "sandbox_destroy") {
      std::erase_if(default_sandboxes_, [&](const auto& entry) {
        return entry.second.id == arguments.value("sandboxId", "");
      });
    }
    finish(call, passthrough_result(tool, outcome.result));
  });
}

void McpServer::run_exec(const CallPtr& call, json arguments) {
  std::string isolation = arguments.value("isolation", "linux");  // never "none" unless asked
  arguments.erase("isolation");
  if (auto command = arguments.find("command"); command != arguments.end()) {
    arguments["argv"] = json::array({"/bin/sh", "-c", *command});
    arguments.erase("command");
  }
  arguments["encoding"] = "utf8";  // MCP content is text
  with_sandbox(arguments, isolation, call,
               [this, call](json exec_params) { start_exec(call, std::move(exec_params)); });
}

void McpServer::start_exec(const CallPtr& call, json exec_params) {
  if (call->cancelled) return;  // cancelled while its sandbox was being created
  inner_.call("exec/start", std::move(exec_params), [this, call](Outcome outcome) {
    if (outcome.error) return finish(call, tool_error_result("exec", *outcome.error));
    call->exec_id = outcome.result.value("execId", "");
    execs_[call->exec_id] = call;
    if (call->cancelled) {
      inner_.call("exec/kill", {{"execId", call->exec_id}}, [](Outcome) {});
    }
  });
}

// Runs `then` with arguments naming a sandbox: the given sandboxId, or the
// session's default sandbox for `isolation`.
void McpServer::with_sandbox(json arguments, const std::string& isolation, const CallPtr& call,
                             std::function<void(json arguments)> then) {
  if (arguments.contains("sandboxId")) return then(std::move(arguments));
  ensure_default_sandbox(isolation, [this, call, arguments = std::move(arguments),
                                     then = std::move(then)](const Outcome& outcome) mutable {
    if (outcome.error) return finish(call, tool_error_result(call->tool, *outcome.error));
    arguments["sandboxId"] = outcome.result.value("sandboxId", "");
    then(std::move(arguments));
  });
}

void McpServer::ensure_default_sandbox(const std::string& isolation,
                                       std::function<void(const Outcome&)> then) {
  auto [it, fresh] = default_sandboxes_.try_emplace(isolation);
  if (!it->second.id.empty()) return then(Outcome{{{"sandboxId", it->second.id}}, std::nullopt});
  it->second.waiters.push_back(std::move(then));
  if (!fresh) return;  // being created: it answers every waiter
  json params = {{"isolation", isolation}, {"labels", {{"agentd.mcp", "default sandbox"}}}};
  inner_.call("sandbox/create", std::move(params), [this, isolation](Outcome outcome) {
    auto waiters = std::move(default_sandboxes_[isolation].waiters);
    if (outcome.error) {
      default_sandboxes_.erase(isolation);  // the next call tries again
    } else {
      default_sandboxes_[isolation].id = outcome.result.value("sandboxId", "");
      base::log_info("MCP default " + isolation + " sandbox: " + default_sandboxes_[isolation].id);
    }
    for (auto& waiter : waiters) waiter(outcome);
  });
}

void McpServer::on_inner_notification(const std::string& method, const json& params) {
  if (method == "exec/output") return on_exec_output(params);
  if (method == "exec/exit") return on_exec_exit(params);
  if (method == "sandbox/violation") {
    auto it = execs_.find(params.value("execId", ""));
    if (it != execs_.end()) {
      it->second->transcript.add_refusal(params.value("kind", ""), params.value("detail", ""));
    }
  }
}

void McpServer::on_exec_output(const json& params) {
  auto it = execs_.find(params.value("execId", ""));
  if (it == execs_.end()) return;
  CallPtr call = it->second;
  std::string text = params.value("data", "");
  call->transcript.append(params.value("stream", "stdout"), text);
  if (call->progress_token.is_null() || call->cancelled) return;
  call->progress += text.size();  // bytes so far: increases with every chunk
  send_({{"jsonrpc", "2.0"},
         {"method", "notifications/progress"},
         {"params",
          {{"progressToken", call->progress_token},
           {"progress", call->progress},
           {"message", std::move(text)}}}});
}

void McpServer::on_exec_exit(const json& params) {
  auto it = execs_.find(params.value("execId", ""));
  if (it == execs_.end()) return;
  CallPtr call = it->second;
  execs_.erase(it);
  finish(call, exec_result(params, call->transcript));
}

}  // namespace agentd::mcp
