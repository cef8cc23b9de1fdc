#include "sandbox/linux/capabilities.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include "base/unique_fd.hpp"

namespace agentd::sandbox::linuxns {
namespace {

// uid 0 gains no capabilities on execve, uid changes do not touch the sets,
// ambient capabilities cannot be raised, and none of this can be undone.
constexpr unsigned long kLockedSecurebits =
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
    SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

std::string hex(unsigned long value) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[value % 16]);
    value /= 16;
  } while (value != 0);
  return "0x" + out;
}

// Callers read errno into `err` before building any string.
base::Status prctl_error(int err, const std::string& call) {
  return base::errno_error("prctl(" + call + ")", err);
}

// The highest capability number this kernel knows.
int last_capability() {
  base::UniqueFd fd(::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC));
  char buf[16] = {};
  if (fd && ::read(fd.get(), buf, sizeof(buf) - 1) > 0) {
    int last = std::atoi(buf);
    if (last > 0) return last;
  }
  // No /proc: probe the bounding set, which answers EINVAL past the last one.
  int last = 0;
  while (::prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0) ++last;
  return last;
}

base::Status set_no_new_privs() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) return {};
  int err = errno;
  return prctl_error(err, "PR_SET_NO_NEW_PRIVS, 1");
}

// Needs CAP_SETPCAP in the effective set, so it runs before the sets are emptied.
base::Status lock_securebits() {
  int current = ::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  if (current < 0) {
    int err = errno;
    return prctl_error(err, "PR_GET_SECUREBITS");
  }
  unsigned long wanted = static_cast<unsigned long>(current) | kLockedSecurebits;
  if (wanted == static_cast<unsigned long>(current)) return {};
  if (::prctl(PR_SET_SECUREBITS, wanted, 0, 0, 0) != 0) {
    int err = errno;
    return base::errno_error("prctl(PR_SET_SECUREBITS, " + hex(wanted) + ") (needs CAP_SETPCAP)",
                             err);
  }
  return {};
}

base::Status clear_ambient_set() {
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0) return {};
  int err = errno;
  if (err == EINVAL) return {};  // kernel < 4.3: no ambient set to clear
  return prctl_error(err, "PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL");
}

// Also needs CAP_SETPCAP; capabilities already out of the set are skipped.
base::Status drop_bounding_set(int last_cap) {
  for (int cap = 0; cap <= last_cap; ++cap) {
    int present = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (present < 0) {
      int err = errno;
      return prctl_error(err, "PR_CAPBSET_READ, " + std::to_string(cap));
    }
    if (present == 1 && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      int err = errno;
      return prctl_error(err, "PR_CAPBSET_DROP, " + std::to_string(cap));
    }
  }
  return {};
}

// Empties the effective, permitted and inheritable sets (which drops
// CAP_SETPCAP last; always allowed, as it only lowers).
base::Status clear_capability_sets() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capset, &header, data) != 0) {
    int err = errno;
    return base::errno_error("capset(all sets empty)", err);
  }
  return {};
}

// Reads everything back, so a kernel that silently ignored a step is caught.
base::Status verify_dropped(int last_cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) {
    int err = errno;
    return base::errno_error("capget", err);
  }
  for (const auto& d : data) {
    if (d.effective || d.permitted || d.inheritable) {
      return base::plain_error("capget: capabilities remain after capset");
    }
  }
  for (int cap = 0; cap <= last_cap; ++cap) {
    if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0) {
      return base::plain_error("prctl(PR_CAPBSET_READ, " + std::to_string(cap) +
                               "): still in the bounding set");
    }
  }
  if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
    return base::plain_error("prctl(PR_GET_NO_NEW_PRIVS): not set");
  }
  return {};
}

}  // namespace

base::Status drop_all_privileges() {
  const int last_cap = last_capability();
  if (auto s = set_no_new_privs(); !s) return s;
  // Order matters: securebits and the bounding set need CAP_SETPCAP, which
  // the capset below removes.
  if (auto s = lock_securebits(); !s) return s;
  if (auto s = clear_ambient_set(); !s) return s;
  if (auto s = drop_bounding_set(last_cap); !s) return s;
  if (auto s = clear_capability_sets(); !s) return s;  // privileges end here
  return verify_dropped(last_cap);
}

}  // namespace agentd::sandbox::linuxns
