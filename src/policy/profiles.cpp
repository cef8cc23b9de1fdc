#include "policy/profiles.hpp"

#include <unistd.h>

namespace agentd::policy {

namespace {

constexpr uint64_t kMiB = 1ull << 20;

Profile strict_profile() {
  Profile p;
  p.name = "strict";
  p.isolation = Isolation::kLinux;
  p.limits.memory_bytes = 512 * kMiB;
  p.limits.max_processes = 64;
  p.limits.cpu_time_ms = 60'000;
  p.limits.wall_time_ms = 300'000;
  p.limits.max_output_bytes = 4 * kMiB;
  p.limits.max_open_files = 256;
  p.limits.max_file_size_bytes = 256 * kMiB;
  p.limits.cpu_millicores = 1000;
  p.allow_host_network = false;
  p.syscall_policy = "strict";
  return p;
}

Profile default_profile() {
  Profile p;
  p.name = "default";
  p.isolation = Isolation::kLinux;
  p.limits = default_limits();
  return p;
}

Profile permissive_profile() {
  Profile p;
  p.name = "permissive";
  p.isolation = Isolation::kLinux;
  p.limits.memory_bytes = 8192 * kMiB;
  p.limits.max_processes = 4096;
  p.limits.max_output_bytes = 256 * kMiB;
  p.limits.max_open_files = 8192;
  p.read_only_paths = {"/opt"};
  p.syscall_policy = "permissive";
  return p;
}

Profile workstation_profile() {
  Profile p;
  p.name = "workstation";
  p.isolation = Isolation::kNone;
  p.limits = default_limits();
  p.network = NetworkMode::kHost;  // host-direct shares the host network
  p.syscall_policy = "none";
  return p;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

std::vector<std::string> default_protected_paths() {
  return {"~/.ssh",
          "~/.gnupg",
          "~/.aws",
          "~/.config/gcloud",
          "~/.azure",
          "~/.kube",
          "~/.docker/config.json",
          "~/.netrc",
          "~/.bashrc",
          "~/.bash_profile",
          "~/.profile",
          "~/.zshrc",
          "~/.zprofile",
          "*/.git/hooks"};
}

std::vector<Profile> builtin_profiles() {
  std::vector<Profile> out = {strict_profile(), default_profile(), permissive_profile(),
                              workstation_profile()};
  for (auto& p : out) p.protected_paths = default_protected_paths();
  return out;
}

ProfileSet::ProfileSet() : profiles_(builtin_profiles()) {}

const Profile* ProfileSet::find(const std::string& name) const {
  for (const auto& p : profiles_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Profile* ProfileSet::find(const std::string& name) {
  return const_cast<Profile*>(static_cast<const ProfileSet*>(this)->find(name));
}

std::vector<std::string> ProfileSet::names() const {
  std::vector<std::string> out;
  for (const auto& p : profiles_) out.push_back(p.name);
  return out;
}

std::string expand_home(const std::string& path, const std::string& home) {
  if (path == "~") return home;
  if (path.rfind("~/", 0) == 0) return home + path.substr(1);
  return path;
}

std::optional<ProfileError> apply_profile(const ProfileSet& profiles, SandboxSpec& spec,
                                          const std::string& home) {
  std::string name = spec.profile;
  if (name.empty()) name = spec.isolation == Isolation::kNone ? "workstation" : "default";
  const Profile* profile = profiles.find(name);
  if (!profile) {
    std::string known;
    for (const auto& n : profiles.names()) known += (known.empty() ? "\"" : ", \"") + n + "\"";
    return ProfileError{"profile", "unknown profile \"" + name + "\"; known profiles: " + known +
                                       " (see profile/list)"};
  }
  const char* implied = isolation_name(profile->isolation);
  if (!spec.isolation_explicit && profile->isolation == Isolation::kNone) {
    return ProfileError{"isolation",
                        "is required with profile \"" + name +
                            "\": it runs commands directly on the host without isolation, which "
                            "is never chosen implicitly; say isolation \"none\" to accept that"};
  }
  if (spec.isolation_explicit && spec.isolation != profile->isolation) {
    return ProfileError{"isolation", std::string("\"") + isolation_name(spec.isolation) +
                                         "\" conflicts with profile \"" + name +
                                         "\", which is for isolation \"" + implied + "\""};
  }
  spec.isolation = profile->isolation;
  if (spec.network == NetworkMode::kHost && !profile->allow_host_network) {
    return ProfileError{"network", "\"host\" is not allowed by profile \"" + name +
                                       "\"; use profile \"default\" or \"permissive\" for an "
                                       "explicit \"host\""};
  }
  spec.limits = overlay(profile->limits, spec.limits);
  if (spec.read_only_paths.empty()) {
    for (const auto& path : profile->read_only_paths) {
      if (exists(path)) spec.read_only_paths.push_back(path);
    }
  }
  spec.protected_paths.clear();
  for (const auto& path : profile->protected_paths) {
    if (home.empty() && path.rfind("~", 0) == 0) continue;  // no $HOME: nothing to expand to
    spec.protected_paths.push_back(expand_home(path, home));
  }
  spec.profile = name;
  spec.profile_resolved = true;
  return std::nullopt;
}

}  // namespace agentd::policy
