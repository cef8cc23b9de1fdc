#include "sandbox/linux/process_tree.hpp"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace agentd::sandbox::linuxns {

std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(task_dir.c_str());
  if (!dir) return out;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream children(task_dir + "/" + entry->d_name + "/children");
    pid_t child;
    while (children >> child) out.push_back(child);
  }
  ::closedir(dir);
  return out;
}

char process_state(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');  // the command name may contain spaces
  return paren == std::string::npos || paren + 2 >= line.size() ? 0 : line[paren + 2];
}

bool is_zombie(pid_t pid) {
  char state = process_state(pid);
  return state == 0 || state == 'Z' || state == 'X';
}

std::vector<pid_t> descendants_of(pid_t leader) {
  std::vector<pid_t> all = children_of(leader);
  for (size_t i = 0; i < all.size(); ++i) {
    for (pid_t grandchild : children_of(all[i])) all.push_back(grandchild);
  }
  std::vector<pid_t> live;
  for (pid_t pid : all) {
    if (!is_zombie(pid)) live.push_back(pid);
  }
  return live;
}

namespace {

// The last number on the `key` line of /proc/<pid>/status; 0 when absent.
pid_t status_field(pid_t pid, const std::string& key) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::istringstream fields(line.substr(key.size()));
    pid_t last = 0, value;
    while (fields >> value) last = value;
    return last;
  }
  return 0;
}

}  // namespace

pid_t innermost_pid(pid_t pid) { return status_field(pid, "NSpid:"); }

pid_t parent_of(pid_t pid) { return status_field(pid, "PPid:"); }

SandboxView sandbox_view(pid_t host_pid, pid_t init_host_pid) {
  SandboxView view;
  view.pid = innermost_pid(host_pid);
  pid_t cursor = host_pid;
  for (int depth = 0; depth < 64; ++depth) {
    cursor = parent_of(cursor);
    if (cursor <= 0 || cursor == init_host_pid) break;
    view.ancestry.push_back(innermost_pid(cursor));
  }
  return view;
}

namespace {

// The inode of the TCP socket local_port -> remote_port in /proc/<pid>/net/tcp{,6}.
unsigned long tcp_socket_inode(pid_t netns_pid, uint16_t local_port, uint16_t remote_port) {
  for (const char* table : {"/net/tcp", "/net/tcp6"}) {
    std::ifstream lines("/proc/" + std::to_string(netns_pid) + table);
    std::string line;
    std::getline(lines, line);  // the header
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
      unsigned long inode = 0;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      auto port = [](const std::string& address) {
        size_t colon = address.rfind(':');
        return colon == std::string::npos ? 0ul : std::stoul(address.substr(colon + 1), nullptr, 16);
      };
      if (inode && port(local) == local_port && port(remote) == remote_port) return inode;
    }
  }
  return 0;
}

bool holds_socket(pid_t pid, const std::string& link) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* fds = ::opendir(dir.c_str());
  if (!fds) return false;
  bool found = false;
  char target[64];
  while (dirent* entry = ::readdir(fds)) {
    if (entry->d_name[0] == '.') continue;
    ssize_t n = ::readlinkat(::dirfd(fds), entry->d_name, target, sizeof target - 1);
    if (n > 0 && link.compare(0, link.size(), target, size_t(n)) == 0 && size_t(n) == link.size()) {
      found = true;
      break;
    }
  }
  ::closedir(fds);
  return found;
}

}  // namespace

pid_t tcp_socket_owner(pid_t netns_pid, const std::vector<pid_t>& candidates, uint16_t local_port,
                       uint16_t remote_port) {
  unsigned long inode = tcp_socket_inode(netns_pid, local_port, remote_port);
  if (!inode) return 0;
  const std::string link = "socket:[" + std::to_string(inode) + "]";
  for (pid_t pid : candidates) {
    if (holds_socket(pid, link)) return pid;
  }
  return 0;
}

}  // namespace agentd::sandbox::linuxns
