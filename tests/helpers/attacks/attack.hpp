#pragma once

// Shared by the subcommands of the `attack` program (see attack.cpp).
// Every subcommand ends the process through exactly one of the verdict
// functions below, which print the one machine-readable RESULT line.

#include <string>
#include <vector>

namespace attack {

using Args = std::vector<std::string>;

// The attack failed: the sandbox refused it with `err` (0: no errno). Exit 0.
[[noreturn]] void blocked(int err, const std::string& detail);
// The attack succeeded. Exit 1.
[[noreturn]] void escaped(const std::string& detail, int err = 0);
// A probe of something that must work inside (loopback, a health check). Exit 0.
[[noreturn]] void ok(const std::string& detail);
// An action whose effect the test judges from outside (kill -9 -1). Exit 0.
[[noreturn]] void done(const std::string& detail);
// A probe that must work did not (loopback broken). Exit 2.
[[noreturn]] void broken(const std::string& detail, int err = 0);
// Bad usage or a failed precondition: neither blocked nor escaped. Exit 2.
[[noreturn]] void usage_error(const std::string& detail);

// "EPERM", "ENOENT", ... ("0" for no error).
std::string errno_name(int err);

// Whether this process runs in a PID namespace other than the host's.
bool in_child_pid_namespace();
// Refuses to go on outside a child PID namespace: for attacks that would
// hurt the machine if run by mistake on the host (kill -9 -1, fork bombs).
void require_pid_namespace(const char* what);

// Parses a decimal or 0x-prefixed number; usage_error when it is not one.
unsigned long long parse_number(const std::string& text);

struct Command {
  const char* name;
  const char* usage;  // the arguments, for the help text
  size_t min_args;
  void (*run)(const Args& args);  // never returns
};

// One table per group of attacks.
const std::vector<Command>& filesystem_commands();
const std::vector<Command>& process_commands();
const std::vector<Command>& syscall_commands();
const std::vector<Command>& network_commands();
const std::vector<Command>& resource_commands();

}  // namespace attack
