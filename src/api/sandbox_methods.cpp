// sandbox/create, sandbox/list, sandbox/info, sandbox/destroy.
#include <signal.h>

#include <cstdlib>

#include "api/session.hpp"
#include "base/utc_time.hpp"
#include "base/log.hpp"

namespace agentd::api {

namespace {

json egress_to_json(const std::map<std::string, sandbox::Sandbox::DestinationCount>& egress) {
  json out = json::array();
  for (const auto& [destination, count] : egress) {
    out.push_back({{"destination", destination},
                   {"allowed", count.allowed},
                   {"refused", count.refused},
                   {"bytesSent", count.bytes_sent},
                   {"bytesReceived", count.bytes_received}});
  }
  return out;
}

rpc::RpcError create_error_to_rpc(const sandbox::CreateError& error) {
  using Kind = sandbox::CreateError::Kind;
  json data = json::object();
  if (!error.feature.empty()) data["feature"] = error.feature;
  if (!error.field.empty()) data["field"] = "params." + error.field;
  if (!error.fix.empty()) data["fix"] = error.fix;
  data["reason"] = error.message;
  std::string message = error.message + (error.fix.empty() ? "" : "; " + error.fix);
  switch (error.kind) {
    case Kind::kIsolationUnavailable:
      return {rpc::code::kIsolationUnavailable, message, data};
    case Kind::kFeatureUnavailable:
      return {rpc::code::kFeatureUnavailable, message, data};
    case Kind::kInvalidArgument:
      return {rpc::code::kInvalidParams, "params." + error.field + ": " + message, data};
    case Kind::kSystem:
      break;
  }
  return {rpc::code::kOperationFailed, message, data};
}

}  // namespace

void Session::sandbox_create(const json& params, rpc::Reply reply) {
  policy::SandboxSpec spec = parse_sandbox_create(params);
  const auto* snapshot = snapshot_for_create(spec);  // params.fromSnapshot
  // The profile fills in what the request left out, limits included:
  // backends plan what they enforce from the limits that will apply.
  const char* home = std::getenv("HOME");
  if (auto refused = policy::apply_profile(*options_.profiles, spec, home ? home : "")) {
    throw rpc::invalid_params("params." + refused->field + ": " + refused->message);
  }
  std::string id = "sb-" + std::to_string(next_sandbox_++);
  auto created = backend_for(spec.isolation)->create(spec, id);
  if (auto* error = std::get_if<sandbox::CreateError>(&created)) {
    throw create_error_to_rpc(*error);
  }
  SandboxEntry entry;
  entry.id = id;
  entry.sandbox = std::move(std::get<0>(created));
  if (snapshot) seed_from_snapshot(*snapshot, entry);
  entry.limits = sandbox::enforced_limits(spec.limits, entry.sandbox->capabilities());
  entry.created = std::chrono::system_clock::now();
  entry.spec = std::move(spec);
  entry.sandbox->on_violation([this, id](const sandbox::Violation& v) { on_violation(id, v); });
  base::log_info("created sandbox " + id + " (isolation " +
                 policy::isolation_name(entry.spec.isolation) + ", workdir " +
                 entry.sandbox->workdir() + ")");
  json result = {{"sandboxId", id},
                 {"isolation", policy::isolation_name(entry.spec.isolation)},
                 {"workdir", entry.sandbox->workdir()},
                 {"network", policy::network_name(entry.sandbox->network())},
                 {"limits", limits_to_json(entry.limits)},
                 {"capabilities", features_to_json(entry.sandbox->capabilities())}};
  json env_names = json::array();
  for (const auto& [name, value] : entry.spec.env) env_names.push_back(name);
  audit("sandbox.created", {{"sandboxId", id},
                            {"profile", entry.spec.profile},
                            {"isolation", result["isolation"]},
                            {"workdir", result["workdir"]},
                            {"network", result["network"]},
                            {"limits", result["limits"]},
                            {"readOnlyPaths", entry.spec.read_only_paths},
                            {"readWritePaths", entry.spec.read_write_paths},
                            {"envNames", std::move(env_names)},
                            {"labels", entry.spec.labels}});
  sandboxes_.emplace(id, std::move(entry));
  reply.result(std::move(result));
}

json Session::sandbox_summary(const SandboxEntry& entry) const {
  return {{"sandboxId", entry.id},
          {"isolation", policy::isolation_name(entry.spec.isolation)},
          {"state", entry.destroying ? "destroying" : entry.suspended ? "suspended" : "ready"},
          {"workdir", entry.sandbox->workdir()},
          {"labels", entry.spec.labels},
          {"runningExecs", entry.exec_ids.size()},
          {"createdAt", base::utc_time(entry.created)}};
}

void Session::sandbox_list(const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  auto label_filter = reader.optional_string_map("labels");
  reader.reject_unknown();
  json list = json::array();
  for (const auto& [id, entry] : sandboxes_) {
    bool match = true;
    for (const auto& [key, value] : label_filter.value_or(std::map<std::string, std::string>{})) {
      auto it = entry.spec.labels.find(key);
      match = match && it != entry.spec.labels.end() && it->second == value;
    }
    if (match) list.push_back(sandbox_summary(entry));
  }
  reply.result({{"sandboxes", std::move(list)}});
}

void Session::sandbox_info(const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  SandboxEntry& entry = find_sandbox(reader.required_string("sandboxId"));
  reader.reject_unknown();
  json info = sandbox_summary(entry);
  info["network"] = policy::network_name(entry.sandbox->network());
  info["limits"] = limits_to_json(entry.limits);
  info["capabilities"] = features_to_json(entry.sandbox->capabilities());
  info["execs"] = entry.exec_ids;
  info["usage"] = {{"execCount", entry.usage.exec_count},
                   {"cpuTimeMs", entry.usage.cpu_time_ms},
                   {"peakMemoryBytes", entry.usage.peak_memory_bytes},
                   {"stdoutBytes", entry.usage.stdout_bytes},
                   {"stderrBytes", entry.usage.stderr_bytes}};
  // Whole-sandbox figures (every process, not only exec leaders) where measured.
  if (auto measured = entry.sandbox->usage()) {
    info["usage"]["cpuTimeMs"] = measured->cpu_time_ms;
    info["usage"]["peakMemoryBytes"] = measured->peak_memory_bytes;
    info["usage"]["oomKills"] = measured->oom_kills;
  }
  const auto& counts = entry.violations.counts();
  auto count = [&](const char* kind) { return counts.count(kind) ? counts.at(kind) : uint64_t(0); };
  info["violations"] = {{"syscall", count("syscall")},
                        {"filesystem", count("filesystem")},
                        {"network", count("network")},
                        {"notSent", entry.violations.suppressed_total()}};
  if (entry.sandbox->network() == policy::NetworkMode::kAllowlist) {
    info["egress"] = egress_to_json(entry.sandbox->egress());
  }
  reply.result(std::move(info));
}

std::optional<std::string> Session::exec_of(const SandboxEntry& entry,
                                            const sandbox::Violation& violation) const {
  for (const auto& exec_id : entry.exec_ids) {
    auto it = execs_.find(exec_id);
    if (it == execs_.end()) continue;
    pid_t leader = it->second.session->pid();
    if (leader == violation.pid) return exec_id;
    for (pid_t ancestor : violation.ancestry) {
      if (ancestor == leader) return exec_id;
    }
  }
  return std::nullopt;
}

void Session::on_violation(const std::string& sandbox_id, const sandbox::Violation& violation) {
  auto it = sandboxes_.find(sandbox_id);
  if (it == sandboxes_.end()) return;
  SandboxEntry& entry = it->second;
  if (!entry.violations.admit(violation.kind, ViolationLog::Clock::now())) return;
  json params = {{"sandboxId", sandbox_id},
                 {"kind", violation.kind},
                 {"detail", violation.detail},
                 {"time", base::utc_time(std::chrono::system_clock::now(), true)}};
  if (auto exec_id = exec_of(entry, violation)) params["execId"] = *exec_id;
  if (violation.pid > 0) params["pid"] = violation.pid;
  if (uint64_t skipped = entry.violations.take_suppressed()) params["notSentBefore"] = skipped;
  audit("sandbox.violation", params);
  dispatcher_.notify("sandbox/violation", std::move(params));
}

// Kills every exec of the sandbox, waits until each has reported its exit,
// then removes the sandbox and answers.
void Session::sandbox_destroy(const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  SandboxEntry& entry = find_sandbox(reader.required_string("sandboxId"));
  entry.keep_workdir = reader.optional_bool("keepWorkdir").value_or(entry.spec.keep_workdir);
  reader.reject_unknown();
  if (entry.suspended) {  // frozen processes cannot die: thaw them first
    (void)entry.sandbox->resume();
    entry.suspended = false;
  }
  entry.destroying = true;
  entry.destroy_replies.push_back(std::move(reply));
  for (const auto& exec_id : entry.exec_ids) {
    auto it = execs_.find(exec_id);
    if (it != execs_.end()) it->second.session->kill(SIGKILL);
  }
  maybe_finish_destroy(entry.id);
}

void Session::sandbox_suspend(const json& params, rpc::Reply reply, bool suspend) {
  rpc::ParamReader reader(params, "params");
  SandboxEntry& entry = find_sandbox(reader.required_string("sandboxId"));
  reader.reject_unknown();
  if (entry.suspended != suspend) {
    auto done = suspend ? entry.sandbox->suspend() : entry.sandbox->resume();
    if (!done) {
      throw rpc::RpcError{rpc::code::kFeatureUnavailable,
                          std::string(suspend ? "sandbox/suspend" : "sandbox/resume") + " of " +
                              entry.id + ": " + done.error().message(),
                          json{{"feature", "cgroups.freezer"}}};
    }
    entry.suspended = suspend;
  }
  reply.result({{"sandboxId", entry.id}, {"state", suspend ? "suspended" : "ready"}});
}

void Session::maybe_finish_destroy(std::string sandbox_id) {
  auto it = sandboxes_.find(sandbox_id);
  if (it == sandboxes_.end() || !it->second.destroying || !it->second.exec_ids.empty()) return;
  SandboxEntry entry = std::move(it->second);
  sandboxes_.erase(it);
  bool removed = entry.sandbox->destroy(entry.keep_workdir);
  base::log_info("destroyed sandbox " + sandbox_id);
  audit("sandbox.destroyed", {{"sandboxId", sandbox_id}, {"workdirRemoved", removed}});
  json result = {{"sandboxId", sandbox_id}, {"workdirRemoved", removed}};
  for (auto& reply : entry.destroy_replies) reply.result(result);
}

}  // namespace agentd::api
