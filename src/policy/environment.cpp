#include "policy/environment.hpp"

#include <unistd.h>

namespace agentd::policy {

bool is_refused_env_name(std::string_view name) {
  static constexpr std::string_view kRefused[] = {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT",
                                                  "BASH_ENV", "ENV"};
  for (auto refused : kRefused) {
    if (name == refused) return true;
  }
  return false;
}

std::optional<std::string> env_name_problem(std::string_view name) {
  if (name.empty()) return "empty variable name";
  if (name.find('=') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return "variable names may not contain '=' or NUL";
  }
  if (is_refused_env_name(name)) {
    return "refused: " + std::string(name) +
           " would inject code into every process (remove it from env)";
  }
  return std::nullopt;
}

EnvMap base_environment(const std::string& home) {
  return {
      {"PATH", "/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"},
      {"HOME", home},
      {"LANG", "C.UTF-8"},
      {"TERM", "dumb"},
  };
}

EnvMap inherited_environment() {
  EnvMap out;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view kv(*entry);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(kv.substr(0, eq));
    if (!is_refused_env_name(name)) out[name] = std::string(kv.substr(eq + 1));
  }
  return out;
}

}  // namespace agentd::policy
