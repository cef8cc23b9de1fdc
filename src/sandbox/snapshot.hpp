#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace agentd::sandbox {

// What a tree copy did.
struct CopyStats {
  uint64_t bytes = 0;  // sum of the regular files' sizes
  uint64_t files = 0;
  uint64_t cloned = 0;  // files shared by reflink (FICLONE) rather than copied
  std::string method() const { return files > 0 && cloned == files ? "reflink" : "copy"; }
};

// Copies the contents of directory `src_dir` into the existing directory
// `dst_dir` (both opened O_RDONLY | O_DIRECTORY). Never follows a symlink:
// each entry is opened O_NOFOLLOW relative to its parent's fd, symlinks are
// recreated as symlinks, so a sandbox racing the copy cannot redirect it.
// Regular files are reflinked where the filesystem allows, else copied.
// Modes and times are kept, setuid/setgid bits dropped; sockets and devices
// skipped. With `owner`, every created entry is chowned to it.
base::Result<CopyStats> copy_tree(int src_dir, int dst_dir,
                                  std::optional<std::pair<uid_t, gid_t>> owner = std::nullopt);

// Saved copies of sandbox workdirs, under `<root>/snapshots`. A snapshot is
// a full copy (or reflink), never a hard-link tree: hard links share the
// inode, so a sandbox writing into a restored file in place (open O_WRONLY,
// not replace) would change the snapshot and every other sandbox made from
// it. Each snapshot directory is registered with the Janitor, and all of
// them are removed when the store is destroyed (agentd exits).
class SnapshotStore {
 public:
  struct Snapshot {
    std::string id;
    std::string name;
    std::string sandbox_id;  // the sandbox it was taken from
    std::string path;        // host directory
    uint64_t size_bytes = 0;
    std::string method;  // reflink, copy
    std::chrono::system_clock::time_point created;
  };

  explicit SnapshotStore(std::string workdir_root);
  ~SnapshotStore();
  SnapshotStore(const SnapshotStore&) = delete;
  SnapshotStore& operator=(const SnapshotStore&) = delete;

  // Copies the workdir (a host path) into a new snapshot.
  base::Result<Snapshot> take(const std::string& workdir, const std::string& sandbox_id,
                              const std::string& name);
  // Replaces the workdir's contents by the snapshot's.
  base::Result<CopyStats> restore(const Snapshot& snapshot, const std::string& workdir);
  const Snapshot* find(const std::string& id) const;
  std::vector<const Snapshot*> list() const;
  bool remove(const std::string& id);

 private:
  std::string dir_;  // <root>/snapshots
  std::map<std::string, Snapshot> snapshots_;
  uint64_t next_ = 1;
};

}  // namespace agentd::sandbox
