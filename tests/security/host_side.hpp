#pragma once

// The host side of the attacks: things outside every sandbox that an attack
// tries to reach (a process, secrets, listening sockets), and scans of the
// host's /proc and cgroup trees to see what a sandbox left behind.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace agentd::security {

// A process on the host, outside every sandbox, running as the uid that is
// root inside the sandboxes (so that only the sandbox's namespaces and
// filters stand between them), dumpable, with a token in its memory.
class HostVictim {
 public:
  HostVictim();
  ~HostVictim();
  HostVictim(const HostVictim&) = delete;
  HostVictim& operator=(const HostVictim&) = delete;

  pid_t pid() const { return pid_; }
  bool alive() const;
  // Where the token lives in the victim (a global: same address after fork).
  static uintptr_t token_address();
  static std::string token();

 private:
  pid_t pid_ = -1;
};

// Secrets planted on the host: in a host temp dir, and beside the
// directory the sandboxes see (its parent must stay invisible).
struct HostSecrets {
  HostSecrets();
  ~HostSecrets();
  test_support::TempDir dir;  // a host temp dir (not bound anywhere)
  std::string token;          // the content of every planted secret
  std::string secret;         // dir/secret.txt
  std::string beside_attack;  // <parent of the attack dir>/agentd-secret-<pid>.txt
};

// Listening sockets on the host: TCP on 127.0.0.1, ::1 and 0.0.0.0, an
// abstract unix socket and a unix socket file. Nothing is accepted: a
// successful connect is the escape.
class HostListeners {
 public:
  explicit HostListeners(const std::string& socket_dir);
  ~HostListeners();
  int tcp4_port() const { return tcp4_port_; }
  int tcp6_port() const { return tcp6_port_; }
  int any_port() const { return any_port_; }
  const std::string& abstract_name() const { return abstract_name_; }
  const std::string& unix_path() const { return unix_path_; }
  // The first non-loopback IPv4 address of the host, if it has one.
  static std::optional<std::string> external_ipv4();

 private:
  std::vector<int> fds_;
  int tcp4_port_ = 0, tcp6_port_ = 0, any_port_ = 0;
  std::string abstract_name_, unix_path_;
};

// ---- scans of the host -------------------------------------------------------

// A process name (comm, at most 15 characters) no other test process uses:
// `prefix` (at most 7 characters) and this process's pid.
std::string unique_comm(const std::string& prefix);

// Host pids of live (non-zombie) processes whose comm is `comm`.
std::vector<pid_t> host_pids_with_comm(const std::string& comm);
// Whether a process named `comm` shows up in one of `scans` scans (a
// process that keeps replacing itself can slip through a single scan).
bool host_comm_seen(const std::string& comm, int scans = 200);
// Whether no process named `comm` shows up in any of `scans` scans.
bool host_comm_absent(const std::string& comm, int scans = 20);
// Host pids of live processes whose argv is exactly `argv`.
std::vector<pid_t> host_pids_with_argv(const std::vector<std::string>& argv);
// Live children of this process running agentd-sandbox-init (by argv).
std::vector<pid_t> sandbox_init_pids();
// Whether `pid` names a live (non-zombie) process.
bool host_process_alive(pid_t pid);
// The targets of /proc/<pid>/fd/*, by fd number ("" when unreadable).
std::vector<std::pair<int, std::string>> host_fds_of(pid_t pid);
// Directories named `name` whose parent is agentd-<our pid>, in every
// hierarchy under /sys/fs/cgroup.
std::vector<std::string> cgroup_dirs_named(const std::string& name);
// The mount points of this process's mount namespace.
std::vector<std::string> own_mount_points();

}  // namespace agentd::security
