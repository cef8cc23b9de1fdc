#include "sandbox/file_ops.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "base/unique_fd.hpp"

namespace agentd::sandbox {

namespace {

using base::UniqueFd;

FileError system_error(int err, const std::string& what, const std::string& field = "path") {
  return FileError{FileError::Kind::kSystem, err, field, what + ": " + std::strerror(err)};
}

FileError invalid(const std::string& message, const std::string& field = "path", int err = EINVAL) {
  return FileError{FileError::Kind::kInvalid, err, field, message};
}

// An fd, or why there is none.
struct Opened {
  UniqueFd fd;
  std::optional<FileError> error;
};

// openat2 beneath (or in) the root; `..` and symlinks are followed by the
// kernel only as far as the root allows.
Opened open_in(int root, Resolve resolve, const std::string& path, int flags, mode_t mode = 0,
               const std::string& field = "path") {
  open_how how{};
  how.flags = uint64_t(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve =
      RESOLVE_NO_MAGICLINKS | (resolve == Resolve::kBeneath ? RESOLVE_BENEATH : RESOLVE_IN_ROOT);
  const std::string& p = path.empty() ? std::string(".") : path;
  long fd = -1;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fd = ::syscall(SYS_openat2, root, p.c_str(), &how, sizeof(how));
    if (fd >= 0 || errno != EAGAIN) break;  // EAGAIN: a concurrent rename, retry
  }
  if (fd >= 0) {
    // In a sandbox the operations run in its init: there /proc/self and
    // /proc/1 are the init itself, which no process of the sandbox may
    // read. procfs is left to execs.
    struct statfs sfs {};
    if (resolve == Resolve::kInRoot && ::fstatfs(int(fd), &sfs) == 0 &&
        sfs.f_type == PROC_SUPER_MAGIC) {
      ::close(int(fd));
      return {UniqueFd(), FileError{FileError::Kind::kSystem, EACCES, field,
                                    "\"" + path + "\" is on /proc, which the file methods do "
                                    "not serve in a linux sandbox (read it with an exec)"}};
    }
    return {UniqueFd(int(fd)), std::nullopt};
  }
  int err = errno;
  if (err == EXDEV) {
    return {UniqueFd(), FileError{FileError::Kind::kEscape, EXDEV, field,
                                  "\"" + path +
                                      "\" resolves outside the sandbox's root (.. or a "
                                      "symlink pointing out)"}};
  }
  return {UniqueFd(), system_error(err, "open(\"" + path + "\")", field)};
}

// A path split into its parent directory and its last component.
struct Split {
  std::string parent;
  std::string name;  // "" for the root itself
};

Split split(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path == "." ? "" : path};
  std::string parent = slash == 0 ? "/" : path.substr(0, slash);
  std::string name = path.substr(slash + 1);
  if (name == ".") name.clear();
  return {parent, name};
}

// The parent directory of `path`, open (O_PATH), plus the last component,
// which must name something (not the root, `.` or `..`).
struct Parent {
  UniqueFd dir;
  std::string name;
  std::optional<FileError> error;
};

Parent open_parent(int root, Resolve resolve, const std::string& path, const std::string& field) {
  Split s = split(path);
  if (s.name.empty() || s.name == "..") {
    return {UniqueFd(), "",
            invalid("\"" + path + "\" names the root or ends in .. ; name an entry", field)};
  }
  auto opened = open_in(root, resolve, s.parent, O_PATH | O_DIRECTORY, 0, field);
  if (opened.error) return {UniqueFd(), "", opened.error};
  return {std::move(opened.fd), s.name, std::nullopt};
}

// mkdir -p beneath the root: each missing component is made with mkdirat in
// its (kernel-resolved) parent, then reopened through the root.
std::optional<FileError> make_dirs(int root, Resolve resolve, const std::string& path,
                                   const std::string& field) {
  auto existing = open_in(root, resolve, path, O_PATH | O_DIRECTORY, 0, field);
  if (!existing.error) return std::nullopt;
  if (existing.error->kind != FileError::Kind::kSystem || existing.error->err != ENOENT) {
    return existing.error;
  }
  Split s = split(path);
  if (s.name.empty() || s.name == "..") return existing.error;
  if (auto e = make_dirs(root, resolve, s.parent, field)) return e;
  auto parent = open_in(root, resolve, s.parent, O_PATH | O_DIRECTORY, 0, field);
  if (parent.error) return parent.error;
  if (::mkdirat(parent.fd.get(), s.name.c_str(), 0777) != 0 && errno != EEXIST) {
    return system_error(errno, "mkdir(\"" + path + "\")", field);
  }
  auto made = open_in(root, resolve, path, O_PATH | O_DIRECTORY, 0, field);
  return made.error;
}

FileEntry entry_from_stat(const std::string& name, const struct stat& st) {
  FileEntry e;
  e.name = name;
  e.type = S_ISREG(st.st_mode)   ? "file"
           : S_ISDIR(st.st_mode) ? "dir"
           : S_ISLNK(st.st_mode) ? "symlink"
                                 : "other";
  e.size = uint64_t(st.st_size);
  e.mode = st.st_mode & 07777;
  e.mtime_ms = int64_t(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
  return e;
}

FileReply failed(FileError error) {
  FileReply reply;
  reply.error = std::move(error);
  return reply;
}

FileReply do_read(int root, Resolve resolve, const FileRequest& req) {
  uint64_t limit = req.length.value_or(kMaxFileBytes);
  if (limit > kMaxFileBytes) {
    return failed(invalid(
        "at most " + std::to_string(kMaxFileBytes) + " bytes per call; read in pieces with offset",
        "length"));
  }
  // O_NONBLOCK: opening a FIFO must not hang the server.
  auto file = open_in(root, resolve, req.path, O_RDONLY | O_NONBLOCK);
  if (file.error) return failed(*file.error);
  struct stat st {};
  if (::fstat(file.fd.get(), &st) != 0) return failed(system_error(errno, "fstat"));
  if (S_ISDIR(st.st_mode)) return failed(system_error(EISDIR, "read(\"" + req.path + "\")"));
  if (!S_ISREG(st.st_mode)) {
    return failed(invalid("\"" + req.path + "\" is not a regular file", "path", EINVAL));
  }
  FileReply reply;
  reply.size = uint64_t(st.st_size);
  reply.data.resize(limit);
  uint64_t got = 0;
  while (got < limit) {
    ssize_t n =
        ::pread(file.fd.get(), reply.data.data() + got, limit - got, off_t(req.offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(system_error(errno, "read(\"" + req.path + "\")"));
    if (n == 0) break;
    got += uint64_t(n);
  }
  reply.data.resize(got);
  reply.eof = got < limit || req.offset + got >= reply.size;
  return reply;
}

std::optional<FileError> write_all(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error(errno, "write(\"" + path + "\")");
    done += size_t(n);
  }
  return std::nullopt;
}

std::string temp_name(const std::string& name) {
  static std::mt19937_64 rng{std::random_device{}()};
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(rng()));
  return "." + name.substr(0, 200) + ".agentd-" + suffix;
}

// Overwrite: a temp file in the same directory, renamed over the name, so a
// reader sees the old or the new content, never a mix; a symlink at the name
// is replaced, not followed.
std::optional<FileError> write_atomic(int dir, const std::string& name, const FileRequest& req) {
  mode_t mode = 0666;
  struct stat old {};
  bool keep_mode = !req.permissions &&
                   ::fstatat(dir, name.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0 &&
                   S_ISREG(old.st_mode);
  std::string tmp = temp_name(name);
  UniqueFd fd(
      ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return system_error(errno, "create(\"" + req.path + "\")");
  auto fail = [&](FileError e) {
    ::unlinkat(dir, tmp.c_str(), 0);
    return std::optional<FileError>(std::move(e));
  };
  if (auto e = write_all(fd.get(), req.data, req.path)) return fail(*e);
  mode_t wanted = req.permissions ? mode_t(*req.permissions)
                  : keep_mode     ? (old.st_mode & 07777)
                                  : 0;
  if ((req.permissions || keep_mode) && ::fchmod(fd.get(), wanted) != 0) {
    return fail(system_error(errno, "chmod(\"" + req.path + "\")"));
  }
  if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
    return fail(system_error(errno, "rename over \"" + req.path + "\""));
  }
  return std::nullopt;
}

FileReply do_write(int root, Resolve resolve, const FileRequest& req) {
  if (req.data.size() > kMaxFileBytes) {
    return failed(invalid("at most " + std::to_string(kMaxFileBytes) +
                              " bytes per call; write the rest with mode \"append\"",
                          "data"));
  }
  if (req.create_parents) {
    if (auto e = make_dirs(root, resolve, split(req.path).parent, "path")) return failed(*e);
  }
  auto parent = open_parent(root, resolve, req.path, "path");
  if (parent.error) return failed(*parent.error);
  // The O_PATH parent cannot be written through: reopen it as a directory.
  auto dir = open_in(parent.dir.get(), Resolve::kBeneath, ".", O_RDONLY | O_DIRECTORY);
  if (dir.error) return failed(*dir.error);
  int d = dir.fd.get();
  const std::string& name = parent.name;
  if (req.write_mode == "overwrite") {
    if (auto e = write_atomic(d, name, req)) return failed(*e);
  } else {
    int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
                (req.write_mode == "create" ? O_EXCL : O_APPEND);
    UniqueFd fd(::openat(d, name.c_str(), flags, 0666));
    if (!fd) return failed(system_error(errno, "open(\"" + req.path + "\")"));
    if (auto e = write_all(fd.get(), req.data, req.path)) return failed(*e);
    if (req.permissions && ::fchmod(fd.get(), mode_t(*req.permissions)) != 0) {
      return failed(system_error(errno, "chmod(\"" + req.path + "\")"));
    }
  }
  FileReply reply;
  reply.bytes_written = req.data.size();
  return reply;
}

FileReply do_list(int root, Resolve resolve, const FileRequest& req) {
  auto dir = open_in(root, resolve, req.path, O_RDONLY | O_DIRECTORY);
  if (dir.error) return failed(*dir.error);
  int fd = dir.fd.get();
  DIR* stream = ::fdopendir(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!stream) return failed(system_error(errno, "opendir(\"" + req.path + "\")"));
  FileReply reply;
  while (dirent* d = ::readdir(stream)) {
    std::string name = d->d_name;
    if (name == "." || name == "..") continue;
    if (reply.entries.size() >= kMaxListEntries) {
      reply.truncated = true;
      break;
    }
    struct stat st {};
    if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    reply.entries.push_back(entry_from_stat(name, st));
  }
  ::closedir(stream);
  std::sort(reply.entries.begin(), reply.entries.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.name < b.name; });
  return reply;
}

FileReply do_stat(int root, Resolve resolve, const FileRequest& req) {
  Split s = split(req.path);
  struct stat st {};
  FileReply reply;
  if (s.name.empty() || s.name == "..") {  // the root or a `..`: a directory, followed
    auto dir = open_in(root, resolve, req.path, O_PATH);
    if (dir.error) return failed(*dir.error);
    if (::fstat(dir.fd.get(), &st) != 0) return failed(system_error(errno, "fstat"));
    reply.entry = entry_from_stat(s.name.empty() ? "/" : s.name, st);
    return reply;
  }
  auto parent = open_parent(root, resolve, req.path, "path");
  if (parent.error) return failed(*parent.error);
  if (::fstatat(parent.dir.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return failed(system_error(errno, "stat(\"" + req.path + "\")"));
  }
  reply.entry = entry_from_stat(parent.name, st);
  return reply;
}

// Removes everything inside the directory `dir` (never following symlinks:
// each subdirectory is opened with O_NOFOLLOW relative to its parent).
std::optional<FileError> empty_dir(int dir, const std::string& path, int depth) {
  if (depth > 256) return system_error(ELOOP, "remove(\"" + path + "\"): too deep");
  DIR* stream = ::fdopendir(::fcntl(dir, F_DUPFD_CLOEXEC, 3));
  if (!stream) return system_error(errno, "opendir(\"" + path + "\")");
  std::vector<std::string> names;
  while (dirent* d = ::readdir(stream)) {
    std::string name = d->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(stream);
  for (const auto& name : names) {
    if (::unlinkat(dir, name.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM)
      return system_error(errno, "remove(\"" + path + "/" + name + "\")");
    UniqueFd sub(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) return system_error(errno, "open(\"" + path + "/" + name + "\")");
    if (auto e = empty_dir(sub.get(), path + "/" + name, depth + 1)) return e;
    if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return system_error(errno, "rmdir(\"" + path + "/" + name + "\")");
    }
  }
  return std::nullopt;
}

FileReply do_remove(int root, Resolve resolve, const FileRequest& req) {
  auto parent = open_parent(root, resolve, req.path, "path");
  if (parent.error) return failed(*parent.error);
  auto dir = open_in(parent.dir.get(), Resolve::kBeneath, ".", O_RDONLY | O_DIRECTORY);
  if (dir.error) return failed(*dir.error);
  int d = dir.fd.get();
  const char* name = parent.name.c_str();
  struct stat st {};
  if (::fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return failed(system_error(errno, "remove(\"" + req.path + "\")"));
  }
  if (S_ISDIR(st.st_mode)) {
    if (req.recursive) {
      UniqueFd sub(::openat(d, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) return failed(system_error(errno, "open(\"" + req.path + "\")"));
      if (auto e = empty_dir(sub.get(), req.path, 0)) return failed(*e);
    }
    if (::unlinkat(d, name, AT_REMOVEDIR) != 0) {
      return failed(system_error(errno, "rmdir(\"" + req.path + "\")"));
    }
  } else if (::unlinkat(d, name, 0) != 0) {
    return failed(system_error(errno, "remove(\"" + req.path + "\")"));
  }
  return FileReply{};
}

FileReply do_mkdir(int root, Resolve resolve, const FileRequest& req) {
  if (req.parents) {
    if (auto e = make_dirs(root, resolve, req.path, "path")) return failed(*e);
    return FileReply{};
  }
  auto parent = open_parent(root, resolve, req.path, "path");
  if (parent.error) return failed(*parent.error);
  auto dir = open_in(parent.dir.get(), Resolve::kBeneath, ".", O_RDONLY | O_DIRECTORY);
  if (dir.error) return failed(*dir.error);
  if (::mkdirat(dir.fd.get(), parent.name.c_str(), 0777) != 0) {
    return failed(system_error(errno, "mkdir(\"" + req.path + "\")"));
  }
  return FileReply{};
}

FileReply do_move(int root, Resolve resolve, const FileRequest& req) {
  auto from = open_parent(root, resolve, req.path, "from");
  if (from.error) return failed(*from.error);
  auto to = open_parent(root, resolve, req.to, "to");
  if (to.error) return failed(*to.error);
  unsigned flags = req.overwrite ? 0 : RENAME_NOREPLACE;
  // renameat2 acts on the names themselves: a symlink moves as a symlink.
  if (::renameat2(from.dir.get(), from.name.c_str(), to.dir.get(), to.name.c_str(), flags) != 0) {
    int err = errno;
    return failed(system_error(err, "move(\"" + req.path + "\" -> \"" + req.to + "\")",
                               err == EEXIST ? "to" : "from"));
  }
  return FileReply{};
}

}  // namespace

std::optional<FileError> remove_dir_contents(int dir_fd, const std::string& shown_path) {
  return empty_dir(dir_fd, shown_path, 0);
}

bool climbs_above(const std::string& relative) {
  int depth = 0;
  size_t start = 0;
  while (start <= relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string::npos) end = relative.size();
    std::string part = relative.substr(start, end - start);
    if (part == "..") {
      if (--depth < 0) return true;
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    start = end + 1;
  }
  return false;
}

std::string errno_name(int err) {
  const char* name = ::strerrorname_np(err);
  return name ? name : "E" + std::to_string(err);
}

FileReply run_file_op(int root, Resolve resolve, const FileRequest& req) {
  for (const auto* p : {&req.path, &req.to}) {
    if (p->find('\0') != std::string::npos) {
      return failed(invalid("contains a NUL byte", p == &req.path ? "path" : "to"));
    }
  }
  if (req.op == "read") return do_read(root, resolve, req);
  if (req.op == "write") return do_write(root, resolve, req);
  if (req.op == "list") return do_list(root, resolve, req);
  if (req.op == "stat") return do_stat(root, resolve, req);
  if (req.op == "remove") return do_remove(root, resolve, req);
  if (req.op == "mkdir") return do_mkdir(root, resolve, req);
  if (req.op == "move") return do_move(root, resolve, req);
  return failed(invalid("unknown file operation \"" + req.op + "\"", "op"));
}

}  // namespace agentd::sandbox
