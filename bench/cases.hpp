// The benchmark cases: baselines (no agentd) and agentd through agentd::client.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "measure.hpp"

namespace agentd::bench {

struct Options {
  std::string agentd = "build/src/agentd";
  int iterations = 200;           // exec round trips and the raw fork/exec baseline
  int namespace_iterations = 40;  // bwrap, unshare, sandbox create+destroy
  int spawn_iterations = 10;      // agentd spawn+initialize
  int throughput_mib = 256;
  int concurrent_execs = 200;
  int concurrent_sandboxes = 50;
  int rss_sandboxes = 20;
  // The Codex app-server for the protocol-peer row (scripts/bench.sh installs it) and the
  // CODEX_HOME it runs with (its sandbox helpers refuse one under /tmp).
  std::string codex = "bench/peers/node_modules/.bin/codex";
  std::string codex_home = "bench/peers/codex-home";
  // Which cases to run: baselines, exec, peer, create, throughput, concurrency, process.
  // Empty: all.
  std::vector<std::string> only;
  bool wants(const std::string& c) const {
    return only.empty() || std::find(only.begin(), only.end(), c) != only.end();
  }
};

// Names of the baseline rows, used for the ratio columns.
inline constexpr const char* kRawForkExec = "raw posix_spawn /bin/true + pipe + wait";
inline constexpr const char* kBwrap = "bwrap --unshare-all ... /bin/true";
inline constexpr const char* kRawPipe = "raw pipe read: head -c N /dev/zero";
inline constexpr const char* kLinuxExecRoundTrip = "exec/start /bin/true -> exec/exit, linux";

void run_baselines(const Options& o, Report& report);
// Returns the number of lost notifications (mismatches) of the concurrency cases.
std::uint64_t run_agentd_cases(const Options& o, Report& report, json& meta);

}  // namespace agentd::bench
