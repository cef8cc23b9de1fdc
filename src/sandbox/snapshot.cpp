#include "sandbox/snapshot.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "base/unique_fd.hpp"
#include "sandbox/file_ops.hpp"
#include "sandbox/janitor.hpp"

namespace agentd::sandbox {

namespace {

using base::UniqueFd;
using Owner = std::optional<std::pair<uid_t, gid_t>>;

constexpr int kMaxDepth = 256;
// Permission bits kept: setuid/setgid are dropped, so a copy made by root
// never yields a privileged executable.
constexpr mode_t kKeptModeBits = 01777;

std::vector<std::string> entry_names(int dir) {
  std::vector<std::string> names;
  DIR* stream = ::fdopendir(::fcntl(dir, F_DUPFD_CLOEXEC, 3));
  if (!stream) return names;
  while (dirent* d = ::readdir(stream)) {
    std::string name = d->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(stream);
  return names;
}

// Reflink, else copy_file_range, else read/write. Returns whether cloned.
base::Result<bool> copy_contents(int src, int dst, const std::string& name) {
  if (::ioctl(dst, FICLONE, src) == 0) return true;
  off_t in_off = 0, out_off = 0;
  while (true) {
    ssize_t n = ::copy_file_range(src, &in_off, dst, &out_off, 1 << 30, 0);
    if (n == 0) return false;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
      return base::errno_error("copy_file_range(\"" + name + "\")");
    }
    break;  // copy the rest by hand
  }
  char buffer[65536];
  while (true) {
    ssize_t n = ::pread(src, buffer, sizeof buffer, in_off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::errno_error("read(\"" + name + "\")");
    if (n == 0) return false;
    ssize_t done = 0;
    while (done < n) {
      ssize_t w = ::pwrite(dst, buffer + done, size_t(n - done), out_off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return base::errno_error("write(\"" + name + "\")");
      done += w;
      out_off += w;
    }
    in_off += n;
  }
}

void finish_entry(int dst_dir, const std::string& name, const struct stat& st, const Owner& owner) {
  if (owner)
    (void)::fchownat(dst_dir, name.c_str(), owner->first, owner->second, AT_SYMLINK_NOFOLLOW);
  timespec times[2] = {st.st_atim, st.st_mtim};
  (void)::utimensat(dst_dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

base::Status copy_file(int src_dir, int dst_dir, const std::string& name, const Owner& owner,
                       CopyStats& stats) {
  // O_NOFOLLOW | O_NONBLOCK: a symlink or FIFO swapped in meanwhile is not
  // followed or waited on; the fstat below sees what was really opened.
  UniqueFd src(::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!src) return base::errno_error("open(\"" + name + "\")");
  struct stat st {};
  if (::fstat(src.get(), &st) != 0) return base::errno_error("fstat(\"" + name + "\")");
  if (!S_ISREG(st.st_mode)) return {};  // swapped meanwhile: skipped
  UniqueFd dst(::openat(dst_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        st.st_mode & 0777));
  if (!dst) return base::errno_error("create(\"" + name + "\")");
  auto cloned = copy_contents(src.get(), dst.get(), name);
  if (!cloned) return cloned.error();
  (void)::fchmod(dst.get(), st.st_mode & kKeptModeBits);
  stats.files++;
  stats.bytes += uint64_t(st.st_size);
  if (*cloned) stats.cloned++;
  finish_entry(dst_dir, name, st, owner);
  return {};
}

base::Status copy_dir(int src_dir, int dst_dir, const Owner& owner, CopyStats& stats, int depth);

base::Status copy_entry(int src_dir, int dst_dir, const std::string& name, const Owner& owner,
                        CopyStats& stats, int depth) {
  struct stat st {};
  if (::fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};  // gone
  if (S_ISREG(st.st_mode)) return copy_file(src_dir, dst_dir, name, owner, stats);
  if (S_ISLNK(st.st_mode)) {
    std::string target(4096, '\0');
    ssize_t n = ::readlinkat(src_dir, name.c_str(), target.data(), target.size());
    if (n < 0) return {};
    target.resize(size_t(n));
    if (::symlinkat(target.c_str(), dst_dir, name.c_str()) != 0) {
      return base::errno_error("symlink(\"" + name + "\")");
    }
    finish_entry(dst_dir, name, st, owner);
    return {};
  }
  if (S_ISFIFO(st.st_mode)) {
    if (::mkfifoat(dst_dir, name.c_str(), st.st_mode & 0777) != 0) {
      return base::errno_error("mkfifo(\"" + name + "\")");
    }
    finish_entry(dst_dir, name, st, owner);
    return {};
  }
  if (!S_ISDIR(st.st_mode)) return {};  // sockets, devices: not state worth keeping
  if (depth >= kMaxDepth) return base::plain_error("\"" + name + "\": directories nested too deep");
  UniqueFd src(::openat(src_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!src)
    return errno == ENOENT || errno == ENOTDIR ? base::Status()
                                               : base::errno_error("open(\"" + name + "\")");
  if (::mkdirat(dst_dir, name.c_str(), 0700) != 0)
    return base::errno_error("mkdir(\"" + name + "\")");
  UniqueFd dst(::openat(dst_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dst) return base::errno_error("open(\"" + name + "\")");
  if (auto s = copy_dir(src.get(), dst.get(), owner, stats, depth + 1); !s) return s;
  (void)::fchmod(dst.get(), st.st_mode & kKeptModeBits);
  finish_entry(dst_dir, name, st, owner);
  return {};
}

base::Status copy_dir(int src_dir, int dst_dir, const Owner& owner, CopyStats& stats, int depth) {
  for (const auto& name : entry_names(src_dir)) {
    if (auto s = copy_entry(src_dir, dst_dir, name, owner, stats, depth); !s) return s;
  }
  return {};
}

UniqueFd open_dir(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// Entries copied as root belong to the workdir's owner (the sandbox's uid).
Owner owner_of(int dir) {
  struct stat st {};
  if (::geteuid() != 0 || ::fstat(dir, &st) != 0) return std::nullopt;
  return std::make_pair(st.st_uid, st.st_gid);
}

}  // namespace

base::Result<CopyStats> copy_tree(int src_dir, int dst_dir, Owner owner) {
  CopyStats stats;
  if (auto s = copy_dir(src_dir, dst_dir, owner, stats, 0); !s) return s.error();
  return stats;
}

SnapshotStore::SnapshotStore(std::string workdir_root)
    : dir_(std::move(workdir_root) + "/snapshots") {}

SnapshotStore::~SnapshotStore() {
  while (!snapshots_.empty()) remove(snapshots_.begin()->first);
}

base::Result<SnapshotStore::Snapshot> SnapshotStore::take(const std::string& workdir,
                                                          const std::string& sandbox_id,
                                                          const std::string& name) {
  UniqueFd src = open_dir(workdir);
  if (!src) return base::errno_error("open(\"" + workdir + "\")");
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  // Like the workdir root: refuse a directory someone else planted (or a symlink).
  struct stat st {};
  if (::lstat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() ||
      ::chmod(dir_.c_str(), 0700) != 0) {
    return base::plain_error("the snapshot directory " + dir_ +
                             " is not a directory of agentd's own user (a symlink?)");
  }
  Snapshot snap;
  snap.id = "snap-" + std::to_string(next_++);
  std::string pattern = dir_ + "/" + snap.id + "-XXXXXX";
  if (ec || ::mkdtemp(pattern.data()) == nullptr) {
    return base::errno_error("mkdtemp(\"" + pattern + "\")", ec ? ec.value() : errno);
  }
  snap.path = pattern;
  Janitor::track_path(snap.path);  // gone even if agentd is SIGKILLed
  UniqueFd dst = open_dir(snap.path);
  auto copied = dst ? copy_tree(src.get(), dst.get(), owner_of(src.get()))
                    : base::Result<CopyStats>(base::errno_error("open(\"" + snap.path + "\")"));
  if (!copied) {
    std::filesystem::remove_all(snap.path, ec);
    Janitor::forget_path(snap.path);
    return copied.error();
  }
  snap.name = name.empty() ? snap.id : name;
  snap.sandbox_id = sandbox_id;
  snap.size_bytes = copied->bytes;
  snap.method = copied->method();
  snap.created = std::chrono::system_clock::now();
  snapshots_[snap.id] = snap;
  return snap;
}

base::Result<CopyStats> SnapshotStore::restore(const Snapshot& snapshot,
                                               const std::string& workdir) {
  UniqueFd dst = open_dir(workdir);
  if (!dst) return base::errno_error("open(\"" + workdir + "\")");
  UniqueFd src = open_dir(snapshot.path);
  if (!src) return base::errno_error("open(\"" + snapshot.path + "\")");
  if (auto e = remove_dir_contents(dst.get(), workdir)) return base::plain_error(e->message);
  return copy_tree(src.get(), dst.get(), owner_of(dst.get()));
}

const SnapshotStore::Snapshot* SnapshotStore::find(const std::string& id) const {
  auto it = snapshots_.find(id);
  return it == snapshots_.end() ? nullptr : &it->second;
}

std::vector<const SnapshotStore::Snapshot*> SnapshotStore::list() const {
  std::vector<const Snapshot*> out;
  for (const auto& [id, snap] : snapshots_) out.push_back(&snap);
  return out;
}

bool SnapshotStore::remove(const std::string& id) {
  auto it = snapshots_.find(id);
  if (it == snapshots_.end()) return false;
  std::error_code ec;
  std::filesystem::remove_all(it->second.path, ec);
  Janitor::forget_path(it->second.path);
  snapshots_.erase(it);
  return true;
}

}  // namespace agentd::sandbox
