#include "sandbox/linux/setup_plan.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/linux/protected_paths.hpp"

namespace agentd::sandbox::linuxns {

using json = nlohmann::json;

namespace {

constexpr const char* kKindNames[] = {"bind", "tmpfs", "proc", "devpts", "symlink", "dir", "file"};

// System directories a command needs; merged-/usr systems have symlinks for
// the top-level ones, which are recreated as symlinks.
constexpr const char* kSystemDirs[] = {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"};

// Selected /etc entries: enough for the loader, name service, TLS, time
// zones and Debian alternatives. Never shadow, never the host's passwd.
constexpr const char* kEtcEntries[] = {
    "/etc/ld.so.cache",   "/etc/ld.so.conf", "/etc/ld.so.conf.d",  "/etc/nsswitch.conf",
    "/etc/localtime",     "/etc/timezone",   "/etc/ssl",           "/etc/ca-certificates",
    "/etc/alternatives",  "/etc/os-release", "/etc/debian_version", "/etc/protocols",
    "/etc/services",      "/etc/mime.types", "/etc/host.conf",     "/etc/gai.conf",
};

constexpr const char* kDeviceNodes[] = {"null", "zero", "full", "random", "urandom", "tty"};

MountStep bind(std::string source, std::string target, bool read_only, bool optional) {
  MountStep step;
  step.kind = MountStep::Kind::kBind;
  step.source = std::move(source);
  step.target = std::move(target);
  step.read_only = read_only;
  step.optional = optional;
  return step;
}

MountStep simple(MountStep::Kind kind, std::string target, std::string source = "", int mode = 0755) {
  MountStep step;
  step.kind = kind;
  step.target = std::move(target);
  step.source = std::move(source);
  step.mode = mode;
  return step;
}

MountStep tmpfs(std::string target, uint64_t size, int mode, bool read_only = false) {
  MountStep step = simple(MountStep::Kind::kTmpfs, std::move(target), "", mode);
  step.size_bytes = size;
  step.read_only = read_only;
  return step;
}

void plan_system(std::vector<MountStep>& steps) {
  for (const char* dir : kSystemDirs) {
    struct stat st {};
    if (::lstat(dir, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(dir, target, sizeof(target) - 1);
      if (n > 0) steps.push_back(simple(MountStep::Kind::kSymlink, dir, std::string(target, size_t(n))));
    } else if (S_ISDIR(st.st_mode)) {
      steps.push_back(bind(dir, dir, true, true));
    }
  }
}

void plan_etc(std::vector<MountStep>& steps, const SandboxSetup& setup, bool host_network) {
  steps.push_back(simple(MountStep::Kind::kDir, "/etc"));
  for (const char* entry : kEtcEntries) steps.push_back(bind(entry, entry, true, true));
  if (host_network) steps.push_back(bind("/etc/resolv.conf", "/etc/resolv.conf", true, true));
  steps.push_back(simple(MountStep::Kind::kFile, "/etc/passwd",
                         "root:x:0:0:root:" + setup.workdir + ":/bin/sh\n"
                         "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
                         0644));
  steps.push_back(simple(MountStep::Kind::kFile, "/etc/group", "root:x:0:\nnogroup:x:65534:\n", 0644));
  steps.push_back(simple(MountStep::Kind::kFile, "/etc/hosts",
                         "127.0.0.1 localhost\n::1 localhost\n127.0.1.1 " + setup.hostname + "\n",
                         0644));
}

void plan_dev(std::vector<MountStep>& steps) {
  steps.push_back(tmpfs("/dev", 1 << 20, 0755));
  for (const char* node : kDeviceNodes) {
    MountStep step = bind(std::string("/dev/") + node, std::string("/dev/") + node, false, true);
    step.devices = true;
    steps.push_back(step);
  }
  steps.push_back(simple(MountStep::Kind::kDevpts, "/dev/pts"));
  steps.push_back(simple(MountStep::Kind::kSymlink, "/dev/ptmx", "pts/ptmx"));
  steps.push_back(tmpfs("/dev/shm", 64 << 20, 01777));
  steps.push_back(simple(MountStep::Kind::kSymlink, "/dev/fd", "/proc/self/fd"));
  steps.push_back(simple(MountStep::Kind::kSymlink, "/dev/stdin", "/proc/self/fd/0"));
  steps.push_back(simple(MountStep::Kind::kSymlink, "/dev/stdout", "/proc/self/fd/1"));
  steps.push_back(simple(MountStep::Kind::kSymlink, "/dev/stderr", "/proc/self/fd/2"));
}

// Where a caller-given path may appear inside the sandbox: not over what the
// sandbox builds itself (its root, /proc, /dev, /workspace, the /tmp and /etc
// directories as a whole), but beneath /tmp or /etc is fine: those binds are
// made after the sandbox's own tmpfs and files.
base::Status check_target(const std::string& field, const std::string& path) {
  if (path.find("/..") != std::string::npos || path.find("/./") != std::string::npos) {
    return base::plain_error(field + ": \"" + path + "\" must be a normalized absolute path");
  }
  for (const char* reserved : {"/proc", "/dev", "/workspace", "/tmp", "/etc"}) {
    std::string r = reserved;
    bool beneath_allowed = r == "/tmp" || r == "/etc";
    if (path == r || (!beneath_allowed && path.rfind(r + "/", 0) == 0)) {
      return base::plain_error(field + ": \"" + path + "\" would cover " + r +
                               ", which the sandbox builds itself");
    }
  }
  if (path == "/") return base::plain_error(field + ": \"/\" would expose the whole host");
  return {};
}

base::Status check_caller_path(const std::string& field, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return base::errno_error(field + ": \"" + path + "\"");
  }
  return check_target(field, path);
}

std::vector<VisiblePath> visible_paths(const policy::SandboxSpec& spec,
                                       const std::string& host_workdir, const SandboxSetup& setup) {
  std::vector<VisiblePath> visible = {{"workdir", host_workdir, setup.workdir, true}};
  for (const auto& p : spec.read_only_paths) visible.push_back({"readOnlyPaths", p, p, false});
  for (const auto& p : spec.read_write_paths) visible.push_back({"readWritePaths", p, p, true});
  for (const auto& m : spec.mounts) visible.push_back({"mounts", m.source, m.target, !m.read_only});
  return visible;
}

}  // namespace

base::Result<SandboxSetup> plan_sandbox_setup(const policy::SandboxSpec& spec,
                                              const std::string& host_workdir) {
  SandboxSetup setup;
  bool host_network = spec.network == policy::NetworkMode::kHost;
  setup.own_network = !host_network;
  auto& steps = setup.mounts;
  plan_system(steps);
  plan_etc(steps, setup, host_network);
  steps.push_back(simple(MountStep::Kind::kProc, "/proc"));
  plan_dev(steps);
  steps.push_back(tmpfs("/tmp", 256ull << 20, 01777));
  steps.push_back(simple(MountStep::Kind::kDir, "/var"));
  // Relative, so that mount points planned beneath it stay inside the new root.
  steps.push_back(simple(MountStep::Kind::kSymlink, "/var/tmp", "../tmp"));
  steps.push_back(bind(host_workdir, setup.workdir, false, false));
  for (const auto& path : spec.read_only_paths) {
    if (auto ok = check_caller_path("readOnlyPaths", path); !ok) return ok.error();
    steps.push_back(bind(path, path, true, false));
  }
  for (const auto& path : spec.read_write_paths) {
    if (auto ok = check_caller_path("readWritePaths", path); !ok) return ok.error();
    steps.push_back(bind(path, path, false, false));
  }
  for (const auto& mount : spec.mounts) {
    if (struct stat st {}; ::stat(mount.source.c_str(), &st) != 0) {
      return base::errno_error("mounts: source \"" + mount.source + "\"");
    }
    if (auto ok = check_target("mounts", mount.target); !ok) return ok.error();
    steps.push_back(bind(mount.source, mount.target, mount.read_only, false));
    if (!mount.read_only) setup.landlock_rules.read_write.push_back(mount.target);
  }
  auto hidden = plan_protected_paths(spec.protected_paths, visible_paths(spec, host_workdir, setup));
  if (!hidden) return hidden.error();
  steps.insert(steps.end(), hidden->begin(), hidden->end());

  auto& rules = setup.landlock_rules;
  rules.read_only = {"/"};
  rules.read_write.insert(rules.read_write.end(), {setup.workdir, "/tmp", "/dev/shm"});
  for (const auto& path : spec.read_write_paths) rules.read_write.push_back(path);
  rules.devices = {"/dev"};
  return setup;
}

json to_json(const SandboxSetup& setup) {
  json mounts = json::array();
  for (const auto& step : setup.mounts) {
    mounts.push_back({{"kind", kKindNames[int(step.kind)]},
                      {"source", step.source},
                      {"target", step.target},
                      {"readOnly", step.read_only},
                      {"optional", step.optional},
                      {"devices", step.devices},
                      {"size", step.size_bytes},
                      {"mode", step.mode}});
  }
  const auto& rules = setup.landlock_rules;
  return {{"mounts", mounts},
          {"hostname", setup.hostname},
          {"workdir", setup.workdir},
          {"ownNetwork", setup.own_network},
          {"seccomp", setup.seccomp},
          {"seccompAllowInet", setup.seccomp_allow_inet},
          {"seccompReport", setup.seccomp_report},
          {"proxyPort", setup.proxy_port},
          {"cgroupNamespace", setup.cgroup_namespace},
          {"landlock", setup.landlock},
          {"landlockRules",
           {{"readOnly", rules.read_only},
            {"readWrite", rules.read_write},
            {"devices", rules.devices},
            {"scopeAbstractUnix", rules.scope_abstract_unix_sockets},
            {"scopeSignals", rules.scope_signals}}}};
}

base::Result<SandboxSetup> setup_from_json(const json& j) {
  try {
    SandboxSetup setup;
    for (const auto& m : j.at("mounts")) {
      MountStep step;
      std::string kind = m.at("kind").get<std::string>();
      int index = 0;
      while (index < 7 && kind != kKindNames[index]) ++index;
      if (index == 7) return base::plain_error("unknown mount kind " + kind);
      step.kind = MountStep::Kind(index);
      step.source = m.at("source").get<std::string>();
      step.target = m.at("target").get<std::string>();
      step.read_only = m.at("readOnly").get<bool>();
      step.optional = m.at("optional").get<bool>();
      step.devices = m.at("devices").get<bool>();
      step.size_bytes = m.at("size").get<uint64_t>();
      step.mode = m.at("mode").get<int>();
      setup.mounts.push_back(std::move(step));
    }
    setup.hostname = j.at("hostname").get<std::string>();
    setup.workdir = j.at("workdir").get<std::string>();
    setup.own_network = j.at("ownNetwork").get<bool>();
    setup.seccomp = j.at("seccomp").get<bool>();
    setup.seccomp_allow_inet = j.at("seccompAllowInet").get<bool>();
    setup.seccomp_report = j.at("seccompReport").get<bool>();
    setup.proxy_port = j.at("proxyPort").get<uint16_t>();
    setup.cgroup_namespace = j.at("cgroupNamespace").get<bool>();
    setup.landlock = j.at("landlock").get<bool>();
    const auto& r = j.at("landlockRules");
    auto& rules = setup.landlock_rules;
    rules.read_only = r.at("readOnly").get<std::vector<std::string>>();
    rules.read_write = r.at("readWrite").get<std::vector<std::string>>();
    rules.devices = r.at("devices").get<std::vector<std::string>>();
    rules.scope_abstract_unix_sockets = r.at("scopeAbstractUnix").get<bool>();
    rules.scope_signals = r.at("scopeSignals").get<bool>();
    return setup;
  } catch (const nlohmann::json::exception& e) {
    return base::plain_error(std::string("malformed sandbox setup: ") + e.what());
  }
}

}  // namespace agentd::sandbox::linuxns
