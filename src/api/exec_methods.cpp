// exec/start, exec/run, exec/write, exec/kill, exec/list and the
// notifications of running execs.
#include <signal.h>

#include <boost/asio/post.hpp>

#include "api/session.hpp"
#include "base/base64.hpp"
#include "base/log.hpp"

namespace agentd::api {

namespace {

policy::EnvMap build_environment(const ExecParams& params, const policy::SandboxSpec& spec,
                                 const std::string& workdir) {
  policy::EnvMap env =
      params.inherit_env ? policy::inherited_environment() : policy::base_environment(workdir);
  env["HOME"] = workdir;  // the workdir as the sandbox sees it, also with inheritEnv
  if (params.pty) env["TERM"] = "xterm-256color";  // a real terminal now; callers may override
  for (const auto& [k, v] : spec.env) env[k] = v;
  for (const auto& [k, v] : params.env) env[k] = v;
  return env;
}

json exit_params(const std::string& exec_id, const std::string& sandbox_id,
                 const exec::ExecOutcome& outcome) {
  json params = outcome_to_json(outcome);
  params["execId"] = exec_id;
  params["sandboxId"] = sandbox_id;
  return params;
}

// One base64 exec/output notification, assembled in a buffer reused across
// calls: base64 and our ids need no JSON escaping, so the hot path of output
// skips the JSON DOM, its escaping dump and the copies in between.
std::string_view base64_output_line(const std::string& exec_id, const char* stream, uint64_t seq,
                                    std::string_view bytes) {
  thread_local std::string body;
  body.clear();
  body.reserve((bytes.size() + 2) / 3 * 4 + 160);
  body += R"({"jsonrpc":"2.0","method":"exec/output","params":{"execId":")";
  body += exec_id;
  body += R"(","stream":")";
  body += stream;
  body += R"(","seq":)";
  body += std::to_string(seq);
  body += R"(,"encoding":"base64","data":")";
  base::base64_append(bytes, body);
  body += R"("}})";
  return body;
}

}  // namespace

void Session::exec_start(const json& params, rpc::Reply reply, bool run) {
  ExecParams exec_params = parse_exec_params(params);
  if (run && exec_params.stdin_pipe && !exec_params.pty) {
    throw rpc::invalid_params("params.stdin: exec/run takes no input; use exec/start for \"pipe\"");
  }
  SandboxEntry& sandbox = find_sandbox(exec_params.sandbox_id);
  if (sandbox.suspended) {
    throw rpc::RpcError{rpc::code::kInvalidState,
                        "sandbox " + sandbox.id + " is suspended; sandbox/resume it first", nullptr};
  }
  for (const auto& field : policy::kLimitFields) {
    if (!(exec_params.limits.*field.member)) continue;
    if (auto problem = sandbox.sandbox->exec_limit_problem(field.wire_name)) {
      throw rpc::RpcError{rpc::code::kFeatureUnavailable,
                          std::string("params.limits.") + field.wire_name + ": " + *problem,
                          json{{"feature", std::string("limits.") + field.wire_name}}};
    }
  }
  auto limits = policy::lower_limits(sandbox.limits, exec_params.limits);
  if (!limits) throw rpc::invalid_params("params.limits." + limits.error().message());
  exec_params.limits = *limits;

  std::unique_ptr<rpc::Reply> run_reply;
  if (run) run_reply = std::make_unique<rpc::Reply>(std::move(reply));
  json started = start_exec(sandbox, exec_params, std::move(run_reply));
  if (!run) reply.result(std::move(started));
}

