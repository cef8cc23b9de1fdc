// What the same work costs without agentd, measured in the same run.
#include <sys/wait.h>

#include <functional>

#include "cases.hpp"

namespace agentd::bench {
namespace {

// Runs argv n times (after one warm-up) and records the wall time of each run in ms.
// Returns a skip reason if the command cannot run or fails.
std::string time_command(const std::vector<std::string>& argv, int n, Row& row) {
  try {
    SpawnResult warm = spawn_and_read(argv);
    if (!WIFEXITED(warm.wait_status) || WEXITSTATUS(warm.wait_status) != 0)
      return argv[0] + " does not run here (wait status " + std::to_string(warm.wait_status) +
             ", e.g. no user namespaces)";
    for (int i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      spawn_and_read(argv);
      row.samples.push_back(ms_since(t0));
    }
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

void add_command_row(Report& report, const std::string& name, const std::string& label,
                     const std::string& exe, std::vector<std::string> args, int n) {
  Row row("baselines (no agentd)", name);
  row.short_label = label;
  if (auto path = find_executable(exe)) {
    args.insert(args.begin(), *path);
    row.skipped = time_command(args, n, row);
    if (!row.skipped.empty()) row.samples.clear();
  } else {
    row.skipped = exe + " not installed (Debian: " +
                  (exe == "bwrap" ? std::string("bubblewrap") : std::string("util-linux")) +
                  "; scripts/bench.sh installs it)";
  }
  report.add(std::move(row));
}

void raw_pipe_throughput(const Options& o, Report& report) {
  Row row("output throughput", kRawPipe, "MiB/s");
  row.short_label = "raw pipe";
  row.higher_is_better = true;
  const std::string bytes = std::to_string(o.throughput_mib) + "M";
  auto head = find_executable("head").value_or("/usr/bin/head");
  for (int i = 0; i < 3; ++i) {
    auto t0 = Clock::now();
    SpawnResult r = spawn_and_read({head, "-c", bytes, "/dev/zero"});
    double ms = ms_since(t0);
    if (r.stdout_bytes != static_cast<std::uint64_t>(o.throughput_mib) << 20) {
      row.skipped = "head delivered " + std::to_string(r.stdout_bytes) + " bytes";
      break;
    }
    row.samples.push_back(o.throughput_mib / (ms / 1000.0));
  }
  report.add(std::move(row));
}

}  // namespace

void run_baselines(const Options& o, Report& report) {
  if (!o.wants("baselines")) return;
  Row raw("baselines (no agentd)", kRawForkExec);
  raw.short_label = "fork/exec";
  raw.skipped = time_command({"/bin/true"}, o.iterations, raw);
  report.add(std::move(raw));

  add_command_row(report, kBwrap, "bwrap", "bwrap",
                  {"--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr", "--symlink",
                   "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64",
                   "/lib64", "--proc", "/proc", "--dev", "/dev", "/bin/true"},
                  o.namespace_iterations);
  add_command_row(report, "unshare -Urmpfn /bin/true", "unshare", "unshare",
                  {"-Urmpfn", "/bin/true"}, o.namespace_iterations);
  raw_pipe_throughput(o, report);
}

}  // namespace agentd::bench
