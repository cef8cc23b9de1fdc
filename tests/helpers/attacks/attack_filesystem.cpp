// Filesystem attacks: reading host secrets, writing outside the writable
// roots, escaping by .., symlinks, hardlinks and /proc/<pid>/root, device
// nodes. Any failure to read or write counts as blocked (the errno says
// which layer refused); the test checks the errno where it matters.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "attack.hpp"

namespace attack {

namespace {

// Opens and reads up to 4 KiB; returns the errno of the first failure, or
// 0 with the bytes in `out`.
int try_read(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return errno;
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  int err = n < 0 ? errno : 0;
  ::close(fd);
  if (n >= 0) out.assign(buf, size_t(n));
  return err;
}

std::string printable_prefix(const std::string& bytes) {
  std::string out;
  for (char c : bytes.substr(0, 40)) out += (c >= 32 && c < 127) ? c : '.';
  return out;
}

// read-file PATH [EXPECT]: escaped when PATH can be read (and, with EXPECT,
// its content contains EXPECT).
void read_file(const Args& args) {
  std::string content;
  int err = try_read(args[0], content);
  if (err != 0) blocked(err, "open/read " + args[0]);
  if (args.size() > 1 && content.find(args[1]) == std::string::npos) {
    blocked(0, "read " + args[0] + " but it is not the planted file: " + printable_prefix(content));
  }
  escaped("read " + std::to_string(content.size()) + " bytes of " + args[0] + ": " +
          printable_prefix(content));
}

// list-dir PATH: escaped when the directory can be listed.
void list_dir(const Args& args) {
  DIR* dir = ::opendir(args[0].c_str());
  if (!dir) blocked(errno, "opendir " + args[0]);
  std::string names;
  int count = 0;
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (++count <= 8) names += name + ",";
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) blocked(err, "readdir " + args[0]);
  escaped("listed " + std::to_string(count) + " entries of " + args[0] + ": " + names);
}

// write-file PATH: escaped when PATH can be created or opened for writing
// and written. Creates no directories.
void write_file(const Args& args) {
  int fd = ::open(args[0].c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd < 0) blocked(errno, "open for writing " + args[0]);
  static const char kText[] = "agentd-attack-was-here\n";
  ssize_t n = ::write(fd, kText, sizeof kText - 1);
  int err = n < 0 ? errno : 0;
  ::close(fd);
  if (n < 0) blocked(err, "write " + args[0]);
  escaped("wrote " + std::to_string(n) + " bytes to " + args[0]);
}

// hardlink SRC DST: escaped when the link is made (DST then names SRC's inode).
void hardlink(const Args& args) {
  if (::link(args[0].c_str(), args[1].c_str()) != 0) {
    blocked(errno, "link " + args[0] + " -> " + args[1]);
  }
  std::string content;
  int err = try_read(args[1], content);
  escaped("hardlinked " + args[0] + " at " + args[1] +
          (err == 0 ? ", read: " + printable_prefix(content) : ", unreadable: " + errno_name(err)));
}

// symlink-read TARGET LINK: plants LINK -> TARGET, then reads through it.
void symlink_read(const Args& args) {
  ::unlink(args[1].c_str());
  if (::symlink(args[0].c_str(), args[1].c_str()) != 0) {
    usage_error("symlink " + args[1] + ": " + errno_name(errno));
  }
  std::string content;
  int err = try_read(args[1], content);
  ::unlink(args[1].c_str());
  if (err != 0) blocked(err, "read through " + args[1] + " -> " + args[0]);
  escaped("read " + args[0] + " through the symlink " + args[1] + ": " + printable_prefix(content));
}

// proc-root-escape PATH: PATH (absolute) through every /proc route to
// another root or cwd.
void proc_root_escape(const Args& args) {
  const std::string& path = args[0];
  const std::string routes[] = {"/proc/self/root", "/proc/1/root", "/proc/thread-self/root",
                                "/proc/1/cwd/../../../../../..",
                                "/proc/self/cwd/../../../../../.."};
  std::string tried;
  int last = 0;
  for (const std::string& route : routes) {
    std::string content;
    int err = try_read(route + path, content);
    if (err == 0) escaped("read " + route + path + ": " + printable_prefix(content));
    tried += route + path + "=" + errno_name(err) + " ";
    last = err;
  }
  blocked(last, tried);
}

// mknod PATH c|b MAJOR MINOR: escaped when the device node is created.
void make_node(const Args& args) {
  if (args[1] != "c" && args[1] != "b") usage_error("type must be c or b");
  mode_t type = args[1] == "c" ? S_IFCHR : S_IFBLK;
  dev_t dev = ::makedev(unsigned(parse_number(args[2])), unsigned(parse_number(args[3])));
  if (::mknod(args[0].c_str(), type | 0600, dev) != 0) blocked(errno, "mknod " + args[0]);
  std::string content;
  int err = try_read(args[0], content);
  ::unlink(args[0].c_str());
  escaped("created device node " + args[0] + " (open/read: " + errno_name(err) + ")");
}

// init-fds: the sandbox init's descriptors (its control channel, and
// whatever it inherited), through every /proc route. Listing the fd numbers
// is not an escape (the kernel allows it to the directory's owner); reading
// a link, opening one or reading the init's memory or environment is.
void init_fds(const Args&) {
  std::string tried = "fd numbers of pid 1: ";
  int last = 0;
  std::vector<std::string> fds;
  if (DIR* dir = ::opendir("/proc/1/fd")) {
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') fds.push_back(entry->d_name);
    }
    ::closedir(dir);
  } else {
    tried += errno_name(errno);
  }
  for (const auto& fd : fds) tried += fd + ",";
  tried += " ";
  if (fds.empty()) fds = {"0", "1", "2", "3"};
  for (const auto& fd : fds) {
    std::string path = "/proc/1/fd/" + fd;
    char target[256];
    ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
    if (n >= 0) escaped("readlink " + path + " = " + std::string(target, size_t(n)));
    last = errno;
    tried += "readlink(" + path + ")=" + errno_name(last) + " ";
    int opened = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (opened >= 0) escaped("opened " + path);
    last = errno;
    tried += "open=" + errno_name(last) + " ";
  }
  for (const char* path : {"/proc/1/environ", "/proc/1/mem", "/proc/1/maps"}) {
    std::string content;
    int err = try_read(path, content);
    if (err == 0) escaped(std::string("read ") + path + ": " + printable_prefix(content));
    tried += std::string(path) + "=" + errno_name(err) + " ";
    last = err;
  }
  blocked(last, tried);
}

}  // namespace

const std::vector<Command>& filesystem_commands() {
  static const std::vector<Command> commands = {
      {"read-file", "PATH [EXPECTED-CONTENT]", 1, read_file},
      {"list-dir", "PATH", 1, list_dir},
      {"write-file", "PATH", 1, write_file},
      {"hardlink", "SRC DST", 2, hardlink},
      {"symlink-read", "TARGET LINK", 2, symlink_read},
      {"proc-root-escape", "ABSOLUTE-PATH", 1, proc_root_escape},
      {"mknod", "PATH c|b MAJOR MINOR", 4, make_node},
      {"init-fds", "", 0, init_fds},
  };
  return commands;
}

}  // namespace attack
