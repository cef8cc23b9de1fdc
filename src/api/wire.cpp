#include "api/wire.hpp"

#include <signal.h>

#include "netproxy/allowlist.hpp"

namespace agentd::api {

policy::Limits parse_limits(rpc::ParamReader& reader) {
  policy::Limits limits;
  for (const auto& field : policy::kLimitFields) {
    limits.*field.member = reader.optional_uint(field.wire_name, 1);
  }
  reader.reject_unknown();
  return limits;
}

json limits_to_json(const policy::Limits& limits) {
  json out = json::object();
  for (const auto& field : policy::kLimitFields) {
    if (limits.*field.member) out[field.wire_name] = *(limits.*field.member);
  }
  return out;
}

policy::EnvMap parse_env(rpc::ParamReader& params, const std::string& key) {
  auto env = params.optional_string_map(key);
  if (!env) return {};
  for (const auto& [name, value] : *env) {
    if (auto problem = policy::env_name_problem(name)) params.fail(key + "." + name, *problem);
    if (value.find('\0') != std::string::npos) params.fail(key + "." + name, "contains a NUL byte");
  }
  return *env;
}

namespace {

policy::Isolation parse_isolation(rpc::ParamReader& params, bool& explicit_isolation) {
  explicit_isolation = params.has("isolation");
  // A profile may imply isolation "linux" (never "none"; see apply_profile).
  if (!explicit_isolation && params.has("profile")) return policy::Isolation::kLinux;
  if (!params.has("isolation")) {
    params.fail("isolation",
                "is required: \"linux\" for an isolated sandbox, or \"none\" to run directly on "
                "the host without isolation (never chosen implicitly)");
  }
  auto isolation = params.optional_enum("isolation", {"linux", "none"});
  return *isolation == "none" ? policy::Isolation::kNone : policy::Isolation::kLinux;
}

// {mode: "allowlist", allow: [...], deny?: [...]}: every rule is checked
// here, so a typo fails sandbox/create naming the rule, not a connect later.
void parse_network_allowlist(rpc::ParamReader& params, policy::SandboxSpec& spec) {
  auto object = params.optional_object("network");
  auto mode = object->optional_enum("mode", {"allowlist"});
  if (!mode) object->fail("mode", "is required: \"allowlist\"");
  auto allow = object->optional_string_array("allow");
  if (!allow) object->fail("allow", "is required: a list of destinations such as \"registry.npmjs.org\", "
                                    "\"*.github.com:443\", \"10.0.0.0/8:5432\" (may be empty)");
  spec.network_allow = *allow;
  spec.network_deny = object->optional_string_array("deny").value_or(std::vector<std::string>{});
  object->reject_unknown();
  if (auto parsed = netproxy::parse_allowlist(spec.network_allow, spec.network_deny); !parsed) {
    params.fail("network", parsed.error().message());
  }
  spec.network = policy::NetworkMode::kAllowlist;
}

void parse_network(rpc::ParamReader& params, policy::SandboxSpec& spec) {
  const json* network = params.raw("network");
  if (!network) return;
  if (network->is_object()) return parse_network_allowlist(params, spec);
  if (!network->is_string() || (*network != "none" && *network != "host")) {
    params.fail("network", "must be \"none\", \"host\" or {\"mode\": \"allowlist\", \"allow\": [...]}");
  }
  spec.network = *network == "none" ? policy::NetworkMode::kNone : policy::NetworkMode::kHost;
}

void require_absolute(rpc::ParamReader& params, const std::string& key,
                      const std::vector<std::string>& paths) {
  for (size_t i = 0; i < paths.size(); ++i) {
    if (paths[i].empty() || paths[i][0] != '/') {
      params.fail(key + "[" + std::to_string(i) + "]", "must be an absolute path");
    }
  }
}

std::vector<policy::BindMount> parse_mounts(rpc::ParamReader& params) {
  std::vector<policy::BindMount> out;
  const json* mounts = params.raw("mounts");
  if (!mounts) return out;
  if (!mounts->is_array()) params.fail("mounts", "must be an array of {source, target, readOnly?}");
  for (size_t i = 0; i < mounts->size(); ++i) {
    rpc::ParamReader mount((*mounts)[i], params.path_of("mounts[" + std::to_string(i) + "]"));
    policy::BindMount bind;
    bind.source = mount.required_string("source");
    bind.target = mount.required_string("target");
    bind.read_only = mount.optional_bool("readOnly").value_or(true);
    mount.reject_unknown();
    for (const auto* path : {&bind.source, &bind.target}) {
      if (path->empty() || (*path)[0] != '/') {
        mount.fail(path == &bind.source ? "source" : "target", "must be an absolute path");
      }
    }
    out.push_back(std::move(bind));
  }
  return out;
}

}  // namespace

policy::SandboxSpec parse_sandbox_create(const json& params) {
  rpc::ParamReader reader(params, "params");
  policy::SandboxSpec spec;
  spec.isolation = parse_isolation(reader, spec.isolation_explicit);
  spec.profile = reader.optional_string("profile").value_or("");
  spec.workdir = reader.optional_string("workdir");
  if (spec.workdir && (spec.workdir->empty() || (*spec.workdir)[0] != '/')) {
    reader.fail("workdir", "must be an absolute path");
  }
  spec.keep_workdir = reader.optional_bool("keepWorkdir").value_or(false);
  spec.from_snapshot = reader.optional_string("fromSnapshot");
  spec.read_only_paths = reader.optional_string_array("readOnlyPaths").value_or(std::vector<std::string>{});
  require_absolute(reader, "readOnlyPaths", spec.read_only_paths);
  spec.read_write_paths = reader.optional_string_array("readWritePaths").value_or(std::vector<std::string>{});
  require_absolute(reader, "readWritePaths", spec.read_write_paths);
  spec.mounts = parse_mounts(reader);
  parse_network(reader, spec);
  spec.env = parse_env(reader, "env");
  if (auto limits = reader.optional_object("limits")) spec.limits = parse_limits(*limits);
  spec.labels = reader.optional_string_map("labels").value_or(std::map<std::string, std::string>{});
  for (auto& feature : reader.optional_string_array("optional").value_or(std::vector<std::string>{})) {
    spec.optional_features.insert(feature);
  }
  reader.reject_unknown();
  return spec;
}

json features_to_json(const std::vector<sandbox::FeatureState>& features) {
  json out = json::object();
  for (const auto& f : features) {
    json entry = {{"state", sandbox::state_name(f.state)}};
    if (!f.mechanism.empty()) entry["mechanism"] = f.mechanism;
    if (!f.reason.empty()) entry["reason"] = f.reason;
    out[f.name] = std::move(entry);
  }
  return out;
}

json backend_to_json(const sandbox::BackendInfo& backend) {
  json out = {{"name", backend.name},
              {"isolation", backend.isolation},
              {"available", backend.available},
              {"features", features_to_json(backend.features)}};
  if (!backend.reason.empty()) out["reason"] = backend.reason;
  return out;
}

json usage_to_json(const exec::Usage& usage) {
  return {{"cpuTimeMs", usage.user_time_ms + usage.system_time_ms},
          {"userTimeMs", usage.user_time_ms},
          {"systemTimeMs", usage.system_time_ms},
          {"peakMemoryBytes", usage.peak_memory_bytes}};
}

json outcome_to_json(const exec::ExecOutcome& outcome) {
  json out = {{"status", exec::status_name(outcome.status)},
              {"durationMs", outcome.duration_ms},
              {"stdoutBytes", outcome.stdout_bytes},
              {"stderrBytes", outcome.stderr_bytes},
              {"truncated", outcome.truncated}};
  if (!outcome.reason.empty()) out["reason"] = outcome.reason;
  if (outcome.exit_code) out["exitCode"] = *outcome.exit_code;
  if (outcome.signal) {
    out["signal"] = *outcome.signal;
    out["signalName"] = signal_name(*outcome.signal);
  }
  if (outcome.usage) out["usage"] = usage_to_json(*outcome.usage);
  return out;
}

exec::PtySize parse_pty_size(rpc::ParamReader& size) {
  exec::PtySize out;
  out.cols = uint16_t(size.optional_uint("cols", 1, 1000).value_or(80));
  out.rows = uint16_t(size.optional_uint("rows", 1, 1000).value_or(24));
  size.reject_unknown();
  return out;
}

ExecParams parse_exec_params(const json& params) {
  rpc::ParamReader reader(params, "params");
  ExecParams out;
  out.sandbox_id = reader.required_string("sandboxId");
  auto argv = reader.optional_string_array("argv");
  if (!argv || argv->empty() || (*argv)[0].empty()) {
    reader.fail("argv", "must be a non-empty array of strings with a non-empty argv[0]");
  }
  for (size_t i = 0; i < argv->size(); ++i) {
    if ((*argv)[i].find('\0') != std::string::npos) {
      reader.fail("argv[" + std::to_string(i) + "]", "contains a NUL byte");
    }
  }
  out.argv = std::move(*argv);
  out.cwd = reader.optional_string("cwd");
  out.env = parse_env(reader, "env");
  out.inherit_env = reader.optional_bool("inheritEnv").value_or(false);
  out.stdin_pipe = reader.optional_enum("stdin", {"pipe", "null"}).value_or("null") == "pipe";
  out.utf8 = reader.optional_enum("encoding", {"base64", "utf8"}).value_or("base64") == "utf8";
  if (auto limits = reader.optional_object("limits")) out.limits = parse_limits(*limits);
  if (auto pty = reader.optional_object("pty")) {
    out.pty = parse_pty_size(*pty);
    if (reader.has("stdin")) reader.fail("stdin", "a pty exec reads its input from the pty; omit stdin");
    out.stdin_pipe = true;
  }
  if (auto timeout = reader.optional_uint("timeoutMs", 1)) {
    if (out.limits.wall_time_ms) reader.fail("timeoutMs", "give timeoutMs or limits.wallTimeMs, not both");
    out.limits.wall_time_ms = timeout;
  }
  if (auto max_output = reader.optional_uint("maxOutputBytes", 1)) {
    if (out.limits.max_output_bytes) {
      reader.fail("maxOutputBytes", "give maxOutputBytes or limits.maxOutputBytes, not both");
    }
    out.limits.max_output_bytes = max_output;
  }
  reader.reject_unknown();
  return out;
}

namespace {
struct SignalName {
  const char* name;
  int number;
};
constexpr SignalName kSignals[] = {
    {"SIGHUP", SIGHUP},   {"SIGINT", SIGINT},   {"SIGQUIT", SIGQUIT}, {"SIGKILL", SIGKILL},
    {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGTERM", SIGTERM}, {"SIGCONT", SIGCONT},
    {"SIGSTOP", SIGSTOP}, {"SIGXCPU", SIGXCPU}, {"SIGXFSZ", SIGXFSZ}, {"SIGPIPE", SIGPIPE},
    {"SIGALRM", SIGALRM}, {"SIGSEGV", SIGSEGV}, {"SIGABRT", SIGABRT}, {"SIGBUS", SIGBUS},
    {"SIGFPE", SIGFPE},   {"SIGILL", SIGILL},   {"SIGTRAP", SIGTRAP}, {"SIGSYS", SIGSYS},
};
}  // namespace

int parse_signal(rpc::ParamReader& params, const std::string& key, int fallback) {
  const json* value = params.raw(key);
  if (!value) return fallback;
  if (value->is_number_integer()) {
    int n = value->get<int>();
    if (n < 1 || n >= NSIG) params.fail(key, "must be a signal number from 1 to " + std::to_string(NSIG - 1));
    return n;
  }
  if (value->is_string()) {
    std::string name = value->get<std::string>();
    if (name.rfind("SIG", 0) != 0) name = "SIG" + name;
    for (const auto& s : kSignals) {
      if (name == s.name) return s.number;
    }
  }
  params.fail(key, "must be a signal name such as \"SIGTERM\" or \"SIGKILL\", or a number");
}

std::string signal_name(int signal) {
  for (const auto& s : kSignals) {
    if (s.number == signal) return s.name;
  }
  return "SIG" + std::to_string(signal);
}

}  // namespace agentd::api
