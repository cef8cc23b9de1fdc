// Many execs in flight at once, and what agentd costs to start and to keep.
#include <atomic>
#include <memory>
#include <thread>

#include "agentd/client/client.hpp"
#include "cases.hpp"

namespace agentd::bench {

namespace ac = agentd::client;

namespace {

// Output size of exec i: distinct per exec so that a mix-up between execs shows.
std::uint64_t output_size(int i) { return 1000 + 997 * static_cast<std::uint64_t>(i); }

std::unique_ptr<ac::Client> start(const Options& o) {
  ac::ClientOptions co;
  co.agentd_path = o.agentd;
  co.forward_stderr = false;
  co.keep_output = false;
  co.default_timeout = ac::Millis{60'000};
  return std::make_unique<ac::Client>(co);
}

// Checks everything the protocol promises about one exec; returns a description of what was
// wrong, or "" when it is all right.
std::string check(const ac::ExecResult& r, std::uint64_t want) {
  if (r.exit_notifications != 1) return std::to_string(r.exit_notifications) + " exec/exit";
  if (r.seq_gaps != 0) return std::to_string(r.seq_gaps) + " seq gaps";
  if (r.status() != "exited" || r.exit_code() != 0) return "exit " + r.exit.dump();
  if (r.stdout_bytes != want) return "stdout " + std::to_string(r.stdout_bytes) + " bytes";
  if (r.exit.value("stdoutBytes", std::uint64_t{0}) != want) return "stdoutBytes mismatch";
  return "";
}

std::uint64_t sum_descendant_rss(int pid) {
  std::uint64_t sum = 0;
  for (int c : child_pids(pid)) sum += rss_kib(c) + sum_descendant_rss(c);
  return sum;
}

std::uint64_t sum_pss_with_descendants(int pid) {
  std::uint64_t sum = pss_kib(pid);
  for (int c : child_pids(pid)) sum += sum_pss_with_descendants(c);
  return sum;
}

}  // namespace

std::uint64_t concurrent_execs(const Options& o, const std::string& label, const json& params,
                               const std::string& skipped, Report& report) {
  Row row("concurrency", std::to_string(o.concurrent_execs) + " execs at once over " +
                             std::to_string(o.concurrent_sandboxes) + " sandboxes, " + label + "");
  if (!skipped.empty()) {
    row.skipped = skipped;
    report.add(std::move(row));
    return 0;
  }
  auto c = start(o);
  c->initialize();
  std::vector<std::string> sandboxes;
  for (int s = 0; s < o.concurrent_sandboxes; ++s)
    sandboxes.push_back(c->sandbox_create(params).at("sandboxId"));

  const int n = o.concurrent_execs;
  const int threads = std::min(n, 50);
  std::vector<double> latency(n, -1);
  std::vector<std::string> problems(n);
  std::atomic<int> ready{0};
  auto t_all = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<std::pair<int, std::pair<std::string, Clock::time_point>>> mine;
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();  // start together
      for (int i = t; i < n; i += threads) {
        auto t0 = Clock::now();
        try {
          std::string ex =
              c->exec_start(sandboxes[i % sandboxes.size()],
                            {"head", "-c", std::to_string(output_size(i)), "/dev/zero"});
          mine.push_back({i, {ex, t0}});
        } catch (const std::exception& e) {
          problems[i] = e.what();
        }
      }
      for (auto& [i, started] : mine) {
        try {
          ac::ExecResult r = c->wait_exit(started.first, ac::Millis{120'000});
          latency[i] = ms_since(started.second, r.exit_received);
          problems[i] = check(r, output_size(i));
        } catch (const std::exception& e) {
          problems[i] = e.what();
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  double wall = ms_since(t_all);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let strays arrive
  std::uint64_t lost = c->unclaimed_execs().size();
  json examples = json::array();
  for (int i = 0; i < n; ++i) {
    if (latency[i] >= 0) row.samples.push_back(latency[i]);
    if (problems[i].empty()) continue;
    ++lost;
    if (examples.size() < 5) examples.push_back(problems[i]);
  }
  for (const auto& sb : sandboxes) c->sandbox_destroy(sb);
  c->shutdown();
  row.extra["p99 ms"] = row.percentile(99);
  row.extra["wall ms for all"] = wall;
  row.extra["lost (must be 0)"] = lost;
  if (!examples.empty()) row.extra["lost examples"] = examples;
  report.add(std::move(row));
  return lost;
}

void spawn_and_rss(const Options& o, const std::vector<json>& sandbox_kinds, Report& report) {
  Row spawn("agentd process", "spawn agentd + initialize round trip");
  std::vector<double> shutdowns;
  for (int i = -1; i < o.spawn_iterations; ++i) {
    auto t0 = Clock::now();
    auto c = start(o);
    c->initialize();
    double ms = ms_since(t0);
    auto t1 = Clock::now();
    c->shutdown();
    if (i < 0) continue;
    spawn.samples.push_back(ms);
    shutdowns.push_back(ms_since(t1));
  }
  Row tmp("", "");
  tmp.samples = shutdowns;
  spawn.extra["shutdown+exit+reap median ms"] = tmp.median();
  report.add(std::move(spawn));

  auto c = start(o);
  c->initialize();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Row idle("agentd process", "RSS of idle agentd (VmRSS)", "KiB");
  idle.samples.push_back(static_cast<double>(rss_kib(c->pid())));
  idle.extra["descendants' RSS KiB (janitor, ...)"] = sum_descendant_rss(c->pid());
  report.add(std::move(idle));

  for (const auto& kind : sandbox_kinds) {
    const std::string label = kind.value("isolation", "") == "none" ? "host-direct" : "linux";
    std::uint64_t own0 = rss_kib(c->pid()), kids0 = sum_descendant_rss(c->pid());
    std::uint64_t pss0 = sum_pss_with_descendants(c->pid());
    std::vector<std::string> ids;
    for (int i = 0; i < o.rss_sandboxes; ++i)
      ids.push_back(c->sandbox_create(kind).at("sandboxId"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    double own = (double(rss_kib(c->pid())) - double(own0)) / o.rss_sandboxes;
    double kids = (double(sum_descendant_rss(c->pid())) - double(kids0)) / o.rss_sandboxes;
    double pss = (double(sum_pss_with_descendants(c->pid())) - double(pss0)) / o.rss_sandboxes;
    Row row("agentd process", "RSS per idle sandbox, " + label + " (agentd + its children)", "KiB");
    row.samples.push_back(own + kids);
    row.extra["agentd's own VmRSS growth per sandbox KiB"] = own;
    row.extra["children's VmRSS growth per sandbox KiB (janitor; linux: + sandbox init)"] = kids;
    row.extra["Pss growth per sandbox KiB, agentd + children (shared pages split)"] = pss;
    row.extra["sandboxes"] = o.rss_sandboxes;
    report.add(std::move(row));
    for (const auto& id : ids) c->sandbox_destroy(id);
  }
  c->shutdown();
}

}  // namespace agentd::bench
