#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.hpp"

namespace agentd::policy {

// Resource limits of a sandbox (its defaults) or of one exec (which may
// lower them, never raise them). An empty optional means "no limit".
struct Limits {
  std::optional<uint64_t> memory_bytes;
  std::optional<uint64_t> max_processes;
  std::optional<uint64_t> cpu_time_ms;
  std::optional<uint64_t> wall_time_ms;
  std::optional<uint64_t> max_output_bytes;
  std::optional<uint64_t> max_open_files;
  std::optional<uint64_t> max_file_size_bytes;
  std::optional<uint64_t> cpu_millicores;  // cpu quota: 1000 = one core
};

// One row per limit: its wire name and where it lives in Limits.
struct LimitField {
  const char* wire_name;
  std::optional<uint64_t> Limits::*member;
};
inline constexpr LimitField kLimitFields[] = {
    {"memoryBytes", &Limits::memory_bytes},
    {"maxProcesses", &Limits::max_processes},
    {"cpuTimeMs", &Limits::cpu_time_ms},
    {"wallTimeMs", &Limits::wall_time_ms},
    {"maxOutputBytes", &Limits::max_output_bytes},
    {"maxOpenFiles", &Limits::max_open_files},
    {"maxFileSizeBytes", &Limits::max_file_size_bytes},
    {"cpuMillicores", &Limits::cpu_millicores},
};

// What a sandbox gets when the caller sets nothing.
Limits default_limits();

// Overlays `overrides` on `base` (fields set in overrides win).
Limits overlay(const Limits& base, const Limits& overrides);

// Applies an exec's limits on top of its sandbox's. Fails, naming the field,
// when the exec asks for more than the sandbox allows.
base::Result<Limits> lower_limits(const Limits& sandbox, const Limits& exec);

}  // namespace agentd::policy
