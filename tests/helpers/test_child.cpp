// A tiny program the exec tests run as a child process, so that they can
// observe what a launched process sees and does without relying on the
// exact behaviour of shell utilities.
//
//   test_child fds               print the open fds, one per line (not the
//                                one used to list them)
//   test_child spin              burn cpu forever
//   test_child grandchild FILE   double-fork a grandchild that stays in the
//                                process group holding stdout, write its pid
//                                to FILE, print "ready", then sleep forever
//   test_child orphan FILE       fork a child that holds stdout, write its pid
//                                to FILE, then exit 0 while it keeps running
//   test_child escapee FILE      like grandchild, but the grandchild leaves
//                                the session (setsid) and ignores SIGTERM
//   test_child alloc MIB         allocate and touch MIB MiB, 1 MiB at a time;
//                                print "allocated" when all of it is resident
//   test_child forks N           fork up to N children that sleep; print
//                                "forked K errno E" (E: why fork K+1 failed,
//                                0 if none did), kill them and exit 0
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int list_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 2;
  int own = ::dirfd(dir);
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    if (std::atoi(entry->d_name) == own) continue;
    std::printf("%s\n", entry->d_name);
  }
  ::closedir(dir);
  return 0;
}

int spin() {
  volatile unsigned long counter = 0;
  for (;;) counter = counter + 1;
}

// Writes the pid atomically (rename), so a reader never sees half of it.
void write_pid_file(const char* path, pid_t pid) {
  std::string tmp = std::string(path) + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) ::_exit(3);
  std::fprintf(f, "%d\n", int(pid));
  std::fclose(f);
  if (std::rename(tmp.c_str(), path) != 0) ::_exit(3);
}

void sleep_forever() {
  for (;;) ::pause();
}

// Forks a process that writes its pid to `file` and sleeps forever; with
// `detach` it is a grandchild whose parent exits at once, and with `escape`
// that grandchild also leaves the session and ignores SIGTERM. Returns once
// the pid file exists.
void start_sleeper(const char* file, bool detach, bool escape = false) {
  int ready[2];
  if (::pipe(ready) != 0) ::_exit(3);
  pid_t middle = ::fork();
  if (middle < 0) ::_exit(3);
  if (middle == 0) {
    ::close(ready[0]);
    if (escape && ::setsid() < 0) ::_exit(3);
    if (detach && ::fork() != 0) ::_exit(0);  // the middle process leaves
    if (escape) ::signal(SIGTERM, SIG_IGN);
    write_pid_file(file, ::getpid());
    if (::write(ready[1], "x", 1) != 1) ::_exit(3);
    ::close(ready[1]);
    sleep_forever();
  }
  ::close(ready[1]);
  char c;
  if (::read(ready[0], &c, 1) != 1) ::_exit(4);
  ::close(ready[0]);
  if (detach) ::waitpid(middle, nullptr, 0);
}

int allocate(long mib) {
  constexpr size_t kMiB = 1 << 20;
  for (long i = 0; i < mib; ++i) {
    char* block = static_cast<char*>(std::malloc(kMiB));
    if (!block) return 1;
    std::memset(block, 1, kMiB);  // resident, not just reserved
  }
  std::printf("allocated\n");
  return 0;
}

int fork_many(long n) {
  std::vector<pid_t> children;
  int error = 0;
  while (long(children.size()) < n) {
    pid_t pid = ::fork();
    if (pid < 0) {
      error = errno;
      break;
    }
    if (pid == 0) sleep_forever();
    children.push_back(pid);
  }
  std::printf("forked %zu errno %d\n", children.size(), error);
  for (pid_t pid : children) ::kill(pid, SIGKILL);
  for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "fds") return list_fds();
  if (mode == "spin") return spin();
  if (mode == "grandchild" && argc > 2) {
    start_sleeper(argv[2], /*detach=*/true);
    std::printf("ready\n");
    std::fflush(stdout);
    sleep_forever();
  }
  if (mode == "orphan" && argc > 2) {
    start_sleeper(argv[2], /*detach=*/false);
    return 0;
  }
  if (mode == "escapee" && argc > 2) {
    start_sleeper(argv[2], /*detach=*/true, /*escape=*/true);
    std::printf("ready\n");
    std::fflush(stdout);
    sleep_forever();
  }
  if (mode == "alloc" && argc > 2) return allocate(std::atol(argv[2]));
  if (mode == "forks" && argc > 2) return fork_many(std::atol(argv[2]));
  std::fprintf(stderr,
               "usage: test_child fds|spin|grandchild FILE|orphan FILE|escapee FILE|"
               "alloc MIB|forks N\n");
  return 2;
}
