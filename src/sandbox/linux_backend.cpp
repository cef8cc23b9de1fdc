#include "sandbox/linux_backend.hpp"

#include <linux/landlock.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "sandbox/linux/cgroup.hpp"
#include "sandbox/linux/init_process.hpp"
#include "sandbox/linux/linux_sandbox.hpp"
#include "sandbox/linux/seccomp_filter.hpp"
#include "netproxy/allowlist.hpp"
#include "base/log.hpp"
#include "sandbox/workdir.hpp"


namespace agentd::sandbox {

namespace {

// Runs `fn` in a forked child and returns its errno (0 on success), so a
// probe that changes the process (unshare) leaves agentd untouched.
int errno_in_child(int (*fn)()) {
  pid_t pid = ::fork();
  if (pid < 0) return errno;
  if (pid == 0) ::_exit(fn() == 0 ? 0 : (errno & 0x7f));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : EINVAL;
}

FeatureState probe_namespace(const char* name, int flag) {
  static int s_flag;
  s_flag = flag;
  int err = errno_in_child([]() -> int {
    return ::unshare(CLONE_NEWUSER) == 0 && (s_flag == CLONE_NEWUSER || ::unshare(s_flag) == 0)
               ? 0
               : -1;
  });
  if (err == 0) return available(name, "unshare() succeeded in a probe process");
  std::string reason = std::string("unshare failed: ") + std::strerror(err);
  if (err == EPERM || err == EACCES || err == ENOSPC) {
    reason += " (user namespaces restricted: check kernel.unprivileged_userns_clone, "
              "user.max_user_namespaces, or AppArmor's apparmor_restrict_unprivileged_userns)";
  }
  return unavailable(name, reason);
}

FeatureState probe_landlock() {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi > 0) return available("landlock", "Landlock ABI " + std::to_string(abi));
  return unavailable("landlock", std::string("landlock_create_ruleset: ") + std::strerror(errno) +
                                     " (needs Linux >= 5.13 with CONFIG_SECURITY_LANDLOCK and "
                                     "landlock in the lsm= boot list)");
}

FeatureState probe_seccomp() {
  if (::prctl(PR_GET_SECCOMP) < 0) {
    return unavailable("seccomp", std::string("prctl(PR_GET_SECCOMP): ") + std::strerror(errno));
  }
  std::ifstream actions("/proc/sys/kernel/seccomp/actions_avail");
  std::string list;
  std::getline(actions, list);
  if (list.find("errno") == std::string::npos) {
    return unavailable("seccomp", "the kernel lists no seccomp filter actions");
  }
  return available("seccomp", "seccomp-bpf (actions: " + list + ")");
}

}  // namespace

std::vector<FeatureState> probe_linux_features() {
  FeatureState net = probe_namespace("netNamespace", CLONE_NEWNET);
  std::vector<FeatureState> features = {
      probe_namespace("userNamespace", CLONE_NEWUSER),
      probe_namespace("mountNamespace", CLONE_NEWNS),
      probe_namespace("pidNamespace", CLONE_NEWPID),
      net,
      probe_namespace("ipcNamespace", CLONE_NEWIPC),
      probe_namespace("utsNamespace", CLONE_NEWUTS),
      probe_namespace("cgroupNamespace", CLONE_NEWCGROUP),
      probe_landlock(),
      probe_seccomp(),
  };
  for (auto& f : linuxns::probe_cgroup_features()) features.push_back(std::move(f));
  features.push_back(net.state == FeatureState::State::kAvailable
                         ? available("networkAllowlist", "own network namespace + agentd's egress proxy")
                         : unavailable("networkAllowlist", "needs netNamespace: " + net.reason));
  features.push_back(linuxns::notify_supported()
                         ? available("violationReports.syscall", "seccomp user notification")
                         : unavailable("violationReports.syscall",
                                       "no seccomp user notification here (Linux >= 5.0 and "
                                       "libseccomp >= 2.5 with the user_notif action)"));
  return features;
}