// Launches the process and registers the exec. A launch that fails for a
// reason of the request (bad cwd) throws InvalidParams; any other failure
// becomes an exec that ends at once with status setupError.
json Session::start_exec(SandboxEntry& sandbox, const ExecParams& params,
                         std::unique_ptr<rpc::Reply> run_reply) {
  exec::LaunchRequest request;
  request.argv = params.argv;
  request.cwd = params.cwd;
  request.env = build_environment(params, sandbox.spec, sandbox.sandbox->visible_workdir());
  request.stdin_pipe = params.stdin_pipe;
  request.pty = params.pty;
  request.limits = params.limits;
  auto launched = sandbox.sandbox->launch(request);
  if (auto* failure = std::get_if<exec::LaunchFailure>(&launched); failure && !failure->field.empty()) {
    throw rpc::invalid_params("params." + failure->field + ": " + failure->message);
  }

  std::string exec_id = "ex-" + std::to_string(next_exec_++);
  ExecEntry entry{.id = exec_id,
                  .sandbox_id = sandbox.id,
                  .argv = params.argv,
                  .session = nullptr,
                  .stdout_encoder = OutputEncoder(params.utf8),
                  .stderr_encoder = OutputEncoder(params.utf8)};
  entry.started = std::chrono::system_clock::now();
  entry.run_reply = std::move(run_reply);
  entry.pty = params.pty.has_value();
  entry.cwd = params.cwd;
  ++sandbox.usage.exec_count;

  if (auto* failure = std::get_if<exec::LaunchFailure>(&launched)) {
    base::log_info(exec_id + ": setup error: " + failure->message);
    execs_.emplace(exec_id, std::move(entry));
    sandbox.exec_ids.push_back(exec_id);
    // Report the exit after the start reply, as for any other exec.
    exec::ExecOutcome outcome = exec::setup_error_outcome(failure->message);
    boost::asio::post(io_, [this, exec_id, outcome] { on_exec_exit(exec_id, outcome); });
    return {{"execId", exec_id}, {"pid", nullptr}};
  }

  exec::ExecSession::Options options{params.limits.wall_time_ms, params.limits.max_output_bytes,
                                     params.limits.cpu_time_ms};
  exec::ExecSession::Callbacks callbacks;
  callbacks.on_output = [this, exec_id](exec::Stream stream, std::string_view bytes) {
    on_exec_output(exec_id, stream, bytes);
  };
  callbacks.on_exit = [this, exec_id](const exec::ExecOutcome& outcome) {
    on_exec_exit(exec_id, outcome);
  };
  if (!entry.run_reply) callbacks.wait_for_room = options_.wait_for_room;
  entry.session = exec::ExecSession::start(io_, std::move(std::get<exec::LaunchedChild>(launched)),
                                           options, std::move(callbacks));
  if (entry.run_reply) {
    entry.run_reply->on_cancel([this, exec_id] {
      auto it = execs_.find(exec_id);
      if (it == execs_.end()) return;
      it->second.cancelled = true;
      it->second.session->kill(SIGKILL);
    });
  }
  json started = {{"execId", exec_id}, {"pid", entry.session->pid()}};
  base::log_debug(exec_id + ": started pid " + std::to_string(entry.session->pid()) + " in " +
                  sandbox.id);
  execs_.emplace(exec_id, std::move(entry));
  sandbox.exec_ids.push_back(exec_id);
  return started;
}

void Session::on_exec_output(const std::string& exec_id, exec::Stream stream,
                             std::string_view bytes) {
  auto it = execs_.find(exec_id);
  if (it == execs_.end()) return;
  ExecEntry& entry = it->second;
  if (entry.run_reply) {
    (stream == exec::Stream::kStdout ? entry.collected_stdout : entry.collected_stderr)
        .append(bytes);
    return;
  }
  bool out = stream == exec::Stream::kStdout;
  OutputEncoder& encoder = out ? entry.stdout_encoder : entry.stderr_encoder;
  if (encoder.is_base64()) {
    const char* stream_name = entry.pty ? "pty" : out ? "stdout" : "stderr";
    uint64_t& seq = out ? entry.stdout_seq : entry.stderr_seq;
    dispatcher_.notify_serialized(base64_output_line(entry.id, stream_name, seq++, bytes));
    return;
  }
  json params;
  if (encoder.encode(bytes, params)) send_output(entry, stream, std::move(params));
}

// The utf8 encoding (base64 goes through base64_output_line in on_exec_output).
void Session::send_output(ExecEntry& entry, exec::Stream stream, json params) {
  bool out = stream == exec::Stream::kStdout;
  uint64_t& seq = out ? entry.stdout_seq : entry.stderr_seq;
  const char* stream_name = entry.pty ? "pty" : out ? "stdout" : "stderr";
  const char* encoding = (out ? entry.stdout_encoder : entry.stderr_encoder).encoding();
  params["execId"] = entry.id;
  params["stream"] = stream_name;
  params["seq"] = seq++;
  params["encoding"] = encoding;
  dispatcher_.notify("exec/output", std::move(params));
}

void Session::on_exec_exit(const std::string& exec_id, const exec::ExecOutcome& outcome) {
  auto it = execs_.find(exec_id);
  if (it == execs_.end()) return;
  ExecEntry entry = std::move(it->second);
  execs_.erase(it);
  if (options_.audit) {  // built only when someone reads it: this runs per exec
    json record = outcome_to_json(outcome);
    record["execId"] = entry.id;
    record["sandboxId"] = entry.sandbox_id;
    record["argv"] = entry.argv;
    record["cwd"] = entry.cwd ? json(*entry.cwd) : json(nullptr);
    audit("exec.finished", std::move(record));
  }
  finish_exec(entry, outcome);

  auto sandbox = sandboxes_.find(entry.sandbox_id);
  if (sandbox == sandboxes_.end()) return;
  auto& usage = sandbox->second.usage;
  usage.stdout_bytes += outcome.stdout_bytes;
  usage.stderr_bytes += outcome.stderr_bytes;
  if (outcome.usage) {
    usage.cpu_time_ms += outcome.usage->user_time_ms + outcome.usage->system_time_ms;
    usage.peak_memory_bytes = std::max(usage.peak_memory_bytes, outcome.usage->peak_memory_bytes);
  }
  auto& ids = sandbox->second.exec_ids;
  ids.erase(std::remove(ids.begin(), ids.end(), exec_id), ids.end());
  maybe_finish_destroy(entry.sandbox_id);
}

