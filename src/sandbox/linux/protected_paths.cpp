#include "sandbox/linux/protected_paths.hpp"

#include <sys/stat.h>

#include <cstdlib>

namespace agentd::sandbox::linuxns {

namespace {

std::string trim_slash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The path with symlinks resolved, or the path itself when it cannot be.
std::string real_path(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (!resolved) return path;
  std::string out = resolved;
  std::free(resolved);
  return out;
}

// `path` equals `dir` or lies below it.
bool is_within(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

MountStep hide_step(const std::string& host_path, const std::string& target, bool is_dir) {
  MountStep step;
  step.target = target;
  step.read_only = true;
  if (is_dir) {
    step.kind = MountStep::Kind::kTmpfs;  // empty and read-only
    step.size_bytes = 4096;
    step.mode = 0555;
  } else {
    step.kind = MountStep::Kind::kBind;  // nodev: opening it fails
    step.source = "/dev/null";
  }
  return step;
}

MountStep read_only_bind(const std::string& source, const std::string& target) {
  MountStep step;
  step.kind = MountStep::Kind::kBind;
  step.source = source;
  step.target = target;
  step.read_only = true;
  return step;
}

// "*/x": x below every writable visible path, bound read-only over itself.
void plan_suffix(const std::string& suffix, const std::vector<VisiblePath>& visible,
                 std::vector<MountStep>& steps) {
  for (const auto& v : visible) {
    if (!v.writable) continue;
    std::string host = trim_slash(v.source) + suffix;
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    steps.push_back(read_only_bind(host, trim_slash(v.target) + suffix));
  }
}

}  // namespace

base::Result<std::vector<MountStep>> plan_protected_paths(
    const std::vector<std::string>& protected_paths, const std::vector<VisiblePath>& visible) {
  std::vector<MountStep> steps;
  for (const auto& entry : protected_paths) {
    if (entry.rfind("*/", 0) == 0) {
      plan_suffix(entry.substr(1), visible, steps);
      continue;
    }
    if (entry.empty() || entry[0] != '/') continue;
    std::string given = trim_slash(entry);
    for (const std::string& protected_path : {given, real_path(given)}) {
      struct stat st {};
      bool exists = ::lstat(protected_path.c_str(), &st) == 0;
      for (const auto& v : visible) {
        for (const std::string& source : {trim_slash(v.source), real_path(trim_slash(v.source))}) {
          if (is_within(source, protected_path)) {
            return base::plain_error(v.field + ": \"" + v.source +
                                     "\" is or lies inside the "
                                     "protected path \"" +
                                     protected_path +
                                     "\" (see profile/list; protected paths are set in agentd's "
                                     "config)");
          }
          if (!exists || S_ISLNK(st.st_mode) || !is_within(protected_path, source)) continue;
          if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) continue;
          std::string target = trim_slash(v.target) + protected_path.substr(source.size());
          bool planned = false;
          for (const auto& step : steps) planned = planned || step.target == target;
          if (!planned) steps.push_back(hide_step(protected_path, target, S_ISDIR(st.st_mode)));
        }
      }
    }
  }
  return steps;
}

}  // namespace agentd::sandbox::linuxns
