#include "host_side.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <grp.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "sandbox/linux/init_process.hpp"
#include "security_fixture.hpp"

namespace agentd::security {

namespace fs = std::filesystem;

namespace {

char g_victim_token[64] = "agentd-host-victim-memory-token";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_zombie(const std::string& pid) {
  std::string stat = read_text("/proc/" + pid + "/stat");
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z' ||
         stat[paren + 2] == 'X';
}

// Calls `fn(pid)` for every live process of the host.
template <typename Fn>
void for_each_process(Fn fn) {
  DIR* proc = ::opendir("/proc");
  if (!proc) return;
  while (dirent* entry = ::readdir(proc)) {
    std::string pid = entry->d_name;
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (is_zombie(pid)) continue;
    fn(pid);
  }
  ::closedir(proc);
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

int listen_on(int family, const char* address, int& port_out) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_storage storage{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&storage);
    a->sin_family = AF_INET;
    ::inet_pton(AF_INET, address, &a->sin_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&storage);
    a->sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, address, &a->sin6_addr);
    len = sizeof *a;
  }
  auto* addr = reinterpret_cast<sockaddr*>(&storage);
  if (::bind(fd, addr, len) != 0 || ::listen(fd, 16) != 0 || ::getsockname(fd, addr, &len) != 0) {
    ::close(fd);
    return -1;
  }
  port_out = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&storage)->sin_port
                                     : reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  return fd;
}

int listen_unix(const std::string& name, bool abstract) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + (abstract ? 1 : 0), name.data(), name.size());
  socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + name.size() + 1);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 16) != 0) {
    throw std::runtime_error("cannot listen on unix socket " + name + ": " + std::strerror(errno));
  }
  return fd;
}

}  // namespace

// ---- HostVictim ------------------------------------------------------------------

HostVictim::HostVictim() {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  uid_t uid = sandbox::linuxns::default_id_mapping().outside_uid;
  gid_t gid = sandbox::linuxns::default_id_mapping().outside_gid;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::close(ready[0]);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 ||
                            ::setresuid(uid, uid, uid) != 0)) {
      ::_exit(1);
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // cleared by the uid change
    ::prctl(PR_SET_DUMPABLE, 1);         // likewise
    ::prctl(PR_SET_NAME, "agentd-hostvict");
    volatile char* keep = g_victim_token;
    (void)keep;
    char ok = 1;
    if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char ok = 0;
  ssize_t n = ::read(ready[0], &ok, 1);
  ::close(ready[0]);
  if (pid_ < 0 || n != 1) throw std::runtime_error("the host victim did not start");
}

HostVictim::~HostVictim() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

bool HostVictim::alive() const {
  int status = 0;
  return ::waitpid(pid_, &status, WNOHANG) == 0 && ::kill(pid_, 0) == 0;
}

uintptr_t HostVictim::token_address() { return reinterpret_cast<uintptr_t>(g_victim_token); }
std::string HostVictim::token() { return g_victim_token; }

// ---- HostSecrets ------------------------------------------------------------------

HostSecrets::HostSecrets() {
  token = "agentd-planted-secret-" + std::to_string(::getpid());
  secret = dir / "secret.txt";
  std::ofstream(secret) << token << "\n";
  std::string parent = fs::path(attack_dir()).parent_path().string();
  beside_attack = parent + "/agentd-secret-" + std::to_string(::getpid()) + ".txt";
  std::ofstream(beside_attack) << token << "\n";
  // Readable by anyone: only the sandbox may keep the sandbox uid out.
  fs::permissions(dir.path(), fs::perms::all);
  fs::permissions(secret, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
}

HostSecrets::~HostSecrets() {
  std::error_code ignored;
  fs::remove(beside_attack, ignored);
}

// ---- HostListeners -----------------------------------------------------------------

HostListeners::HostListeners(const std::string& socket_dir) {
  fds_.push_back(listen_on(AF_INET, "127.0.0.1", tcp4_port_));
  int fd6 = listen_on(AF_INET6, "::1", tcp6_port_);
  if (fd6 >= 0) fds_.push_back(fd6);
  fds_.push_back(listen_on(AF_INET, "0.0.0.0", any_port_));
  abstract_name_ = "agentd-security-" + std::to_string(::getpid());
  fds_.push_back(listen_unix(abstract_name_, true));
  unix_path_ = socket_dir + "/host.sock";
  fds_.push_back(listen_unix(unix_path_, false));
  ::chmod(unix_path_.c_str(), 0777);
}

HostListeners::~HostListeners() {
  for (int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
}

std::optional<std::string> HostListeners::external_ipv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    if ((i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP)) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    found = text;
  }
  ::freeifaddrs(list);
  return found;
}

// ---- scans ----------------------------------------------------------------------------

std::vector<pid_t> host_pids_with_comm(const std::string& comm) {
  std::vector<pid_t> out;
  for_each_process([&](const std::string& pid) {
    if (trimmed(read_text("/proc/" + pid + "/comm")) == comm) out.push_back(std::stoi(pid));
  });
  return out;
}

std::string unique_comm(const std::string& prefix) {
  return prefix.substr(0, 7) + "-" + std::to_string(::getpid());
}

bool host_comm_seen(const std::string& comm, int scans) {
  for (int i = 0; i < scans; ++i) {
    if (!host_pids_with_comm(comm).empty()) return true;
    ::usleep(1000);
  }
  return false;
}

bool host_comm_absent(const std::string& comm, int scans) {
  for (int i = 0; i < scans; ++i) {
    if (!host_pids_with_comm(comm).empty()) return false;
    ::usleep(1000);
  }
  return true;
}

std::vector<pid_t> host_pids_with_argv(const std::vector<std::string>& argv) {
  std::string want;
  for (const auto& a : argv) want += a + '\0';
  std::vector<pid_t> out;
  for_each_process([&](const std::string& pid) {
    if (read_text("/proc/" + pid + "/cmdline") == want) out.push_back(std::stoi(pid));
  });
  return out;
}

std::vector<pid_t> sandbox_init_pids() {
  std::vector<pid_t> out;
  std::string self = std::to_string(::getpid());
  for (pid_t pid : host_pids_with_argv({"agentd-sandbox-init"})) {
    std::string status = read_text("/proc/" + std::to_string(pid) + "/status");
    if (status.find("\nPPid:\t" + self + "\n") != std::string::npos) out.push_back(pid);
  }
  return out;
}

bool host_process_alive(pid_t pid) {
  std::string p = std::to_string(pid);
  return fs::exists("/proc/" + p) && !is_zombie(p);
}

std::vector<std::pair<int, std::string>> host_fds_of(pid_t pid) {
  std::vector<std::pair<int, std::string>> out;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::error_code link_ec;
    auto target = fs::read_symlink(entry.path(), link_ec);
    out.emplace_back(std::stoi(entry.path().filename().string()), link_ec ? "" : target.string());
  }
  return out;
}

std::vector<std::string> cgroup_dirs_named(const std::string& name) {
  std::vector<std::string> out;
  std::string parent = "agentd-" + std::to_string(::getpid());
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(
           "/sys/fs/cgroup", fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
    const fs::path& path = it->path();
    if (path.filename() == name && path.parent_path().filename() == parent) out.push_back(path);
  }
  return out;
}

std::vector<std::string> own_mount_points() {
  std::vector<std::string> out;
  std::istringstream lines(read_text("/proc/self/mountinfo"));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    out.push_back(point);
  }
  return out;
}

}  // namespace agentd::security
