#include "sandbox/host_direct.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <tuple>

#include "exec/host_launcher.hpp"
#include "sandbox/janitor.hpp"
#include "sandbox/path_beneath.hpp"
#include "sandbox/workdir.hpp"

namespace agentd::sandbox {

namespace fs = std::filesystem;

namespace {

std::vector<FeatureState> host_features() {
  return {
      unavailable("filesystem",
                  "host-direct runs commands as agentd's user with the whole host filesystem "
                  "visible; use isolation \"linux\" for confinement"),
      unavailable("network", "host-direct shares the host network; use isolation \"linux\""),
      enforced("processGroup", "setpgid + killpg on exit, timeout, kill and destroy"),
      enforced("parentDeathSignal", "PR_SET_PDEATHSIG(SIGKILL) on each exec leader"),
      enforced("environmentScrub", "fresh environment; LD_PRELOAD, BASH_ENV, ... refused"),
      enforced("limits.wallTimeMs", "timer + killpg (per exec: timeoutMs)"),
      enforced("limits.maxOutputBytes", "counted by agentd, killpg when exceeded"),
      enforced("limits.cpuTimeMs", "RLIMIT_CPU per process (second granularity)"),
      enforced("limits.memoryBytes", "RLIMIT_AS per process (address space, not resident memory)"),
      enforced("limits.maxOpenFiles", "RLIMIT_NOFILE"),
      enforced("limits.maxFileSizeBytes", "RLIMIT_FSIZE"),
      unavailable("limits.cpuMillicores", "a cpu quota needs the cpu cgroup of isolation \"linux\""),
      unavailable("protectedPaths",
                  "host-direct cannot hide ~/.ssh, cloud credentials, shell rc files or "
                  ".git/hooks: commands run as agentd's user and see the whole host; use "
                  "isolation \"linux\""),
      unavailable("limits.maxProcesses",
                  "RLIMIT_NPROC counts every process of the user (and root ignores it); "
                  "needs the pids cgroup of isolation \"linux\""),
  };
}

// A host process group the janitor kills should agentd die without
// cleaning up; forgotten once the exec has ended.
class JanitorTrackedChild final : public exec::Child {
 public:
  explicit JanitorTrackedChild(std::unique_ptr<exec::Child> inner) : inner_(std::move(inner)) {
    Janitor::track_process_group(inner_->pid());
  }
  int pid() const override { return inner_->pid(); }
  void on_exit(std::function<void(exec::ExitInfo)> done) override {
    inner_->on_exit([pid = inner_->pid(), done = std::move(done)](exec::ExitInfo info) {
      Janitor::forget_process_group(pid);
      done(info);
    });
  }
  void signal_group(int signal) override { inner_->signal_group(signal); }

 private:
  std::unique_ptr<exec::Child> inner_;
};

class HostDirectSandbox final : public Sandbox {
 public:
  HostDirectSandbox(boost::asio::io_context& io, std::string workdir, base::UniqueFd workdir_fd,
                    bool created, std::vector<FeatureState> capabilities)
      : io_(io),
        workdir_(std::move(workdir)),
        workdir_fd_(std::move(workdir_fd)),
        created_(created),
        capabilities_(std::move(capabilities)) {}

  const std::string& workdir() const override { return workdir_; }
  const std::string& visible_workdir() const override { return workdir_; }
  policy::NetworkMode network() const override { return policy::NetworkMode::kHost; }
  const std::vector<FeatureState>& capabilities() const override { return capabilities_; }

  std::variant<exec::LaunchedChild, exec::LaunchFailure> launch(
      const exec::LaunchRequest& request) override {
    auto relative = relative_to_root(workdir_, request.cwd.value_or("."));
    if (!relative) return exec::LaunchFailure{"cwd", relative.error().message()};
    auto cwd = open_beneath(workdir_fd_.get(), *relative, O_PATH | O_DIRECTORY);
    if (!cwd) return exec::LaunchFailure{"cwd", cwd.error().message()};

    auto path = request.env.count("PATH") ? request.env.at("PATH") : policy::kDefaultSearchPath;
    auto executable = exec::find_on_path(request.argv[0], path);
    if (!executable) {
      return exec::LaunchFailure{"", "argv[0] \"" + request.argv[0] + "\": not found on PATH (" +
                                         path + ")"};
    }
    exec::HostLaunchPlan plan;
    plan.executable = *executable;
    plan.argv = request.argv;
    for (const auto& [name, value] : request.env) plan.env.push_back(name + "=" + value);
    plan.cwd_fd = cwd->get();
    plan.stdin_pipe = request.stdin_pipe;
    plan.pty = request.pty;
    plan.limits = request.limits;
    auto launched = exec::launch_on_host(io_, plan);
    if (auto* child = std::get_if<exec::LaunchedChild>(&launched)) {
      child->child = std::make_unique<JanitorTrackedChild>(std::move(child->child));
    }
    return launched;
  }

