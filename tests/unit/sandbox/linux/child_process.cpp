#include "child_process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <exception>

namespace agentd::test_support {
namespace {

std::string errno_name(int err) {
  const char* name = ::strerrorname_np(err);
  return name ? name : std::to_string(err);
}

void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string read_all(int fd) {
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return text;
    text.append(buf, static_cast<size_t>(n));
  }
}

bool write_file(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

}  // namespace

bool ChildReport::exited_zero() const {
  return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
}

std::string ChildReport::describe() const {
  if (wait_status == -1) return "wait failed";
  if (WIFEXITED(wait_status)) return "exited " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    return std::string("killed by signal ") + std::to_string(WTERMSIG(wait_status)) + " (" +
           ::strsignal(WTERMSIG(wait_status)) + ")";
  }
  return "status " + std::to_string(wait_status);
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

ChildReport run_in_child(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {-1, "pipe2 failed"};
  pid_t pid = ::fork();
  if (pid < 0) return {-1, "fork failed"};
  if (pid == 0) {
    ::close(fds[0]);
    std::string text;
    try {
      text = body();
    } catch (const std::exception& e) {
      text = std::string("exception: ") + e.what();
    }
    write_all(fds[1], text);
    ::_exit(0);
  }
  ::close(fds[1]);
  ChildReport report;
  report.text = read_all(fds[0]);
  ::close(fds[0]);
  report.wait_status = wait_for(pid);
  return report;
}

void Checks::fails_with(long rc, int err, const char* what) {
  const int got = errno;
  if (rc == -1 && got == err) return;
  text_ += std::string(what) + ": expected -1/" + errno_name(err) + ", got " + std::to_string(rc) +
           (rc == -1 ? "/" + errno_name(got) : std::string()) + "\n";
}

void Checks::succeeds(long rc, const char* what) {
  const int got = errno;
  if (rc != -1) return;
  text_ += std::string(what) + ": expected success, got -1/" + errno_name(got) + "\n";
}

void Checks::expect(bool ok, const std::string& what) {
  if (!ok) text_ += what + "\n";
}

void Checks::add(const std::string& failure) {
  if (!failure.empty()) text_ += failure + "\n";
}

int run_program(const char* path, const char* const argv[]) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::execv(path, const_cast<char* const*>(argv));
    ::_exit(127);
  }
  return wait_for(pid);
}

std::string capture_program(const char* path, const char* const argv[], int* status) {
  int fds[2];
  *status = -1;
  if (::pipe2(fds, O_CLOEXEC) != 0) return "";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::execv(path, const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out = pid > 0 ? read_all(fds[0]) : "";
  ::close(fds[0]);
  if (pid > 0) *status = wait_for(pid);
  return out;
}

std::string proc_status_field(const std::string& status_text, const std::string& field) {
  const std::string key = field + ":";
  size_t line = 0;
  while (line < status_text.size()) {
    size_t end = status_text.find('\n', line);
    if (end == std::string::npos) end = status_text.size();
    if (status_text.compare(line, key.size(), key) == 0) {
      size_t value = status_text.find_first_not_of(" \t", line + key.size());
      return value < end ? status_text.substr(value, end - value) : "";
    }
    line = end + 1;
  }
  return "";
}

std::string enter_user_namespace() {
  const uid_t uid = ::getuid();
  const gid_t gid = ::getgid();
  if (::unshare(CLONE_NEWUSER) != 0) {
    return std::string("SKIP: unshare(CLONE_NEWUSER): ") + ::strerror(errno);
  }
  if (!write_file("/proc/self/setgroups", "deny") ||
      !write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
      !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1")) {
    return std::string("writing the user namespace id maps failed: ") + ::strerror(errno);
  }
  return "";
}

}  // namespace agentd::test_support
