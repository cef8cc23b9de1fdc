#include "security_fixture.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <sstream>

#include "policy/environment.hpp"

namespace agentd::security {

const std::string& attack_program() {
  static const std::string path = [] {
    const char* env = std::getenv("AGENTD_ATTACK");
    return std::string(env && *env ? env : AGENTD_ATTACK);
  }();
  return path;
}

std::string attack_dir() { return attack_program().substr(0, attack_program().rfind('/')); }

namespace {

// readOnlyPaths may not lie where the sandbox builds its own tree.
bool attack_dir_is_bindable() {
  for (const char* reserved : {"/tmp", "/proc", "/dev", "/etc", "/workspace"}) {
    std::string r = reserved;
    if (attack_dir() == r || attack_dir().rfind(r + "/", 0) == 0) return false;
  }
  return true;
}

}  // namespace

std::string attack_dir_inside() {
  return attack_dir_is_bindable() ? attack_dir() : "/opt/agentd-attack";
}

std::string attack_inside() {
  return attack_dir_inside() + attack_program().substr(attack_program().rfind('/'));
}

AttackResult parse_attack(ExecRun run) {
  AttackResult result;
  result.run = std::move(run);
  std::istringstream lines(result.run.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // from a pty
    if (line.rfind("RESULT ", 0) != 0) continue;
    ++result.result_lines;
    size_t verdict_end = line.find(' ', 7);
    result.verdict = line.substr(7, verdict_end - 7);
    size_t err = line.find(" errno=");
    size_t detail = line.find(" detail=");
    if (err != std::string::npos && detail != std::string::npos) {
      result.err = line.substr(err + 7, detail - err - 7);
      result.detail = line.substr(detail + 8);
    }
  }
  return result;
}

std::string describe(const ExecRun& run) {
  std::ostringstream out;
  if (run.launch_failure) {
    out << "launch failed (field '" << run.launch_failure->field
        << "'): " << run.launch_failure->message;
    return out.str();
  }
  const auto& o = run.outcome;
  out << "status=" << exec::status_name(o.status);
  if (o.exit_code) out << " exit=" << *o.exit_code;
  if (o.signal) out << " signal=" << *o.signal;
  if (!o.reason.empty()) out << " reason='" << o.reason << "'";
  out << " finished=" << run.finished << " stdout=" << o.stdout_bytes
      << " stderr=" << o.stderr_bytes;
  out << "\n  stdout: " << run.out.substr(0, 600) << "\n  stderr: " << run.err.substr(0, 600);
  return out.str();
}

std::string describe(const AttackResult& result) {
  return "verdict=" + result.verdict + " errno=" + result.err + " detail=" + result.detail + " (" +
         std::to_string(result.result_lines) + " RESULT lines)\n  " + describe(result.run);
}

::testing::AssertionResult has_verdict(const AttackResult& result, const std::string& verdict) {
  const ExecRun& run = result.run;
  if (run.launch_failure || !run.finished) {
    return ::testing::AssertionFailure()
           << "the attack did not run to the end: " << describe(result);
  }
  if (run.outcome.status != exec::ExecStatus::kExited) {
    return ::testing::AssertionFailure() << "the attack did not exit normally (a crash is not a "
                                            "pass): "
                                         << describe(result);
  }
  if (result.result_lines != 1) {
    return ::testing::AssertionFailure()
           << "expected exactly one RESULT line: " << describe(result);
  }
  if (result.verdict != verdict) {
    return ::testing::AssertionFailure()
           << "expected verdict " << verdict << ": " << describe(result);
  }
  int want_exit = verdict == "escaped" ? 1 : (verdict == "broken" || verdict == "usage") ? 2 : 0;
  if (run.outcome.exit_code != want_exit) {
    return ::testing::AssertionFailure()
           << "exit code does not match the verdict: " << describe(result);
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult is_blocked(const AttackResult& result,
                                      const std::set<std::string>& errnos) {
  auto verdict = has_verdict(result, "blocked");
  if (!verdict) return verdict;
  if (!errnos.empty() && errnos.count(result.err) == 0) {
    std::string want;
    for (const auto& e : errnos) want += e + " ";
    return ::testing::AssertionFailure()
           << "blocked, but with errno " << result.err << " instead of one of: " << want << "\n  "
           << describe(result);
  }
  return ::testing::AssertionSuccess() << result.detail;
}

// ---- ExecDriver ----------------------------------------------------------------

ExecDriver::ExecDriver() { ::signal(SIGPIPE, SIG_IGN); }

Background ExecDriver::start(sandbox::Sandbox& sandbox, const exec::LaunchRequest& request,
                             exec::ExecSession::Options options) {
  Background background;
  background.owner = &sandbox;
  auto launched = sandbox.launch(request);
  if (auto* failure = std::get_if<exec::LaunchFailure>(&launched)) {
    background.run->launch_failure = *failure;
    return background;
  }
  auto run = background.run;
  exec::ExecSession::Callbacks callbacks;
  callbacks.on_output = [run](exec::Stream stream, std::string_view bytes) {
    (stream == exec::Stream::kStdout ? run->out : run->err).append(bytes);
  };
  callbacks.on_exit = [run](const exec::ExecOutcome& outcome) {
    ++run->exit_calls;
    run->finished = true;
    run->outcome = outcome;
  };
  background.session = exec::ExecSession::start(
      io_, std::move(std::get<exec::LaunchedChild>(launched)), options, std::move(callbacks));
  return background;
}

bool ExecDriver::run_until(const std::function<bool()>& done, std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(std::chrono::milliseconds(50));
  }
  io_.poll();
  return done();
}

ExecRun ExecDriver::finish(Background& background) {
  if (!background.session) return *background.run;
  auto run = background.run;
  if (!run_until([run] { return run->finished; })) {
    ADD_FAILURE() << "the exec did not finish within " << test_support::kExecBound.count() << " s";
    background.session->kill(SIGKILL);
    run_until([run] { return run->finished; }, std::chrono::seconds(10));
  }
  EXPECT_LE(run->exit_calls, 1) << "on_exit must be called at most once";
  return *run;
}

// ---- SecurityTest ---------------------------------------------------------------

void SecurityTest::SetUp() {
  // The sandbox uid must traverse to its workdir (agentd's default root,
  // /tmp/agentd-<uid>, is 0711 too).
  ::chmod(root_.path().c_str(), 0711);
  backend_ = std::make_unique<sandbox::LinuxBackend>(driver_.io(), root_.path() + "/sandboxes");
  if (!backend_->info().available) {
    GTEST_SKIP() << "the linux backend is unavailable here: " << backend_->info().reason;
  }
}

void SecurityTest::TearDown() {
  for (Background& background : background_) {
    if (background.session && !background.run->finished) background.session->kill(SIGKILL);
  }
  for (Background& background : background_) {
    auto run = background.run;
    if (background.session)
      driver_.run_until([run] { return run->finished; }, std::chrono::seconds(10));
  }
  background_.clear();
  for (auto& sandbox : sandboxes_) {
    if (sandbox) sandbox->destroy(false);
  }
  sandboxes_.clear();
  driver_.io().poll();
}

policy::SandboxSpec SecurityTest::base_spec() {
  policy::SandboxSpec spec;
  spec.isolation = policy::Isolation::kLinux;
  spec.network = policy::NetworkMode::kNone;
  if (attack_dir_is_bindable()) {
    spec.read_only_paths = {attack_dir()};
  } else {
    spec.mounts = {{attack_dir(), attack_dir_inside(), true}};
  }
  return spec;
}

sandbox::Sandbox* SecurityTest::create(const policy::SandboxSpec& spec) {
  std::string id = "sec-" + std::to_string(::getpid()) + "-" + std::to_string(next_sandbox_++);
  auto created = backend_->create(spec, id);
  if (auto* error = std::get_if<sandbox::CreateError>(&created)) {
    using Kind = sandbox::CreateError::Kind;
    if (error->kind == Kind::kFeatureUnavailable || error->kind == Kind::kIsolationUnavailable) {
      [&] { GTEST_SKIP() << "the kernel lacks " << error->feature << ": " << error->message; }();
      return nullptr;
    }
    ADD_FAILURE() << "sandbox/create failed: " << error->message << " (fix: " << error->fix << ")";
    return nullptr;
  }
  sandboxes_.push_back(std::move(std::get<std::unique_ptr<sandbox::Sandbox>>(created)));
  return sandboxes_.back().get();
}

void SecurityTest::destroy(sandbox::Sandbox& sandbox) {
  for (Background& background : background_) {
    if (background.owner != &sandbox || !background.session || background.run->finished) continue;
    background.session->kill(SIGKILL);
    auto run = background.run;
    driver_.run_until([run] { return run->finished; }, std::chrono::seconds(10));
  }
  for (auto& owned : sandboxes_) {
    if (owned.get() != &sandbox) continue;
    owned->destroy(false);
    owned.reset();
  }
}

exec::LaunchRequest SecurityTest::request(sandbox::Sandbox& sandbox,
                                          std::vector<std::string> argv) const {
  exec::LaunchRequest r;
  r.argv = std::move(argv);
  r.env = policy::base_environment(sandbox.visible_workdir());
  return r;
}

exec::LaunchRequest SecurityTest::attack_request(sandbox::Sandbox& sandbox,
                                                 std::vector<std::string> args) const {
  args.insert(args.begin(), attack_inside());
  return request(sandbox, std::move(args));
}

ExecRun SecurityTest::run(sandbox::Sandbox& sandbox, const exec::LaunchRequest& request,
                          exec::ExecSession::Options options) {
  Background background = driver_.start(sandbox, request, options);
  return driver_.finish(background);
}

AttackResult SecurityTest::attack(sandbox::Sandbox& sandbox, std::vector<std::string> args,
                                  exec::ExecSession::Options options) {
  return parse_attack(run(sandbox, attack_request(sandbox, std::move(args)), options));
}

Background SecurityTest::start_attack(sandbox::Sandbox& sandbox, std::vector<std::string> args,
                                      exec::ExecSession::Options options) {
  background_.push_back(driver_.start(sandbox, attack_request(sandbox, std::move(args)), options));
  return background_.back();
}

bool SecurityTest::wait_for_output(Background& background, const std::string& marker) {
  auto run = background.run;
  return driver_.run_until([run, marker] {
    return run->finished || run->launch_failure || run->out.find(marker) != std::string::npos;
  }) && run->out.find(marker) != std::string::npos;
}

void SecurityTest::expect_healthy(sandbox::Sandbox& sandbox, const std::string& after) {
  AttackResult health = attack(sandbox, {"health"});
  EXPECT_TRUE(has_verdict(health, "ok")) << "the sandbox no longer serves execs after " << after;
}

const sandbox::FeatureState* SecurityTest::backend_feature(const std::string& name) const {
  for (const auto& f : backend_->info().features) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const sandbox::FeatureState* SecurityTest::sandbox_feature(const sandbox::Sandbox& sandbox,
                                                           const std::string& name) {
  for (const auto& f : sandbox.capabilities()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace agentd::security
