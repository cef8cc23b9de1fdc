// The three confinement steps together, in the order and the place the
// sandbox init uses them: uid 0 of a new user namespace, privileges first,
// then Landlock, then seccomp.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "child_process.hpp"
#include "sandbox/linux/capabilities.hpp"
#include "sandbox/linux/landlock.hpp"
#include "sandbox/linux/seccomp_filter.hpp"
#include "support/temp_dir.hpp"

namespace agentd::sandbox::linuxns {
namespace {

using test_support::Checks;
using test_support::proc_status_field;

std::string confine(const std::string& workdir) {
  if (auto e = test_support::enter_user_namespace(); !e.empty()) return e;
  if (auto s = drop_all_privileges(); !s) return "drop_all_privileges: " + s.error().message();
  if (landlock_abi() > 0) {
    LandlockRules rules;
    rules.read_only = {"/usr", "/bin", "/lib", "/lib64"};
    rules.read_write = {workdir};
    rules.devices = {"/dev/null"};
    if (auto r = apply_landlock(rules); !r) return "apply_landlock: " + r.error().message();
  }
  if (auto r = install_seccomp_filter({}); !r) {
    return "install_seccomp_filter: " + r.error().message();
  }
  return "";
}

std::string own_status() {
  std::ifstream in("/proc/self/status");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ConfineSequence, AsTheSandboxInitDoesIt) {
  test_support::TempDir workdir;
  AGENTD_EXPECT_CHILD_PASSES([&workdir] {
    if (auto e = confine(workdir.path()); !e.empty()) return e;
    Checks c;
    const std::string out = workdir / "out";
    const std::string script = "echo hi > " + out;
    const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
    int status = test_support::run_program("/bin/sh", argv);
    c.expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "/bin/sh -c 'echo hi > out' failed");
    c.expect(std::filesystem::exists(out), "the command wrote no file in the workdir");
    c.fails_with(::unshare(CLONE_NEWUSER), EPERM, "unshare(CLONE_NEWUSER)");
    if (landlock_abi() > 0) {
      long fd = ::open("/etc/passwd", O_RDONLY | O_CLOEXEC);
      c.fails_with(fd, EACCES, "open(/etc/passwd)");
    }
    return c.text();
  });
}

TEST(ConfineSequence, StatusShowsEveryLayer) {
  AGENTD_EXPECT_CHILD_PASSES([] {
    if (auto e = test_support::enter_user_namespace(); !e.empty()) return e;
    if (auto s = drop_all_privileges(); !s) return "drop_all_privileges: " + s.error().message();
    if (auto r = install_seccomp_filter({}); !r) return "install: " + r.error().message();
    const std::string status = own_status();
    Checks c;
    c.expect(proc_status_field(status, "Seccomp") == "2",
             "Seccomp = " + proc_status_field(status, "Seccomp"));
    c.expect(proc_status_field(status, "NoNewPrivs") == "1", "NoNewPrivs");
    c.expect(proc_status_field(status, "CapEff") == "0000000000000000", "CapEff");
    return c.text();
  });
}

}  // namespace
}  // namespace agentd::sandbox::linuxns
