#include "sandbox/workdir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

#include "sandbox/janitor.hpp"

namespace agentd::sandbox {

namespace fs = std::filesystem;

namespace {

// The root sits in a shared place (/tmp by default): refuse one that another
// user could have planted or could tamper with.
std::optional<std::string> unsafe_root(const std::string& root) {
  struct stat st {};
  if (::lstat(root.c_str(), &st) != 0) return "lstat: " + std::string(std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return "it is not a directory (a symlink?)";
  if (st.st_uid != ::geteuid()) return "it is owned by uid " + std::to_string(st.st_uid);
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return "it is writable by group or others";
  return std::nullopt;
}

std::variant<std::string, CreateError> make_workdir(const std::string& root,
                                                    const std::string& sandbox_id) {
  std::error_code ec;
  fs::create_directories(root, ec);
  ::chmod(root.c_str(), 0711);  // others may traverse (a sandbox uid), not list
  if (auto problem = unsafe_root(root)) {
    CreateError error;
    error.message = "the workdir root " + root + " is not safe to use: " + *problem;
    error.fix = "remove it, or start agentd with --workdir-root pointing at a private directory";
    return error;
  }
  std::string pattern = root + "/" + sandbox_id + "-XXXXXX";
  if (ec || ::mkdtemp(pattern.data()) == nullptr) {
    CreateError error;
    error.message = "creating the workdir under " + root + " failed: " +
                    (ec ? ec.message() : std::string(std::strerror(errno)));
    error.fix = "check that the directory is writable, or start agentd with --workdir-root";
    return error;
  }
  return pattern;  // mkdtemp creates it 0700
}

}  // namespace

std::variant<Workdir, CreateError> open_workdir(const policy::SandboxSpec& spec,
                                                const std::string& root,
                                                const std::string& sandbox_id) {
  Workdir dir;
  dir.created = !spec.workdir;
  if (spec.workdir) {
    dir.path = fs::weakly_canonical(*spec.workdir).string();
  } else {
    auto made = make_workdir(root, sandbox_id);
    if (auto* error = std::get_if<CreateError>(&made)) return *error;
    dir.path = std::get<std::string>(made);
    Janitor::track_path(dir.path);
  }
  dir.fd.reset(::open(dir.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.fd) {
    CreateError error;
    error.kind = CreateError::Kind::kInvalidArgument;
    error.field = "workdir";
    error.message = "workdir \"" + dir.path + "\": " + std::strerror(errno);
    error.fix = "give an existing directory, or omit workdir to get a fresh one";
    if (dir.created) remove_workdir(dir.path);
    return error;
  }
  return dir;
}

bool remove_workdir(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  Janitor::forget_path(path);
  return !ec;
}

std::string default_workdir_root() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && state[0] == '/') {
    return std::string(state) + "/agentd/sandboxes";
  }
  return "/tmp/agentd-" + std::to_string(::getuid());
}

}  // namespace agentd::sandbox
