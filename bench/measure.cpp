#include "measure.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

extern char** environ;

namespace agentd::bench {

double Row::percentile(double p) const {
  if (samples.empty()) return NAN;
  std::vector<double> s = samples;
  std::sort(s.begin(), s.end());
  // Nearest rank: the smallest sample with at least p% of the samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(s.size())));
  return s[std::clamp<std::size_t>(rank, 1, s.size()) - 1];
}

Row& Report::add(Row row) {
  rows_.push_back(std::move(row));
  return rows_.back();
}

const Row* Report::find(const std::string& name) const {
  for (const auto& r : rows_)
    if (r.name == name && r.skipped.empty() && !r.samples.empty()) return &r;
  return nullptr;
}

std::string Report::ratio(const Row& row, const std::optional<std::string>& base) const {
  if (!base || !row.skipped.empty()) return "";
  const Row* b = find(*base);
  if (!b || b->median() == 0) return "n/a";
  double r = row.median() / b->median();  // time: >1 is slower; throughput: <1 is slower
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", r);
  return buf;
}

std::string Report::label(const std::string& name) const {
  for (const auto& r : rows_)
    if (r.name == name && !r.short_label.empty()) return "vs " + r.short_label;
  return "vs " + name;
}

void Report::print_table() const {
  std::printf("%-64s %5s %9s %9s %-5s %-16s %-16s\n", "benchmark", "n", "median", "p90", "unit",
              "ratio A", "ratio B");
  std::string group;
  for (const auto& r : rows_) {
    if (r.group != group) {
      group = r.group;
      std::printf("-- %s\n", group.c_str());
    }
    if (!r.skipped.empty()) {
      std::printf("%-64s SKIPPED: %s\n", r.name.c_str(), r.skipped.c_str());
      continue;
    }
    std::string a = r.vs_a ? ratio(r, r.vs_a) + " " + label(*r.vs_a) : "";
    std::string b = r.vs_b ? ratio(r, r.vs_b) + " " + label(*r.vs_b) : "";
    std::printf("%-64s %5zu %9.3f %9.3f %-5s %-16s %-16s\n", r.name.c_str(), r.samples.size(),
                r.median(), r.p90(), r.unit.c_str(), a.c_str(), b.c_str());
    for (const auto& [k, v] : r.extra.items())
      std::printf("      %s: %s\n", k.c_str(), v.dump().c_str());
  }
}

json Report::to_json(const json& meta) const {
  json rows = json::array();
  for (const auto& r : rows_) {
    json j{{"group", r.group}, {"name", r.name}, {"unit", r.unit}};
    if (!r.skipped.empty()) {
      j["skipped"] = r.skipped;
    } else {
      j["n"] = r.samples.size();
      j["median"] = r.median();
      j["p90"] = r.p90();
      j["p99"] = r.percentile(99);
      j["min"] = *std::min_element(r.samples.begin(), r.samples.end());
      j["max"] = *std::max_element(r.samples.begin(), r.samples.end());
      j["higherIsBetter"] = r.higher_is_better;
      for (const auto& base : {r.vs_a, r.vs_b}) {
        const Row* b = base ? find(*base) : nullptr;
        if (b && b->median() != 0) j["ratios"][*base] = r.median() / b->median();
      }
    }
    if (!r.extra.empty()) j["extra"] = r.extra;
    rows.push_back(std::move(j));
  }
  return {{"meta", meta}, {"results", rows}};
}

SpawnResult spawn_and_read(const std::vector<std::string>& argv) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  if (rc != 0) {
    close(p[0]);
    throw std::system_error(rc, std::generic_category(), "posix_spawn " + argv[0]);
  }
  SpawnResult result;
  static thread_local std::vector<char> buf(64 * 1024);
  for (;;) {
    ssize_t n = read(p[0], buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.stdout_bytes += static_cast<std::uint64_t>(n);
  }
  close(p[0]);
  while (waitpid(pid, &result.wait_status, 0) < 0 && errno == EINTR) {
  }
  return result;
}

std::uint64_t rss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  return 0;
}

std::uint64_t pss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("Pss:", 0) == 0) return std::strtoull(line.c_str() + 4, nullptr, 10);
  return 0;
}

double cpu_ms(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close_paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {  // fields 14 and 15 (1-based)
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) * 1000.0 / double(sysconf(_SC_CLK_TCK));
}

double cpu_ms_with_descendants(int pid) {
  double sum = cpu_ms(pid);
  for (int c : child_pids(pid)) sum += cpu_ms_with_descendants(c);
  return sum;
}

double self_cpu_ms() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](timeval t) { return double(t.tv_sec) * 1000.0 + double(t.tv_usec) / 1000.0; };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

std::vector<int> child_pids(int pid) {
  std::string p = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children";
  std::ifstream f(p);
  std::vector<int> pids;
  for (int c; f >> c;) pids.push_back(c);
  return pids;
}

std::optional<std::string> find_executable(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(ss, dir, ':');) {
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

}  // namespace agentd::bench
