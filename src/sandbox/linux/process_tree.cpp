#include "sandbox/linux/process_tree.hpp"

#include <dirent.h>

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

}  // namespace agentd::sandbox::linuxns
