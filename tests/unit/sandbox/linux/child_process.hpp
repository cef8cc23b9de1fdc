#pragma once

// Runs checks in a forked child, so that restrictions (seccomp, Landlock,
// dropped capabilities) never touch the test process itself.

#include <errno.h>
#include <sys/types.h>

#include <functional>
#include <string>

namespace agentd::test_support {

struct ChildReport {
  int wait_status = 0;
  std::string text;  // what the body returned: empty when every check passed

  bool skipped() const { return text.rfind("SKIP: ", 0) == 0; }
  bool exited_zero() const;
  std::string describe() const;  // "exited 0", "killed by signal 31", ...
};

// Forks; the child runs `body` and _exits. The body returns "" when all its
// checks passed, otherwise a description of the failures; a text starting
// with "SKIP: " asks the test to skip with that reason.
ChildReport run_in_child(const std::function<std::string()>& body);

// Waits for `pid` and returns its wait status (-1 on error).
int wait_for(pid_t pid);

// Collects failed checks inside a child. `what` is a plain C string so that
// nothing allocates between the call under test and the reading of errno.
class Checks {
 public:
  // rc must be -1 with errno == `err`.
  void fails_with(long rc, int err, const char* what);
  // rc must not be -1.
  void succeeds(long rc, const char* what);
  void expect(bool ok, const std::string& what);
  // Appends an earlier failure text (e.g. from a setup step).
  void add(const std::string& failure);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// Forks, runs argv[0] with argv and returns its exit status via wait_for.
int run_program(const char* path, const char* const argv[]);

// Runs `path` with `argv`, returns its stdout ("" on failure) and status.
std::string capture_program(const char* path, const char* const argv[], int* status);

// The value of `field` in /proc/self/status (e.g. "CapEff"), "" if absent.
std::string proc_status_field(const std::string& status_text, const std::string& field);

// Makes the calling (child) process uid/gid 0 of a new user namespace, mapped
// to its current ids. Returns "" or "SKIP: <reason>".
std::string enter_user_namespace();

}  // namespace agentd::test_support

// Runs the body (a lambda; variadic because its commas are not parenthesized)
// in a child; skips the test if the child asked to, else expects a clean exit
// with no failures.
#define AGENTD_EXPECT_CHILD_PASSES(...)                                            \
  do {                                                                             \
    auto agentd_report_ = ::agentd::test_support::run_in_child(__VA_ARGS__);       \
    if (agentd_report_.skipped()) GTEST_SKIP() << agentd_report_.text.substr(6);   \
    EXPECT_TRUE(agentd_report_.exited_zero()) << agentd_report_.describe() << "\n" \
                                              << agentd_report_.text;              \
    EXPECT_EQ(agentd_report_.text, "");                                            \
  } while (0)