namespace {

// agentd-sandbox-init: $AGENTD_SANDBOX_INIT, else beside the agentd binary,
// else where the build put it.
std::string find_init_helper() {
  if (const char* env = std::getenv("AGENTD_SANDBOX_INIT"); env && *env) return env;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    std::string dir(self, size_t(n));
    dir = dir.substr(0, dir.rfind('/'));
    std::string beside = dir + "/agentd-sandbox-init";
    if (::access(beside.c_str(), X_OK) == 0) return beside;
  }
#ifdef AGENTD_SANDBOX_INIT_BUILD_PATH
  return AGENTD_SANDBOX_INIT_BUILD_PATH;
#else
  return "agentd-sandbox-init";
#endif
}

const FeatureState* find_feature(const std::vector<FeatureState>& features, const std::string& name) {
  for (const auto& f : features) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

CreateError feature_missing(const FeatureState& feature) {
  CreateError error;
  error.kind = CreateError::Kind::kFeatureUnavailable;
  error.feature = feature.name;
  error.message = "isolation \"linux\" needs " + feature.name + ", which is unavailable here: " +
                  feature.reason;
  error.fix = "fix the host as the reason says, or list \"" + feature.name +
              "\" in params.optional to accept a sandbox without it";
  return error;
}

// The first ancestor directory of `path` that others may not search, if any.
std::optional<std::string> closed_ancestor(const std::string& path) {
  std::string prefix;
  size_t pos = 0;
  while ((pos = path.find('/', pos + 1)) != std::string::npos) {
    prefix = path.substr(0, pos);
    struct stat st {};
    if (::stat(prefix.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && !(st.st_mode & S_IXOTH)) {
      return prefix;
    }
  }
  return std::nullopt;
}

bool is_available(const FeatureState* feature) {
  return feature && feature->state == FeatureState::State::kAvailable;
}

}  // namespace

LinuxBackend::LinuxBackend(boost::asio::io_context& io, std::string workdir_root)
    : io_(io), workdir_root_(std::move(workdir_root)) {
  info_.name = "linux";
  info_.isolation = "linux";
  info_.features = probe_linux_features();
  std::string helper = find_init_helper();
  helper_fd_ = ::open(helper.c_str(), O_PATH | O_CLOEXEC);
  info_.available = helper_fd_ >= 0;
  if (helper_fd_ < 0) {
    info_.reason = "agentd-sandbox-init not found at " + helper + " (" + std::strerror(errno) +
                   "); install it beside agentd or set AGENTD_SANDBOX_INIT";
  }
  for (const char* required : {"userNamespace", "mountNamespace", "pidNamespace"}) {
    const FeatureState* f = find_feature(info_.features, required);
    if (info_.available && !is_available(f)) {
      info_.available = false;
      info_.reason = std::string(required) + " is unavailable: " + (f ? f->reason : "not probed");
    }
  }
}

LinuxBackend::~LinuxBackend() {
  if (helper_fd_ >= 0) ::close(helper_fd_);
}

// Every feature a linux sandbox relies on must be there, unless the caller
// listed it in `optional`.
std::optional<CreateError> LinuxBackend::check_features(const policy::SandboxSpec& spec) const {
  std::vector<std::string> required = {"userNamespace", "mountNamespace", "pidNamespace",
                                       "ipcNamespace",  "utsNamespace",   "landlock",
                                       "seccomp"};
  if (spec.network != policy::NetworkMode::kHost) required.push_back("netNamespace");
  const FeatureState* netns = find_feature(info_.features, "netNamespace");
  if (spec.network == policy::NetworkMode::kAllowlist && !is_available(netns)) {
    // Without its own network namespace an allowlist would be the host's
    // whole network: never, not even when listed optional.
    CreateError error = feature_missing(netns ? *netns : unavailable("netNamespace", "not probed"));
    error.fix = "network \"allowlist\" needs a network namespace; fix the host as the reason says";
    return error;
  }
  for (const auto& name : required) {
    const FeatureState* f = find_feature(info_.features, name);
    if (!is_available(f) && !spec.accepts_without(name)) {
      return feature_missing(f ? *f : unavailable(name, "not probed"));
    }
  }
  return std::nullopt;
}

std::vector<FeatureState> LinuxBackend::limit_features(const policy::SandboxSpec& spec,
                                                       const linuxns::Cgroup* cgroup) const {
  auto rlimit = [](const char* name, const std::optional<uint64_t>& v, const char* how) {
    return v ? enforced(name, how) : not_requested(name);
  };
  std::vector<FeatureState> out = {
      enforced("limits.wallTimeMs", "timer + kill of the exec's process group"),
      rlimit("limits.maxOutputBytes", spec.limits.max_output_bytes,
             "counted by agentd, process group killed when exceeded"),
      rlimit("limits.cpuTimeMs", spec.limits.cpu_time_ms, "RLIMIT_CPU per process"),
      rlimit("limits.maxOpenFiles", spec.limits.max_open_files, "RLIMIT_NOFILE"),
      rlimit("limits.maxFileSizeBytes", spec.limits.max_file_size_bytes, "RLIMIT_FSIZE"),
  };
  // memory and pids come from the sandbox's cgroup, whole-sandbox limits.
  auto cgroup_feature = [&](const char* limit, const char* controller, bool asked) {
    if (cgroup) {
      for (const auto& f : cgroup->features()) {
        if (f.name == controller && f.state == FeatureState::State::kEnforced) {
          return enforced(limit, f.mechanism + " (whole sandbox)");
        }
      }
    }
    if (!asked) return not_requested(limit);
    return unavailable(limit, std::string(controller) + " unavailable; accepted as optional");
  };
  out.push_back(cgroup_feature("limits.memoryBytes", "cgroups.memory", spec.limits.memory_bytes.has_value()));
  out.push_back(cgroup_feature("limits.maxProcesses", "cgroups.pids", spec.limits.max_processes.has_value()));
  out.push_back(cgroup_feature("limits.cpuMillicores", "cgroups.cpu", spec.limits.cpu_millicores.has_value()));
  return out;
}

// The sandbox's cgroup: required when memory or pid limits are asked for
// (unless listed optional), otherwise taken when the machine offers one.
std::variant<std::unique_ptr<linuxns::Cgroup>, CreateError> make_cgroup(
    const policy::SandboxSpec& spec, const std::string& sandbox_id) {
  linuxns::CgroupLimits limits;
  limits.memory_bytes = spec.limits.memory_bytes;
  limits.max_processes = spec.limits.max_processes;
  limits.cpu_millicores = spec.limits.cpu_millicores;
  auto made = linuxns::Cgroup::create(sandbox_id, limits);
  if (auto* cgroup = std::get_if<std::unique_ptr<linuxns::Cgroup>>(&made)) return std::move(*cgroup);
  const auto failure = std::get<linuxns::CgroupError>(made);
  bool required = (limits.memory_bytes && !spec.accepts_without("limits.memoryBytes")) ||
                  (limits.max_processes && !spec.accepts_without("limits.maxProcesses")) ||
                  (limits.cpu_millicores && !spec.accepts_without("limits.cpuMillicores"));
  if (!required) {
    // Every limit that failed was optional: a cgroup for usage and the
    // freezer is still worth having, and none at all is acceptable.
    made = linuxns::Cgroup::create(sandbox_id, {});
    if (auto* cgroup = std::get_if<std::unique_ptr<linuxns::Cgroup>>(&made)) return std::move(*cgroup);
    base::log_info("sandbox " + sandbox_id + " runs without a cgroup: " + failure.reason);
    return std::unique_ptr<linuxns::Cgroup>();
  }
  CreateError error;
  error.kind = CreateError::Kind::kFeatureUnavailable;
  error.feature = failure.feature;
  error.message = "isolation \"linux\" cannot enforce the requested limits: " + failure.reason;
  error.fix = failure.fix + "; or list the limit (e.g. \"limits.memoryBytes\") in params.optional";
  return error;
}

std::variant<std::unique_ptr<Sandbox>, CreateError> LinuxBackend::create(
    const policy::SandboxSpec& spec, const std::string& sandbox_id) {
  if (!info_.available) {
    CreateError error;
    error.kind = CreateError::Kind::kIsolationUnavailable;
    error.feature = "isolation.linux";
    error.message = "isolation \"linux\" is unavailable: " + info_.reason;
    error.fix = "fix the host as the reason says; isolation \"none\" runs without any isolation";
    return error;
  }
  if (!spec.profile.empty() && !spec.profile_resolved && spec.profile != "default") {
    CreateError error;
    error.kind = CreateError::Kind::kInvalidArgument;
    error.field = "profile";
    error.message = "unknown profile \"" + spec.profile + "\" for isolation \"linux\"";
    error.fix = "omit profile or use \"default\"";
    return error;
  }
  if (auto missing = check_features(spec)) return *missing;

  auto workdir = open_workdir(spec, workdir_root_, sandbox_id);
  if (auto* error = std::get_if<CreateError>(&workdir)) return *error;
  auto& dir = std::get<Workdir>(workdir);
  linuxns::InitLaunch launch;
  launch.helper_fd = helper_fd_;
  launch.ids = linuxns::default_id_mapping();
  if (dir.created && launch.ids.privileged &&
      ::chown(dir.path.c_str(), launch.ids.outside_uid, launch.ids.outside_gid) != 0) {
    CreateError error;
    error.message = "chown of the workdir to the sandbox uid failed: " + std::string(std::strerror(errno));
    remove_workdir(dir.path);
    return error;
  }
  auto cleanup_workdir = [&] {
    if (dir.created) remove_workdir(dir.path);
  };
  if (launch.ids.privileged) {
    // The init binds these as the sandbox uid: it must be able to reach them.
    std::vector<std::string> visible = {dir.path};
    for (const auto* list : {&spec.read_only_paths, &spec.read_write_paths}) {
      visible.insert(visible.end(), list->begin(), list->end());
    }
    for (const auto& mount : spec.mounts) visible.push_back(mount.source);
    for (const auto& path : visible) {
      if (auto blocked = closed_ancestor(path)) {
        cleanup_workdir();
        CreateError error;
        error.message = "the sandbox uid " + std::to_string(launch.ids.outside_uid) +
                        " cannot reach " + path + ": " + *blocked + " is not searchable by others";
        error.fix = "chmod o+x " + *blocked + ", or start agentd with --workdir-root elsewhere";
        return error;
      }
    }
  }
  auto setup = linuxns::plan_sandbox_setup(spec, dir.path);
  if (!setup) {
    cleanup_workdir();
    CreateError error;
    error.kind = CreateError::Kind::kInvalidArgument;
    // "<field>: <what>" from the planner: the field becomes the JSON path.
    std::string text = setup.error().message();
    size_t colon = text.find(": ");
    error.field = text.substr(0, colon);
    error.message = colon == std::string::npos ? text : text.substr(colon + 2);
    return error;
  }
  launch.setup = std::move(*setup);
  launch.setup.landlock = is_available(find_feature(info_.features, "landlock"));
  bool host_network = spec.network == policy::NetworkMode::kHost;
  auto offered = [&](const char* name) { return is_available(find_feature(info_.features, name)); };
  // user, mount and pid are required (checked above); the others are taken
  // when offered, and only missing when the caller listed them optional.
  launch.namespace_flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID;
  if (offered("ipcNamespace")) launch.namespace_flags |= CLONE_NEWIPC;
  if (offered("utsNamespace")) launch.namespace_flags |= CLONE_NEWUTS;
  if (!host_network && offered("netNamespace")) launch.namespace_flags |= CLONE_NEWNET;
  launch.setup.own_network = (launch.namespace_flags & CLONE_NEWNET) != 0;
  launch.setup.seccomp = offered("seccomp");
  launch.setup.seccomp_report = launch.setup.seccomp && offered("violationReports.syscall");
  bool allowlist = spec.network == policy::NetworkMode::kAllowlist;
  if (allowlist) launch.setup.proxy_port = linuxns::LinuxSandbox::kProxyPort;
  // Entered by the init once it is in the sandbox's cgroup, so that the
  // cgroup paths it shows start at the sandbox's own.
  launch.setup.cgroup_namespace = offered("cgroupNamespace");

  auto made_cgroup = make_cgroup(spec, sandbox_id);
  if (auto* error = std::get_if<CreateError>(&made_cgroup)) {
    cleanup_workdir();
    return *error;
  }
  auto cgroup = std::move(std::get<std::unique_ptr<linuxns::Cgroup>>(made_cgroup));
  if (cgroup) {
    launch.before_start = [&cgroup](pid_t pid) -> std::string {
      auto added = cgroup->add_process(pid);
      return added ? "" : "joining the sandbox cgroup: " + added.error().message();
    };
  }
  auto started = linuxns::start_init(launch);
  if (auto* failure = std::get_if<linuxns::InitStartError>(&started)) {
    if (cgroup) cgroup->destroy();
    cleanup_workdir();
    CreateError error;
    error.message = "building the linux sandbox failed at " + failure->step + ": " + failure->message;
    error.fix = "see agentd's stderr; report it if the host looks fine";
    return error;
  }
  auto& init = std::get<linuxns::InitProcess>(started);
  auto ns = [&](const char* name, int flag, const std::string& how, const char* why_not) {
    return (launch.namespace_flags & flag) ? enforced(name, how) : unavailable(name, why_not);
  };
  std::vector<FeatureState> caps = {
      enforced("userNamespace", "root inside = uid " + std::to_string(launch.ids.outside_uid) + " outside"),
      enforced("mountNamespace", "clone(CLONE_NEWNS), all mounts private"),
      enforced("pidNamespace", "clone(CLONE_NEWPID), init is PID 1"),
      ns("ipcNamespace", CLONE_NEWIPC, "clone(CLONE_NEWIPC)", "not offered here; accepted as optional"),
      ns("utsNamespace", CLONE_NEWUTS, "clone(CLONE_NEWUTS), hostname " + launch.setup.hostname,
         "not offered here; accepted as optional"),
      ns("netNamespace", CLONE_NEWNET, "clone(CLONE_NEWNET)",
         host_network ? "network \"host\" was requested" : "not offered here; accepted as optional"),
  };
  for (const char* name : {"landlock", "seccomp", "cgroupNamespace"}) {
    bool confirmed = false;
    for (const auto& [f, m] : init.confirmed) confirmed = confirmed || f == name;
    if (!confirmed) caps.push_back(unavailable(name, "not offered by this kernel"));
  }
  for (const auto& [name, mechanism] : init.confirmed) caps.push_back(enforced(name, mechanism));
  if (!launch.setup.own_network) {
    caps.push_back(unavailable("network", host_network ? "network \"host\" was requested"
                                                       : "no network namespace; accepted as optional"));
  }
  caps.push_back(spec.protected_paths.empty()
                     ? not_requested("protectedPaths")
                     : enforced("protectedPaths",
                                "empty read-only tmpfs or /dev/null over each protected path that "
                                "exists under a visible path; .git/hooks bound read-only"));
  bool reports_syscalls = init.seccomp_listener.valid();
  caps.push_back(reports_syscalls
                     ? enforced("violationReports.syscall",
                                "seccomp user notification: agentd answers each denied syscall "
                                "with its errno and reports it")
                     : unavailable("violationReports.syscall",
                                   launch.setup.seccomp ? "the kernel or libseccomp lacks seccomp "
                                                          "user notification (Linux >= 5.0, "
                                                          "libseccomp >= 2.5)"
                                                        : "no seccomp filter"));
  for (auto& f : limit_features(spec, cgroup.get())) caps.push_back(std::move(f));
  if (cgroup) {
    for (auto& f : cgroup->features()) caps.push_back(std::move(f));
  } else {
    caps.push_back(unavailable("cgroups", "no cgroup could be created (see agentd's log); no freezer, "
                                          "no whole-sandbox usage"));
  }
  if (allowlist) {
    caps.push_back(enforced("networkAllowlist",
                            "own empty network namespace; egress only through agentd's proxy "
                            "(HTTP CONNECT, HTTP, SOCKS5) at 127.0.0.1:" +
                                std::to_string(linuxns::LinuxSandbox::kProxyPort) +
                                ", which resolves names itself and checks every address"));
    caps.push_back(enforced("violationReports.network", "the proxy's refusals"));
  }
  auto sandbox = std::make_unique<linuxns::LinuxSandbox>(io_, std::move(init), dir.path, std::move(dir.fd),
                                                         dir.created, std::move(caps), std::move(cgroup));
  sandbox->set_network(spec.network.value_or(policy::NetworkMode::kNone));
  if (allowlist) {
    auto rules = netproxy::parse_allowlist(spec.network_allow, spec.network_deny);
    if (!rules || !sandbox->start_proxy(std::make_shared<const netproxy::Allowlist>(std::move(*rules)))) {
      CreateError error;
      error.message = rules ? "the sandbox init made no proxy listener" : rules.error().message();
      error.fix = "see agentd's stderr";
      sandbox->destroy(/*keep_workdir=*/false);  // its destructor would keep the workdir
      return error;
    }
  }
  return std::unique_ptr<Sandbox>(std::move(sandbox));
}

}  // namespace agentd::sandbox
