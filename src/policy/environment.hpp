#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace agentd::policy {

using EnvMap = std::map<std::string, std::string>;

// Variables that let a caller inject code into every process started
// (loader and shell start-up hooks). Refused when given, removed when
// inherited.
bool is_refused_env_name(std::string_view name);

// Why a caller-given variable name is unacceptable, or nullopt when it is fine.
std::optional<std::string> env_name_problem(std::string_view name);

// Where argv[0] is looked up when the environment has no PATH (both backends).
inline constexpr const char* kDefaultSearchPath = "/usr/local/bin:/usr/bin:/bin";

// The scrubbed environment every exec starts from: PATH, HOME (the workdir),
// LANG, TERM.
EnvMap base_environment(const std::string& home);

// agentd's own environment minus the refused variables (for inheritEnv).
EnvMap inherited_environment();

}  // namespace agentd::policy
