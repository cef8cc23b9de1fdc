// File and /proc helpers for the cgroup module: small, blocking, no state.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <sstream>
#include <thread>

#include "base/unique_fd.hpp"
#include "sandbox/linux/cgroup_internal.hpp"

namespace agentd::sandbox::linuxns::cgroup_detail {

base::Result<std::string> read_text(const std::string& path) {
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return base::errno_error("open(\"" + path + "\")");
  std::string text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::errno_error("read(\"" + path + "\")");
    if (n == 0) return text;
    text.append(buffer, static_cast<size_t>(n));
  }
}

base::Status write_text(const std::string& path, std::string_view text) {
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return base::errno_error("open(\"" + path + "\", O_WRONLY)");
  ssize_t n;
  do {
    n = ::write(fd.get(), text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return base::errno_error("write(\"" + path + "\", \"" + std::string(text) + "\")");
  return {};
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::string_view trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\n");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t\n");
  return text.substr(begin, end - begin + 1);
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\n");
  if (begin == std::string_view::npos) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data() + begin, text.data() + text.size(), value);
  if (ec != std::errc()) return std::nullopt;
  if (end != text.data() + text.size() && *end != ' ' && *end != '\n') return std::nullopt;
  return value;
}

std::optional<uint64_t> keyed_u64(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      return parse_u64(line.substr(key.size() + 1));
    }
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
  return std::nullopt;
}

std::optional<uint64_t> read_u64(const std::string& path, std::string_view key) {
  auto text = read_text(path);
  if (!text) return std::nullopt;
  return key.empty() ? parse_u64(*text) : keyed_u64(*text, key);
}

std::vector<std::string> read_words(const std::string& path) {
  std::vector<std::string> words;
  if (auto text = read_text(path)) {
    std::istringstream in(*text);
    for (std::string word; in >> word;) words.push_back(word);
  }
  return words;
}

std::vector<std::string> child_dirs(const std::string& dir) {
  std::vector<std::string> names;
  DIR* stream = ::opendir(dir.c_str());
  if (stream == nullptr) return names;
  while (dirent* entry = ::readdir(stream)) {
    std::string name = entry->d_name;
    if (entry->d_type == DT_DIR && name != "." && name != "..") names.push_back(name);
  }
  ::closedir(stream);
  return names;
}

std::vector<pid_t> read_pids(const std::string& dir) {
  std::vector<pid_t> pids;
  if (auto text = read_text(dir + "/cgroup.procs")) {
    std::istringstream in(*text);
    for (pid_t pid; in >> pid;) pids.push_back(pid);
  }
  return pids;
}

std::vector<pid_t> read_pids_tree(const std::string& dir) {
  std::vector<pid_t> pids = read_pids(dir);
  for (const std::string& child : child_dirs(dir)) {
    std::vector<pid_t> below = read_pids_tree(dir + "/" + child);
    pids.insert(pids.end(), below.begin(), below.end());
  }
  return pids;
}

base::Status make_dir(const std::string& path, bool exist_ok) {
  if (::mkdir(path.c_str(), 0755) == 0) return {};
  if (errno == EEXIST && exist_ok) return {};
  return base::errno_error("mkdir(\"" + path + "\")");
}

base::Status remove_tree(const std::string& dir) {
  for (const std::string& child : child_dirs(dir)) {
    base::Status removed = remove_tree(dir + "/" + child);
    if (!removed) return removed;
  }
  int err = 0;
  wait_until(
      [&] {
        if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) {
          err = 0;
          return true;
        }
        err = errno;
        return err != EBUSY && err != EAGAIN;  // other errors do not go away by waiting
      },
      std::chrono::milliseconds(1000));
  if (err == 0) return {};
  return base::errno_error("rmdir(\"" + dir + "\")", err);
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

// ---- /proc parsing -----------------------------------------------------------

namespace {

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      int value = 0;
      auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 4, value, 8);
      if (ec == std::errc() && end == text.data() + i + 4) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

}  // namespace

std::vector<CgroupMount> parse_mountinfo(std::string_view text) {
  std::vector<CgroupMount> mounts;
  for (const std::string& line : split(text, '\n')) {
    // id parent major:minor root mount-point options [optional...] - fstype source super
    std::vector<std::string> fields = split(line, ' ');
    size_t dash = 6;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (dash + 3 >= fields.size()) continue;
    const std::string& fstype = fields[dash + 1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    mounts.push_back({unescape_octal(fields[3]), unescape_octal(fields[4]), fstype,
                      split(fields[dash + 3], ',')});
  }
  return mounts;
}

std::map<std::string, std::string> parse_proc_cgroup(std::string_view text) {
  std::map<std::string, std::string> paths;
  for (const std::string& line : split(text, '\n')) {
    // hierarchy-id:controller-list:path (the path may itself hold ':')
    size_t first = line.find(':');
    size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    std::string path = line.substr(second + 1);
    std::string list = line.substr(first + 1, second - first - 1);
    for (const std::string& controller : split(list, ',')) paths[controller] = path;
  }
  return paths;
}

std::vector<CgroupMount> read_cgroup_mounts() {
  auto text = read_text("/proc/self/mountinfo");
  return text ? parse_mountinfo(*text) : std::vector<CgroupMount>{};
}

std::map<std::string, std::string> read_own_cgroups() {
  auto text = read_text("/proc/self/cgroup");
  return text ? parse_proc_cgroup(*text) : std::map<std::string, std::string>{};
}

std::optional<std::string> own_dir_in(const CgroupMount& mount, const std::string& own_path) {
  std::string relative = own_path;
  if (mount.root != "/") {
    bool below = own_path == mount.root || own_path.rfind(mount.root + "/", 0) == 0;
    if (!below) return std::nullopt;
    relative = own_path.substr(mount.root.size());
  }
  if (relative == "/") relative.clear();
  return mount.mount_point + relative;
}

}  // namespace agentd::sandbox::linuxns::cgroup_detail
