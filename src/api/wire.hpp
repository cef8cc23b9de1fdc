#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "exec/child.hpp"
#include "exec/outcome.hpp"
#include "policy/sandbox_spec.hpp"
#include "rpc/params.hpp"
#include "sandbox/features.hpp"

namespace agentd::api {

using json = nlohmann::json;

// Wire forms of agentd's values, exactly as schema/ describes them.

policy::Limits parse_limits(rpc::ParamReader& limits);
json limits_to_json(const policy::Limits& limits);

policy::SandboxSpec parse_sandbox_create(const json& params);

// Caller-given environment entries; names checked, refused ones rejected.
policy::EnvMap parse_env(rpc::ParamReader& params, const std::string& key);

json features_to_json(const std::vector<sandbox::FeatureState>& features);
json backend_to_json(const sandbox::BackendInfo& backend);
json usage_to_json(const exec::Usage& usage);
// The exit fields shared by exec/exit and exec/run's result.
json outcome_to_json(const exec::ExecOutcome& outcome);

// exec/start and exec/run parameters.
struct ExecParams {
  std::string sandbox_id;
  std::vector<std::string> argv;
  std::optional<std::string> cwd;
  policy::EnvMap env;
  bool inherit_env = false;
  bool stdin_pipe = false;
  policy::Limits limits;  // what the exec asks for; lowered against the sandbox's later
  bool utf8 = false;      // encoding of output: base64 (default) or utf8
  std::optional<exec::PtySize> pty;
};

exec::PtySize parse_pty_size(rpc::ParamReader& size);
ExecParams parse_exec_params(const json& params);

// A signal given by name ("SIGTERM", "TERM") or number.
int parse_signal(rpc::ParamReader& params, const std::string& key, int fallback);
std::string signal_name(int signal);

}  // namespace agentd::api
