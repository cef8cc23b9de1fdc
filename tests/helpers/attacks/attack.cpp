// attack: real attacks on a sandbox, one per subcommand, run inside a linux
// sandbox by tests/security. Each prints exactly one line
//
//   RESULT <verdict> errno=<NAME> detail=<free text>
//
// and exits with 0 (blocked, ok, done), 1 (escaped) or 2 (broken, usage).
// A crash, a kill or a missing RESULT line is therefore never a pass,
// unless the test expects exactly that kill (memory bomb -> memoryLimit).
//
//   attack help      lists the subcommands and their arguments
#include "attack.hpp"

#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace attack {

namespace {

[[noreturn]] void finish(const char* verdict, int err, const std::string& detail, int code) {
  std::string line =
      std::string("RESULT ") + verdict + " errno=" + errno_name(err) + " detail=" + detail + "\n";
  std::fflush(stdout);
  // One write(2), so the line is never interleaved with a child's output.
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDOUT_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += size_t(n);
  }
  ::_exit(code);
}

const std::vector<const std::vector<Command>*> kTables = {
    &filesystem_commands(), &process_commands(), &syscall_commands(), &network_commands(),
    &resource_commands()};

}  // namespace

void blocked(int err, const std::string& detail) { finish("blocked", err, detail, 0); }
void escaped(const std::string& detail, int err) { finish("escaped", err, detail, 1); }
void ok(const std::string& detail) { finish("ok", 0, detail, 0); }
void done(const std::string& detail) { finish("done", 0, detail, 0); }
void broken(const std::string& detail, int err) { finish("broken", err, detail, 2); }
void usage_error(const std::string& detail) { finish("usage", 0, detail, 2); }

std::string errno_name(int err) {
  if (err == 0) return "0";
  const char* name = ::strerrorname_np(err);
  return name ? name : std::to_string(err);
}

bool in_child_pid_namespace() {
  // The initial PID namespace has a fixed inode number (PROC_PID_INIT_INO).
  // NSpid cannot tell: a sandbox's own /proc shows only its own level.
  char link[64] = {};
  ssize_t n = ::readlink("/proc/self/ns/pid", link, sizeof link - 1);
  return n > 0 && std::string(link, size_t(n)) != "pid:[4026531836]";
}

void require_pid_namespace(const char* what) {
  if (!in_child_pid_namespace()) {
    usage_error(std::string("refusing to run ") + what +
                " outside a child PID namespace (it would hit the host)");
  }
}

unsigned long long parse_number(const std::string& text) {
  errno = 0;
  char* end = nullptr;
  unsigned long long value = std::strtoull(text.c_str(), &end, 0);
  if (text.empty() || errno != 0 || *end != '\0') usage_error("not a number: " + text);
  return value;
}

}  // namespace attack

int main(int argc, char** argv) {
  using namespace attack;
  std::string name = argc > 1 ? argv[1] : "help";
  Args args(argv + (argc > 1 ? 2 : 1), argv + argc);
  for (const auto* table : kTables) {
    for (const Command& command : *table) {
      if (name != command.name) continue;
      if (args.size() < command.min_args) {
        usage_error(std::string("usage: attack ") + command.name + " " + command.usage);
      }
      command.run(args);
      usage_error(std::string(command.name) + " returned without a verdict");
    }
  }
  if (name == "help") {
    for (const auto* table : kTables) {
      for (const Command& command : *table)
        std::printf("attack %s %s\n", command.name, command.usage);
    }
    return 0;
  }
  usage_error("unknown subcommand " + name + " (try: attack help)");
}