// Sends what is left of the output, then the single exit of the exec (a
// notification, or the reply of exec/run).
void Session::finish_exec(ExecEntry& entry, const exec::ExecOutcome& outcome) {
  base::log_debug(entry.id + ": " + exec::status_name(outcome.status));
  if (!entry.run_reply) {
    for (auto stream : {exec::Stream::kStdout, exec::Stream::kStderr}) {
      json params;
      auto& encoder = stream == exec::Stream::kStdout ? entry.stdout_encoder : entry.stderr_encoder;
      if (encoder.finish(params)) send_output(entry, stream, std::move(params));
    }
    dispatcher_.notify("exec/exit", exit_params(entry.id, entry.sandbox_id, outcome));
    return;
  }
  if (entry.cancelled) return entry.run_reply->cancelled();
  json result = exit_params(entry.id, entry.sandbox_id, outcome);
  bool replaced = false;
  result["stdout"] = entry.stdout_encoder.encode_whole(entry.collected_stdout, replaced);
  result["stderr"] = entry.stderr_encoder.encode_whole(entry.collected_stderr, replaced);
  result["encoding"] = entry.stdout_encoder.encoding();
  if (replaced) result["replaced"] = true;
  entry.run_reply->result(std::move(result));
}

void Session::exec_write(const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  ExecEntry& entry = find_exec(reader.required_string("execId"));
  auto data = reader.optional_string("data");
  auto text = reader.optional_string("text");
  bool eof = reader.optional_bool("eof").value_or(false);
  reader.reject_unknown();
  if (data && text) reader.fail("data", "give data (base64) or text, not both");
  std::string bytes;
  if (data) {
    auto decoded = base::base64_decode(*data);
    if (!decoded) reader.fail("data", "is not valid base64");
    bytes = std::move(*decoded);
  } else if (text) {
    bytes = std::move(*text);
  } else if (!eof) {
    reader.fail("data", "give data, text or eof: true");
  }
  if (!entry.session) {
    throw rpc::RpcError{rpc::code::kInvalidState, "exec " + entry.id + " never started", nullptr};
  }
  size_t size = bytes.size();
  auto shared_reply = std::make_shared<rpc::Reply>(std::move(reply));
  std::string exec_id = entry.id;
  entry.session->write_stdin(std::move(bytes), eof,
                             [shared_reply, size, exec_id](std::optional<std::string> error) {
                               if (error) {
                                 shared_reply->error(
                                     {rpc::code::kInvalidState,
                                      "exec/write to " + exec_id + ": " + *error, nullptr});
                               } else {
                                 shared_reply->result({{"bytesWritten", size}});
                               }
                             });
}

void Session::exec_kill(const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  ExecEntry& entry = find_exec(reader.required_string("execId"));
  int signal = parse_signal(reader, "signal", SIGKILL);
  reader.reject_unknown();
  if (entry.session) entry.session->kill(signal);
  reply.result({{"execId", entry.id}, {"signal", signal_name(signal)}});
}

void Session::exec_resize(const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  ExecEntry& entry = find_exec(reader.required_string("execId"));
  for (const char* key : {"cols", "rows"}) {
    if (!reader.has(key)) reader.fail(key, "is required (1 to 1000)");
  }
  exec::PtySize size = parse_pty_size(reader);
  if (!entry.session || !entry.session->has_pty()) {
    throw rpc::RpcError{rpc::code::kInvalidState,
                        "exec " + entry.id + " has no pseudo-terminal; start it with params.pty", nullptr};
  }
  if (auto resized = entry.session->resize(size); !resized) {
    throw rpc::RpcError{rpc::code::kOperationFailed, "exec/resize: " + resized.error().message(), nullptr};
  }
  reply.result({{"execId", entry.id}, {"cols", size.cols}, {"rows", size.rows}});
}

void Session::exec_list(const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  auto sandbox_id = reader.optional_string("sandboxId");
  reader.reject_unknown();
  if (sandbox_id) find_sandbox(*sandbox_id);  // unknown sandbox: an error, not an empty list
  json list = json::array();
  auto now = std::chrono::system_clock::now();
  for (const auto& [id, entry] : execs_) {
    if (sandbox_id && entry.sandbox_id != *sandbox_id) continue;
    list.push_back({{"execId", id},
                    {"sandboxId", entry.sandbox_id},
                    {"argv", entry.argv},
                    {"pid", entry.session ? json(entry.session->pid()) : json(nullptr)},
                    {"runningMs", std::chrono::duration_cast<std::chrono::milliseconds>(
                                      now - entry.started)
                                      .count()}});
  }
  reply.result({{"execs", std::move(list)}});
}

}  // namespace agentd::api