  // Paths relative to the workdir or absolute under it; resolved beneath
  // the workdir fd, so `..` and symlinks pointing out fail (EXDEV).
  FileReply file_op(const FileRequest& request) override {
    FileRequest beneath = request;
    for (auto [given, out, field] : {std::tuple{&request.path, &beneath.path, "path"},
                                     std::tuple{&request.to, &beneath.to, "to"}}) {
      if (given->empty() && out == &beneath.to) continue;
      auto relative = relative_to_root(workdir_, *given);
      if (!relative) {
        FileReply reply;
        bool nul = given->find('\0') != std::string::npos;
        reply.error = FileError{nul ? FileError::Kind::kInvalid : FileError::Kind::kEscape,
                                nul ? EINVAL : EXDEV, field,
                                nul ? relative.error().message()
                                    : "\"" + *given + "\" " + relative.error().message()};
        return reply;
      }
      if (climbs_above(*relative)) {  // the kernel would refuse it too (EXDEV), or say ENOENT
        FileReply reply;
        reply.error = FileError{FileError::Kind::kEscape, EXDEV, field,
                                "\"" + *given + "\" climbs out of the workdir with .."};
        return reply;
      }
      *out = *relative;
    }
    return run_file_op(workdir_fd_.get(), Resolve::kBeneath, beneath);
  }

  bool destroy(bool keep_workdir) override {
    workdir_fd_.reset();
    if (!created_ || keep_workdir) return false;
    return remove_workdir(workdir_);
  }

 private:
  boost::asio::io_context& io_;
  std::string workdir_;
  base::UniqueFd workdir_fd_;
  bool created_;
  std::vector<FeatureState> capabilities_;
};

CreateError feature_error(const std::string& feature, const std::string& reason,
                          const std::string& field) {
  CreateError error;
  error.kind = CreateError::Kind::kFeatureUnavailable;
  error.feature = feature;
  error.field = field;
  error.message = "host-direct cannot enforce " + feature + ": " + reason;
  error.fix = "use isolation \"linux\", or list \"" + feature +
              "\" in params.optional to accept running without it";
  return error;
}

// Checks the request against what host-direct can enforce and builds the
// capability list of the new sandbox.
std::variant<std::vector<FeatureState>, CreateError> plan_capabilities(
    const policy::SandboxSpec& spec) {
  std::vector<FeatureState> caps;
  for (FeatureState feature : host_features()) {
    bool requested = true;
    std::string field;
    if (feature.name == "filesystem") {
      requested = !spec.read_only_paths.empty() || !spec.read_write_paths.empty() ||
                  !spec.mounts.empty();
      field = spec.read_only_paths.empty() ? "readWritePaths" : "readOnlyPaths";
    } else if (feature.name == "protectedPaths") {
      requested = false;  // reported, never refused: no host-direct sandbox has them
    } else if (feature.name == "network") {
      requested = spec.network == policy::NetworkMode::kNone ||
                  spec.network == policy::NetworkMode::kAllowlist;
      field = "network";
    } else if (feature.name.rfind("limits.", 0) == 0) {
      std::string limit = feature.name.substr(7);
      requested = false;
      for (const auto& f : policy::kLimitFields) {
        if (limit == f.wire_name) requested = (spec.limits.*f.member).has_value();
      }
      field = feature.name;
    }
    if (!requested && feature.state == FeatureState::State::kEnforced) {
      feature = not_requested(feature.name);
    }
    if (requested && feature.state == FeatureState::State::kUnavailable &&
        !spec.accepts_without(feature.name)) {
      return feature_error(feature.name, feature.reason, field);
    }
    caps.push_back(std::move(feature));
  }
  return caps;
}

}  // namespace

HostDirectBackend::HostDirectBackend(boost::asio::io_context& io, std::string workdir_root)
    : io_(io), workdir_root_(std::move(workdir_root)) {
  info_.name = "host-direct";
  info_.isolation = "none";
  info_.available = true;
  for (FeatureState feature : host_features()) {
    if (feature.state == FeatureState::State::kEnforced) feature.state = FeatureState::State::kAvailable;
    info_.features.push_back(std::move(feature));
  }
}

std::variant<std::unique_ptr<Sandbox>, CreateError> HostDirectBackend::create(
    const policy::SandboxSpec& spec, const std::string& sandbox_id) {
  if (!spec.profile.empty() && !spec.profile_resolved && spec.profile != "workstation") {
    CreateError error;
    error.kind = CreateError::Kind::kInvalidArgument;
    error.field = "profile";
    error.message = "profile \"" + spec.profile + "\" does not apply to isolation \"none\"";
    error.fix = "omit profile or use \"workstation\"";
    return error;
  }
  auto caps = plan_capabilities(spec);
  if (auto* error = std::get_if<CreateError>(&caps)) return *error;

  auto workdir = open_workdir(spec, workdir_root_, sandbox_id);
  if (auto* error = std::get_if<CreateError>(&workdir)) return *error;
  auto& dir = std::get<Workdir>(workdir);
  return std::unique_ptr<Sandbox>(new HostDirectSandbox(io_, dir.path, std::move(dir.fd), dir.created,
                                                        std::get<0>(std::move(caps))));
}

}  // namespace agentd::sandbox
