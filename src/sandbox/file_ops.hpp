#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace agentd::sandbox {

// The file methods (fs/read, fs/write, ...), implemented once on a root
// directory fd. Every path is resolved by the kernel with openat2 beneath
// that root; the last component of a path is never followed where following
// it would act on something else than the name (remove, move, stat, the
// target of a write), and files are created with O_NOFOLLOW | O_EXCL.
// Used by host-direct (root: the workdir) and by the sandbox init of a linux
// sandbox (root: the sandbox's own "/", so the operations see exactly what
// a process inside sees).

// Bytes one fs/read or fs/write moves at most.
inline constexpr uint64_t kMaxFileBytes = 16 * 1024 * 1024;
// Entries one fs/list returns at most (then `truncated`).
inline constexpr size_t kMaxListEntries = 10000;

// How the root confines resolution.
enum class Resolve {
  kBeneath,  // RESOLVE_BENEATH: `..` above the root or an absolute symlink fails (EXDEV)
  kInRoot,   // RESOLVE_IN_ROOT: the root is "/" for `..` and absolute symlinks (chroot-like);
             // a sandbox's view: procfs is refused (EACCES), /proc/self would be the init
};

struct FileRequest {
  std::string op;    // read, write, list, stat, remove, mkdir, move
  std::string path;  // relative to the root (kBeneath) or absolute inside it (kInRoot)
  std::string to;    // move: the destination
  uint64_t offset = 0;
  std::optional<uint64_t> length;
  std::string data;                      // write: the bytes
  std::string write_mode = "overwrite";  // create, overwrite, append
  bool create_parents = false;           // write
  bool parents = false;                  // mkdir
  bool recursive = false;                // remove
  bool overwrite = false;                // move
  std::optional<uint32_t> permissions;   // write: mode bits of the file
};

struct FileEntry {
  std::string name;
  std::string type;  // file, dir, symlink, other
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits (07777)
  int64_t mtime_ms = 0;
};

struct FileError {
  enum class Kind {
    kSystem,   // errno from the operation (ENOENT, EACCES, EROFS, ...)
    kEscape,   // the path leads out of the root (`..`, a symlink pointing out)
    kInvalid,  // the request itself is wrong (NUL byte, too large, the root itself)
  };
  Kind kind = Kind::kSystem;
  int err = 0;
  std::string field = "path";  // which parameter: path, to, data, length
  std::string message;
};

struct FileReply {
  std::optional<FileError> error;
  std::string data;   // read: the bytes
  uint64_t size = 0;  // read: size of the file
  bool eof = false;
  uint64_t bytes_written = 0;
  std::vector<FileEntry> entries;  // list
  bool truncated = false;          // list: more than kMaxListEntries
  FileEntry entry;                 // stat
};

// Runs one request against the directory `root_fd`.
FileReply run_file_op(int root_fd, Resolve resolve, const FileRequest& request);

// Removes everything inside the directory `dir_fd` (opened O_RDONLY),
// never following a symlink.
std::optional<FileError> remove_dir_contents(int dir_fd, const std::string& shown_path);

// Whether a relative path climbs above its start with `..` (lexically).
bool climbs_above(const std::string& relative);

// errno as its name ("ENOENT"), or "E<number>".
std::string errno_name(int err);

// The control-protocol form (linux sandboxes); bytes travel base64 encoded.
nlohmann::json file_request_to_json(const FileRequest& request);
FileRequest file_request_from_json(const nlohmann::json& body);  // throws json::exception
nlohmann::json file_reply_to_json(const FileReply& reply);
FileReply file_reply_from_json(const nlohmann::json& body);  // throws json::exception

}  // namespace agentd::sandbox
