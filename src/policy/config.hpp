#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "policy/profiles.hpp"

namespace agentd::policy {

// agentd's TOML config file:
//
//   protectedPaths = ["~/.ssh", "*/.git/hooks"]  # replaces the list of every profile
//   [limits]                                      # default limits: "default", "workstation"
//   memoryBytes = 1073741824
//   [profiles.ci]                                 # a new profile
//   base = "strict"                               # the built-in it starts from
//   readOnlyPaths = ["/opt/toolchains"]
//   allowHostNetwork = false
//   protectedPaths = [...]
//   [profiles.ci.limits]
//   wallTimeMs = 600000
//
// Unknown keys and bad values are errors naming the file, line, column and key:
// `/etc/agentd.toml:4:1: profiles.ci.limits.memoryBytes: expected a positive integer`.
base::Result<ProfileSet> parse_config(std::string_view text, const std::string& file);

// Reads and parses `path`. A missing file is an error unless `optional`, in
// which case it gives the built-in profiles.
base::Result<ProfileSet> load_config(const std::string& path, bool optional);

// $XDG_CONFIG_HOME/agentd/config.toml, else ~/.config/agentd/config.toml
// ("" when neither variable is set).
std::string default_config_path();

}  // namespace agentd::policy
