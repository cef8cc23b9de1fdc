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
// user could have planted. Checked on an fd opened without following a
// symlink, so what is checked is what gets chmod-ed.
std::optional<std::string> secure_root(const std::string& root) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return "open: " + std::string(std::strerror(errno)) + " (a symlink?)";
  struct stat st {};
  std::optional<std::string> problem;
  if (::fstat(fd, &st) != 0) {
    problem = "fstat: " + std::string(std::strerror(errno));
  } else if (st.st_uid != ::geteuid()) {
    problem = "it is owned by uid " + std::to_string(st.st_uid);
  } else if (::fchmod(fd, 0711) != 0) {  // others may traverse (a sandbox uid), not list
    problem = "chmod: " + std::string(std::strerror(errno));
  }
  ::close(fd);
  return problem;
}

std::variant<std::string, CreateError> make_workdir(const std::string& root,
                                                    const std::string& sandbox_id) {
  std::error_code ec;
  fs::create_directories(root, ec);
  auto problem = secure_root(root);
  if (problem) {
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
