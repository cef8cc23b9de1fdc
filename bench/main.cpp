// agentd_bench: what agentd adds over running the same commands directly, measured in one run.
// See bench/README.md. Exits non-zero only when notifications were lost.
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cases.hpp"

namespace ab = agentd::bench;

namespace {

ab::json machine_info() {
  utsname u{};
  uname(&u);
  return {{"kernel", std::string(u.sysname) + " " + u.release},
          {"cpus", sysconf(_SC_NPROCESSORS_ONLN)},
          {"uid", getuid()}};
}

}  // namespace

int main(int argc, char** argv) {
  ab::Options o;
  std::string json_path;
  double scale = 1.0;
  CLI::App app{"agentd_bench: agentd's costs against baselines measured in the same run"};
  app.add_option("--agentd", o.agentd, "path of the agentd binary")->capture_default_str();
  app.add_option("--json", json_path, "also write the results as JSON to this path");
  app.add_option("--iterations", o.iterations, "exec round trips (and raw fork/exec runs)")
      ->capture_default_str();
  app.add_option("--namespace-iterations", o.namespace_iterations,
                 "bwrap/unshare runs and sandbox create+destroy cycles")
      ->capture_default_str();
  app.add_option("--spawn-iterations", o.spawn_iterations, "agentd spawn+initialize runs")
      ->capture_default_str();
  app.add_option("--throughput-mib", o.throughput_mib, "MiB streamed in the throughput case")
      ->capture_default_str();
  app.add_option("--concurrent-execs", o.concurrent_execs)->capture_default_str();
  app.add_option("--concurrent-sandboxes", o.concurrent_sandboxes)->capture_default_str();
  app.add_option("--rss-sandboxes", o.rss_sandboxes, "idle sandboxes for the RSS figure")
      ->capture_default_str();
  app.add_option("--codex", o.codex, "codex executable for the protocol-peer row")
      ->capture_default_str();
  app.add_option("--codex-home", o.codex_home, "CODEX_HOME for it (not under /tmp)")
      ->capture_default_str();
  app.add_option("--only", o.only,
                 "run only these cases: baselines exec peer create throughput concurrency process")
      ->check(CLI::IsMember(
          {"baselines", "exec", "peer", "create", "throughput", "concurrency", "process"}));
  app.add_option("--scale", scale, "multiply every iteration count by this")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (scale != 1.0) {
    for (int* n : {&o.iterations, &o.namespace_iterations, &o.spawn_iterations})
      *n = std::max(1, static_cast<int>(*n * scale));
  }
  if (access(o.agentd.c_str(), X_OK) != 0) {
    std::cerr << "agentd_bench: " << o.agentd << " is not an executable (build it, or --agentd)\n";
    return 2;
  }

  ab::Report report;
  ab::json meta = machine_info();
  meta["agentd"] = o.agentd;
  auto t0 = ab::Clock::now();
  ab::run_baselines(o, report);
  std::uint64_t lost = 0;
  try {
    lost = ab::run_agentd_cases(o, report, meta);
  } catch (const std::exception& e) {
    std::cerr << "agentd_bench: " << e.what() << "\n";
    report.print_table();
    return 2;
  }
  meta["totalSeconds"] = ab::ms_since(t0) / 1000.0;
  meta["lost"] = lost;

  report.print_table();
  std::printf("\ntotal %.1f s; lost notifications: %llu\n", ab::ms_since(t0) / 1000.0,
              static_cast<unsigned long long>(lost));
  if (!json_path.empty()) {
    std::ofstream(json_path) << report.to_json(meta).dump(2) << "\n";
    std::printf("results written to %s\n", json_path.c_str());
  }
  return lost == 0 ? 0 : 1;
}
