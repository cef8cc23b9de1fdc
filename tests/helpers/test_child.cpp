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
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

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
// `detach` it is a grandchild whose parent exits at once. Returns once the
// pid file exists.
void start_sleeper(const char* file, bool detach) {
  int ready[2];
  if (::pipe(ready) != 0) ::_exit(3);
  pid_t middle = ::fork();
  if (middle < 0) ::_exit(3);
  if (middle == 0) {
    ::close(ready[0]);
    if (detach && ::fork() != 0) ::_exit(0);  // the middle process leaves
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
  std::fprintf(stderr, "usage: test_child fds|spin|grandchild FILE|orphan FILE\n");
  return 2;
}
