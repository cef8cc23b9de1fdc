// agentd itself, driven through agentd::client against the real binary.
#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "agentd/client/client.hpp"
#include "cases.hpp"

namespace agentd::bench {
namespace {

namespace ac = agentd::client;

std::unique_ptr<ac::Client> start_agentd(const Options& o, bool keep_output = true) {
  ac::ClientOptions co;
  co.agentd_path = o.agentd;
  co.forward_stderr = false;
  co.keep_output = keep_output;
  co.default_timeout = ac::Millis{60'000};
  return std::make_unique<ac::Client>(co);
}

// The isolations to measure: host-direct always, linux when initialize says it is available.
struct Backend {
  std::string label;  // "host-direct", "linux"
  json create_params;
  std::string skipped;  // non-empty: linux is not available here, and why
};

std::vector<Backend> backends(const json& init) {
  std::vector<Backend> out{{"host-direct", {{"isolation", "none"}}, ""}};
  std::string reason = "linux backend not reported by initialize";
  for (const auto& b : init.at("backends")) {
    if (b.value("isolation", "") != "linux") continue;
    reason = b.value("available", false) ? "" : "unavailable: " + b.value("reason", "?");
  }
  out.push_back({"linux", {{"isolation", "linux"}}, reason});
  return out;
}

double median_of(std::vector<double> v) {
  Row r("", "");
  r.samples = std::move(v);
  return r.median();
}

void exec_round_trip(const Options& o, ac::Client& c, const Backend& b, Report& report) {
  Row row("exec round trip (existing sandbox)", "exec/start /bin/true -> exec/exit, " + b.label);
  row.vs_a = kRawForkExec;
  row.vs_b = kBwrap;
  if (!b.skipped.empty()) {
    row.skipped = b.skipped;
    report.add(std::move(row));
    return;
  }
  std::string sb = c.sandbox_create(b.create_params).at("sandboxId");
  std::vector<double> answered, reported, paired;
  double cpu0 = 0;
  for (int i = -3; i < o.iterations; ++i) {  // 3 warm-up runs
    // CPU time is steadier than wall time on a busy machine: what one exec costs agentd
    // itself (and the sandbox init, a live child), not counting the command.
    if (i == 0) cpu0 = cpu_ms_with_descendants(c.pid());
    // A raw fork/exec right before each exec: the per-pair ratio sees the same machine load.
    auto r0 = Clock::now();
    spawn_and_read({"/bin/true"});
    double raw_ms = ms_since(r0);
    auto t0 = Clock::now();
    std::string ex = c.exec_start(sb, {"/bin/true"});
    double start_ms = ms_since(t0);
    ac::ExecResult r = c.wait_exit(ex);
    double total = ms_since(t0, r.exit_received);
    if (i < 0) continue;
    if (r.status() != "exited") row.extra["failures"] = row.extra.value("failures", 0) + 1;
    row.samples.push_back(total);
    paired.push_back(total / raw_ms);
    answered.push_back(start_ms);
    reported.push_back(r.exit.value("durationMs", 0.0));
  }
  double cpu_per_exec = (cpu_ms_with_descendants(c.pid()) - cpu0) / o.iterations;
  c.sandbox_destroy(sb);
  row.extra["agentd CPU per exec, ms (+ live children: the linux init)"] = cpu_per_exec;
  row.extra["exec/start answered, median ms"] = median_of(answered);
  row.extra["paired ratio vs fork/exec (interleaved; median of per-pair ratios)"] =
      median_of(paired);
  row.extra["agentd durationMs (start->leader exit), median"] = median_of(reported);
  report.add(std::move(row));
}

void create_destroy(const Options& o, ac::Client& c, const std::string& label, json params,
                    const std::string& skipped, Report& report) {
  Row row("sandbox create + destroy", "sandbox/create + sandbox/destroy, " + label);
  row.vs_a = kBwrap;
  if (!skipped.empty()) {
    row.skipped = skipped;
    report.add(std::move(row));
    return;
  }
  std::vector<double> creates, destroys;
  for (int i = -1; i < o.namespace_iterations; ++i) {
    auto t0 = Clock::now();
    std::string sb = c.sandbox_create(params).at("sandboxId");
    auto t1 = Clock::now();
    c.sandbox_destroy(sb);
    if (i < 0) continue;
    creates.push_back(ms_since(t0, t1));
    destroys.push_back(ms_since(t1));
    row.samples.push_back(ms_since(t0));
  }
  row.extra["create median ms"] = median_of(creates);
  row.extra["destroy median ms"] = median_of(destroys);
  report.add(std::move(row));
}

void throughput(const Options& o, const Backend& b, Report& report) {
  Row row(
      "output throughput",
      "exec/start head -c " + std::to_string(o.throughput_mib) + "M /dev/zero, decoded, " + b.label,
      "MiB/s");
  row.higher_is_better = true;
  row.vs_a = kRawPipe;
  if (!b.skipped.empty()) {
    row.skipped = b.skipped;
    report.add(std::move(row));
    return;
  }
  auto c = start_agentd(o, /*keep_output=*/false);
  c->initialize();
  const std::uint64_t bytes = static_cast<std::uint64_t>(o.throughput_mib) << 20;
  json params = b.create_params;
  params["limits"] = {{"maxOutputBytes", bytes + 1}};
  std::string sb = c->sandbox_create(params).at("sandboxId");
  double agentd_cpu = 0, client_cpu = 0, wall = 0;
  for (int i = 0; i < 3; ++i) {
    double agentd_cpu0 = cpu_ms_with_descendants(c->pid()), client_cpu0 = self_cpu_ms();
    auto t0 = Clock::now();
    std::string ex =
        c->exec_start(sb, {"head", "-c", std::to_string(o.throughput_mib) + "M", "/dev/zero"});
    ac::ExecResult r = c->wait_exit(ex, ac::Millis{300'000});
    double ms = ms_since(t0, r.exit_received);
    agentd_cpu += cpu_ms_with_descendants(c->pid()) - agentd_cpu0;
    client_cpu += self_cpu_ms() - client_cpu0;
    wall += ms;
    if (r.stdout_bytes != bytes || r.seq_gaps != 0) {
      row.samples.clear();
      row.skipped = "received " + std::to_string(r.stdout_bytes) + " bytes, " +
                    std::to_string(r.seq_gaps) + " seq gaps; exit " + r.exit.dump();
      break;
    }
    row.samples.push_back(o.throughput_mib / (ms / 1000.0));
    row.extra["exec/output notifications"] = r.output_notifications;
  }
  if (wall > 0) {
    row.extra["agentd CPU (+ live children) / wall"] = agentd_cpu / wall;
    row.extra["client CPU (parse + base64) / wall"] = client_cpu / wall;
  }
  c->sandbox_destroy(sb);
  c->shutdown();
  report.add(std::move(row));
}

}  // namespace

// Defined in concurrency.cpp.
std::uint64_t concurrent_execs(const Options& o, const std::string& label, const json& params,
                               const std::string& skipped, Report& report);
void spawn_and_rss(const Options& o, const std::vector<json>& sandbox_kinds, Report& report);
// Defined in codex_peer.cpp.
void codex_peer(const Options& o, ac::Client& c, const json& linux_params,
                const std::string& linux_skipped, Report& report);

std::uint64_t run_agentd_cases(const Options& o, Report& report, json& meta) {
  auto c = start_agentd(o);
  json init = c->initialize();
  meta["agentdVersion"] = init.at("serverInfo").value("version", "?");
  auto bs = backends(init);
  meta["linuxBackend"] = bs[1].skipped.empty() ? "available" : bs[1].skipped;

  if (o.wants("exec"))
    for (const auto& b : bs) exec_round_trip(o, *c, b, report);

  const std::string& linux_skip = bs[1].skipped;
  if (o.wants("peer")) codex_peer(o, *c, bs[1].create_params, linux_skip, report);
  if (o.wants("create")) {
    // host-direct first: the kernel finishes tearing down linux sandboxes (network namespaces,
    // cgroups) in the background, which would slow whatever is measured right after them.
    create_destroy(o, *c, "host-direct", {{"isolation", "none"}}, "", report);
    create_destroy(o, *c, "linux network none", {{"isolation", "linux"}, {"network", "none"}},
                   linux_skip, report);
    create_destroy(o, *c, "linux network host", {{"isolation", "linux"}, {"network", "host"}},
                   linux_skip, report);
  }
  c->shutdown();
  c.reset();

  if (o.wants("throughput"))
    for (const auto& b : bs) throughput(o, b, report);

  std::uint64_t lost = 0;
  if (o.wants("concurrency"))
    for (const auto& b : bs)
      lost += concurrent_execs(o, b.label, b.create_params, b.skipped, report);

  std::vector<json> kinds{{{"isolation", "none"}}};
  if (linux_skip.empty()) kinds.push_back({{"isolation", "linux"}});
  if (o.wants("process")) spawn_and_rss(o, kinds, report);
  return lost;
}

}  // namespace agentd::bench
