#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/limits.hpp"
#include "policy/sandbox_spec.hpp"

namespace agentd::policy {

// A named starting point for sandbox/create: isolation, default limits,
// extra read-only paths, network rule, protected paths and syscall policy.
// Pure values; the request's explicit fields override them.
struct Profile {
  std::string name;
  Isolation isolation = Isolation::kLinux;
  Limits limits;
  std::vector<std::string>
      read_only_paths;  // extra host paths visible read-only (skipped if absent)
  // The network a sandbox gets when the request says nothing. Host
  // networking is never a default: a profile may only allow it on request.
  NetworkMode network = NetworkMode::kNone;
  bool allow_host_network = true;
  // Host paths hidden (or made read-only) inside a sandbox even when a parent
  // directory is visible; "~/" means agentd's $HOME. A "*/x" entry matches x
  // directly below every visible path (e.g. "*/.git/hooks").
  std::vector<std::string> protected_paths;
  std::string syscall_policy = "default";
  std::string source = "builtin";  // or "config"
};

// What the built-in profiles protect.
std::vector<std::string> default_protected_paths();

// strict, default, permissive, workstation.
std::vector<Profile> builtin_profiles();

// The profiles of one agentd run: the built-ins, possibly changed and
// extended by the config file.
class ProfileSet {
 public:
  ProfileSet();  // the built-ins
  const Profile* find(const std::string& name) const;
  Profile* find(const std::string& name);
  const std::vector<Profile>& all() const { return profiles_; }
  void add(Profile profile) { profiles_.push_back(std::move(profile)); }
  std::vector<std::string> names() const;

 private:
  std::vector<Profile> profiles_;
};

// A refusal of apply_profile: which request field is wrong and why.
struct ProfileError {
  std::string field;  // e.g. "profile", "isolation", "network"
  std::string message;
};

// Starts the spec from its profile (the named one, else "default" for linux
// and "workstation" for none) and keeps what the request gave explicitly.
// Host-direct is never implied: a "none" profile needs an explicit
// isolation "none". `home` expands "~/" in protected paths.
std::optional<ProfileError> apply_profile(const ProfileSet& profiles, SandboxSpec& spec,
                                          const std::string& home);

// "~/x" with `home`; other paths unchanged.
std::string expand_home(const std::string& path, const std::string& home);

}  // namespace agentd::policy
