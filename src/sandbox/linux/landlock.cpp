#include "sandbox/linux/landlock.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bit>

#include "base/unique_fd.hpp"

// The installed <linux/landlock.h> may predate the running kernel; these are
// the ABI's stable values (include/uapi/linux/landlock.h).
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)  // ABI 3
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)  // ABI 5
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)  // ABI 6
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)  // ABI 6
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

namespace agentd::sandbox::linuxns {
namespace {

// struct landlock_ruleset_attr as of ABI 6. Older headers declare only the
// first member; the kernel accepts this size as long as the fields it does not
// know are zero, so handled_access_net and scoped stay 0 below ABI 4 and 6.
struct RulesetAttr {
  uint64_t handled_access_fs = 0;
  uint64_t handled_access_net = 0;
  uint64_t scoped = 0;
};
static_assert(sizeof(RulesetAttr) == 24);

// struct landlock_path_beneath_attr (unchanged since ABI 1).
struct PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));
static_assert(sizeof(PathBeneathAttr) == sizeof(landlock_path_beneath_attr));

constexpr uint64_t kReadOnlyAccess =
    LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_EXECUTE;
constexpr uint64_t kDeviceAccess = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                   LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_TRUNCATE |
                                   LANDLOCK_ACCESS_FS_IOCTL_DEV;
// The rights that mean something on a file that is not a directory; the
// kernel refuses (EINVAL) a rule on such a file with any other right.
constexpr uint64_t kFileAccess = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |
                                 LANDLOCK_ACCESS_FS_IOCTL_DEV;

long create_ruleset(const RulesetAttr* attr, size_t size, uint32_t flags) {
  return ::syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

// Every filesystem right the given ABI knows.
uint64_t fs_rights_of_abi(int abi) {
  if (abi < 1) return 0;
  uint64_t rights = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;  // ABI 1: bits 0..12
  if (abi >= 2) rights |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
  if (abi >= 5) rights |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
  return rights;
}

uint64_t scopes_of(const LandlockRules& rules, int abi) {
  if (abi < 6) return 0;
  uint64_t scoped = 0;
  if (rules.scope_abstract_unix_sockets) scoped |= LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
  if (rules.scope_signals) scoped |= LANDLOCK_SCOPE_SIGNAL;
  return scoped;
}

std::string quoted(const std::string& path) { return "(\"" + path + "\")"; }

// Allows `access` beneath `path` (or on it, for a file). A missing path is
// skipped: rules name what the sandbox may use, not what must exist.
base::Status add_path_rule(int ruleset_fd, const std::string& path, uint64_t access) {
  base::UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    if (err == ENOENT) return {};
    return base::errno_error("landlock: open" + quoted(path), err);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    int err = errno;
    return base::errno_error("landlock: fstat" + quoted(path), err);
  }
  if (!S_ISDIR(st.st_mode)) access &= kFileAccess;
  if (access == 0) return {};
  PathBeneathAttr attr{access, fd.get()};
  if (::syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &attr, 0) != 0) {
    int err = errno;
    return base::errno_error("landlock_add_rule" + quoted(path), err);
  }
  return {};
}

base::Status add_rules(int ruleset_fd, const std::vector<std::string>& paths, uint64_t access) {
  for (const std::string& path : paths) {
    if (auto s = add_path_rule(ruleset_fd, path, access); !s) return s;
  }
  return {};
}

std::string summarize(const LandlockReport& report) {
  std::string text = "Landlock ABI " + std::to_string(report.abi) + ": " +
                     std::to_string(std::popcount(report.handled_fs)) +
                     " fs rights, network left to the network namespace (loopback TCP inside "
                     "the sandbox keeps working), scopes: ";
  if (report.scoped == 0) return text + (report.abi < 6 ? "none (ABI < 6)" : "none");
  if (report.scoped & LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET) text += "abstract-unix";
  if (report.scoped == (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL)) text += ", ";
  if (report.scoped & LANDLOCK_SCOPE_SIGNAL) text += "signal";
  return text;
}

}  // namespace

int landlock_abi() {
  long abi = create_ruleset(nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

base::Result<LandlockReport> apply_landlock(const LandlockRules& rules) {
  LandlockReport report;
  report.abi = landlock_abi();
  if (report.abi == 0) {
    int err = errno;
    return base::errno_error(
        "landlock_create_ruleset (kernel lacks Landlock, or it is not in the lsm= boot list)", err);
  }
  report.handled_fs = fs_rights_of_abi(report.abi);
  report.handled_net = 0;  // the network namespace confines the network
  report.scoped = scopes_of(rules, report.abi);

  RulesetAttr attr{report.handled_fs, report.handled_net, report.scoped};
  base::UniqueFd ruleset(static_cast<int>(create_ruleset(&attr, sizeof(attr), 0)));
  if (!ruleset) {
    int err = errno;
    return base::errno_error("landlock_create_ruleset", err);
  }

  const uint64_t handled = report.handled_fs;
  if (auto s = add_rules(ruleset.get(), rules.read_only, kReadOnlyAccess & handled); !s) {
    return s.error();
  }
  if (auto s = add_rules(ruleset.get(), rules.read_write, handled); !s) return s.error();
  if (auto s = add_rules(ruleset.get(), rules.devices, kDeviceAccess & handled); !s) {
    return s.error();
  }
  // Default logging (ABI 7 flags left at 0).
  if (::syscall(SYS_landlock_restrict_self, ruleset.get(), 0) != 0) {
    int err = errno;
    return base::errno_error(err == EPERM ? "landlock_restrict_self (no_new_privs is not set and "
                                            "the caller lacks CAP_SYS_ADMIN)"
                                          : "landlock_restrict_self",
                             err);
  }
  report.summary = summarize(report);
  return report;
}

}  // namespace agentd::sandbox::linuxns
