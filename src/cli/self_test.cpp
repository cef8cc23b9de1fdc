// agentd self-test: a short attack set run in a real linux sandbox, shell
// commands only. A case script exits 1 when the attack was refused (pass),
// 0 when it got through (fail), and 77 when this machine lacks the tool the
// attack needs (skip); it prints what it saw.
#include <signal.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <random>

#include "base/log.hpp"
#include "cli/one_shot.hpp"

namespace agentd::cli {

namespace {

constexpr const char* kSecretName = "AGENTD_SELF_TEST_SECRET";

struct AttackCase {
  const char* name;
  const char* script;
};

// Each attack in plain sh; "$SECRET" is a value only agentd's own
// environment holds.
const AttackCase kAttacks[] = {
    {"read /etc/shadow",
     "if cat /etc/shadow >/dev/null 2>&1; then echo 'read it'; exit 0; fi\n"
     "echo \"refused: $(cat /etc/shadow 2>&1 | head -n1)\"; exit 1"},
    {"write /usr/bin",
     "if echo x 2>/dev/null >/usr/bin/agentd-self-test; then echo 'wrote it'; exit 0; fi\n"
     "echo \"refused: $( (echo x >/usr/bin/agentd-self-test) 2>&1 | head -n1)\"; exit 1"},
    {"new user namespace (unshare -U)",
     "command -v unshare >/dev/null || { echo 'no unshare here'; exit 77; }\n"
     "if unshare -U true 2>/dev/null; then echo 'unshare -U worked'; exit 0; fi\n"
     "echo \"refused: $(unshare -U true 2>&1 | head -n1)\"; exit 1"},
    {"mount tmpfs",
     "command -v mount >/dev/null || { echo 'no mount here'; exit 77; }\n"
     "if mount -t tmpfs x /tmp 2>/dev/null; then echo 'mounted'; exit 0; fi\n"
     "echo \"refused: $(mount -t tmpfs x /tmp 2>&1 | head -n1)\"; exit 1"},
    {"agentd's environment via /proc/*/environ",
     "for f in /proc/[0-9]*/environ /proc/1/environ; do cat \"$f\" 2>/dev/null; done |"
     " tr '\\000' '\\n' | grep -q \"$SECRET_VALUE\" && { echo 'secret found'; exit 0; }\n"
     "echo \"not visible; pid 1 is $(cat /proc/1/comm 2>/dev/null)\"; exit 1"},
    {"network: route out",
     "[ -r /proc/net/route ] || { echo 'no /proc/net/route'; exit 77; }\n"
     "n=$(grep -v '^Iface' /proc/net/route | wc -l)\n"
     "[ \"$n\" -gt 0 ] && { echo \"$n routes\"; exit 0; }\n"
     "echo \"no routes; interfaces: $(tr -s ' ' </proc/net/dev | sed -n '3,$p' | cut -d: -f1 "
     "| tr -d ' ' | tr '\\n' ' ')\"; exit 1"},
    {"network: connect to 1.1.1.1:53",
     "if command -v bash >/dev/null; then\n"
     "  bash -c 'exec 3<>/dev/tcp/1.1.1.1/53' 2>/dev/null && { echo connected; exit 0; }\n"
     "  echo \"refused: $(bash -c 'exec 3<>/dev/tcp/1.1.1.1/53' 2>&1 | head -n1)\"; exit 1\n"
     "fi\n"
     "command -v python3 >/dev/null || { echo 'no bash or python3 here'; exit 77; }\n"
     "python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 53), 2)' 2>/dev/null "
     "&& { echo connected; exit 0; }\n"
     "echo refused; exit 1"},
};

struct Tally {
  int passed = 0, failed = 0, skipped = 0;
  void pass(const std::string& name, const std::string& detail) {
    ++passed;
    std::printf("PASS  %s: %s\n", name.c_str(), detail.c_str());
  }
  void fail(const std::string& name, const std::string& detail) {
    ++failed;
    std::printf("FAIL  %s: %s\n", name.c_str(), detail.c_str());
  }
  void skip(const std::string& name, const std::string& detail) {
    ++skipped;
    std::printf("SKIP  %s: %s\n", name.c_str(), detail.c_str());
  }
};

struct Captured {
  exec::ExecOutcome outcome;
  std::string out;
};

Captured run_sh(OneShotSandbox& sandbox, const std::string& script, policy::Limits limits = {}) {
  Captured captured;
  captured.outcome =
      sandbox.run({"sh", "-c", script}, limits, [&captured](exec::Stream, std::string_view bytes) {
        if (captured.out.size() < 4096) captured.out.append(bytes);
      });
  while (!captured.out.empty() && captured.out.back() == '\n') captured.out.pop_back();
  for (auto& c : captured.out) c = c == '\n' ? ' ' : c;
  return captured;
}

std::string describe(const exec::ExecOutcome& outcome) {
  std::string s = exec::status_name(outcome.status);
  if (outcome.exit_code) s += " " + std::to_string(*outcome.exit_code);
  if (outcome.signal) s += " signal " + std::to_string(*outcome.signal);
  if (!outcome.reason.empty()) s += " (" + outcome.reason + ")";
  return s;
}

void run_attack(OneShotSandbox& sandbox, const AttackCase& attack, const std::string& secret,
                Tally& tally) {
  policy::Limits limits;
  limits.wall_time_ms = 15000;
  auto r = run_sh(sandbox, "SECRET_VALUE=" + secret + "\n" + attack.script, limits);
  int code = r.outcome.status == exec::ExecStatus::kExited ? r.outcome.exit_code.value_or(-1) : -1;
  if (code == 1) return tally.pass(attack.name, r.out);
  if (code == 77) return tally.skip(attack.name, r.out);
  tally.fail(attack.name, r.out.empty() ? describe(r.outcome) : r.out + "; " + describe(r.outcome));
}

// Whether the sandbox enforces `feature`; else why not.
std::optional<std::string> not_enforced(const sandbox::Sandbox& sandbox, const std::string& name) {
  for (const auto& f : sandbox.capabilities()) {
    if (f.name != name) continue;
    if (f.state == sandbox::FeatureState::State::kEnforced) return std::nullopt;
    return name + " " + sandbox::state_name(f.state) + (f.reason.empty() ? "" : ": " + f.reason);
  }
  return name + " not reported by the sandbox";
}

void fork_bomb(OneShotSandbox& sandbox, Tally& tally) {
  const char* name = "fork bomb under maxProcesses";
  if (auto why = not_enforced(sandbox.sandbox(), "limits.maxProcesses")) {
    return tally.skip(name, *why);
  }
  policy::Limits limits;
  limits.wall_time_ms = 3000;
  auto bomb = run_sh(sandbox, "b() { b | b & }; b; sleep 5", limits);
  auto after = run_sh(sandbox, "echo alive", {});
  if (after.outcome.status == exec::ExecStatus::kExited && after.out == "alive") {
    return tally.pass(name, "held: the bomb ended " + describe(bomb.outcome) +
                                ", the sandbox still runs commands");
  }
  tally.fail(name, "after the bomb: " + describe(after.outcome) + " " + after.out);
}

void memory_bomb(OneShotSandbox& sandbox, Tally& tally) {
  const char* name = "memory bomb under memoryBytes";
  if (auto why = not_enforced(sandbox.sandbox(), "limits.memoryBytes")) {
    return tally.skip(name, *why);
  }
  policy::Limits limits;
  limits.wall_time_ms = 30000;
  auto r = run_sh(sandbox, "x=0123456789abcdef; while :; do x=\"$x$x\"; done", limits);
  if (r.outcome.status == exec::ExecStatus::kMemoryLimit) {
    return tally.pass(name, "ended " + describe(r.outcome));
  }
  tally.fail(name, "expected memoryLimit, got " + describe(r.outcome));
}

policy::SandboxSpec self_test_spec() {
  policy::SandboxSpec spec;
  spec.isolation = policy::Isolation::kLinux;
  spec.network = policy::NetworkMode::kNone;
  spec.limits.memory_bytes = 128ull << 20;
  spec.limits.max_processes = 64;
  // Tested below when enforced, skipped with the reason when not.
  spec.optional_features = {"limits.memoryBytes", "limits.maxProcesses"};
  return spec;
}

}  // namespace

int self_test_command(const CliContext& context) {
  ::signal(SIGPIPE, SIG_IGN);
  std::string secret = "s" + std::to_string(std::random_device{}()) + std::to_string(::getpid());
  ::setenv(kSecretName, secret.c_str(), 1);  // must stay invisible inside the sandbox
  boost::asio::io_context io;
  OneShotSandbox sandbox(io, context);
  const auto& info = sandbox.backend_info(policy::Isolation::kLinux);
  if (!info.available) {
    std::printf("SKIP  all: the linux backend is unavailable: %s\n", info.reason.c_str());
    return 0;
  }
  if (auto created = sandbox.create(self_test_spec()); !created) {
    std::printf("FAIL  sandbox/create: %s\n", created.error().message().c_str());
    return 1;
  }
  Tally tally;
  for (const auto& attack : kAttacks) run_attack(sandbox, attack, secret, tally);
  fork_bomb(sandbox, tally);
  memory_bomb(sandbox, tally);
  std::printf("%d passed, %d failed, %d skipped\n", tally.passed, tally.failed, tally.skipped);
  std::fflush(stdout);
  return tally.failed == 0 ? 0 : 1;
}

}  // namespace agentd::cli
