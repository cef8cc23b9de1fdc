#include "sandbox/path_beneath.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace agentd::sandbox {

base::Result<std::string> relative_to_root(const std::string& root_path, const std::string& path) {
  if (path.find('\0') != std::string::npos) return base::plain_error("contains a NUL byte");
  if (path.empty() || path[0] != '/') return path.empty() ? std::string(".") : path;
  std::string root = root_path;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (path == root) return std::string(".");
  if (path.compare(0, root.size() + 1, root + "/") == 0) {
    std::string rest = path.substr(root.size() + 1);
    return rest.empty() ? std::string(".") : rest;
  }
  return base::plain_error("is outside the sandbox's workdir " + root);
}

base::Result<base::UniqueFd> open_beneath(int root_fd, const std::string& relative, int flags,
                                          int mode) {
  open_how how{};
  how.flags = uint64_t(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? uint64_t(mode) : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd;
  do {
    fd = ::syscall(SYS_openat2, root_fd, relative.c_str(), &how, sizeof(how));
  } while (fd < 0 && errno == EAGAIN);  // a concurrent rename: the kernel asks us to retry
  if (fd < 0) {
    int err = errno;
    if (err == EXDEV) return base::plain_error("resolves outside the sandbox (.. or a symlink)");
    if (err == ELOOP) return base::plain_error("passes through a symlink the sandbox may not follow");
    return base::errno_error("openat2(\"" + relative + "\")", err);
  }
  return base::UniqueFd(int(fd));
}

}  // namespace agentd::sandbox
