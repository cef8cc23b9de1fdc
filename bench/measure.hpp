// Timing, statistics, the result table and the raw process-spawn baseline used by agentd_bench.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace agentd::bench {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t0, Clock::time_point t1 = Clock::now()) {
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

// One row of the table. samples are in `unit`; a skipped row carries the reason.
struct Row {
  Row(std::string group_, std::string name_, std::string unit_ = "ms")
      : group(std::move(group_)), name(std::move(name_)), unit(std::move(unit_)) {}
  std::string group;
  std::string name;
  std::string unit;
  std::string short_label;  // for baselines: how ratio columns name this row
  std::vector<double> samples;
  std::string skipped;              // non-empty: not measured, and why
  std::optional<std::string> vs_a;  // baseline row names for the ratio columns
  std::optional<std::string> vs_b;
  bool higher_is_better = false;  // throughput: ratio is row / baseline
  json extra = json::object();    // anything else worth keeping (lost count, p99, ...)

  double median() const { return percentile(50); }
  double p90() const { return percentile(90); }
  double percentile(double p) const;
};

class Report {
 public:
  Row& add(Row row);
  const Row* find(const std::string& name) const;
  void print_table() const;
  json to_json(const json& meta) const;

 private:
  std::string ratio(const Row& row, const std::optional<std::string>& base) const;
  std::string label(const std::string& name) const;
  std::vector<Row> rows_;
};

// Result of running a command to completion with stdout on a pipe that is read to EOF.
struct SpawnResult {
  int wait_status = -1;
  std::uint64_t stdout_bytes = 0;
};

// posix_spawn argv (full path in argv[0]) with stdout on a pipe, stderr to /dev/null, read the
// pipe to EOF in 64 KiB reads, waitpid. Throws std::system_error if the spawn fails.
SpawnResult spawn_and_read(const std::vector<std::string>& argv);

// VmRSS of a process in KiB (0 if it cannot be read); its direct children's pids.
std::uint64_t rss_kib(int pid);
// Pss of a process in KiB (/proc/<pid>/smaps_rollup; shared pages divided among sharers).
std::uint64_t pss_kib(int pid);
// utime + stime of a process (ms), and of it plus its live descendants.
double cpu_ms(int pid);
double cpu_ms_with_descendants(int pid);
// CPU time of this process (all threads), ms.
double self_cpu_ms();
std::vector<int> child_pids(int pid);

// The full path of an executable on PATH, or nullopt.
std::optional<std::string> find_executable(const std::string& name);

}  // namespace agentd::bench
