#include "sandbox/linux/capabilities.hpp"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>

#include "child_process.hpp"
#include "support/temp_dir.hpp"

namespace agentd::sandbox::linuxns {
namespace {

namespace fs = std::filesystem;
using test_support::Checks;
using test_support::proc_status_field;

constexpr unsigned long kExpectedSecurebits =
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
    SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
constexpr uid_t kNobody = 65534;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool capget_all(__user_cap_data_struct (&data)[_LINUX_CAPABILITY_U32S_3]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return ::syscall(SYS_capget, &header, data) == 0;
}

bool has_effective_cap(int cap) {
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  return capget_all(data) && (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

// Every capability set in a /proc/<pid>/status text is empty and
// no_new_privs is set.
void expect_nothing_left(const std::string& status, Checks& c) {
  for (const char* field : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    const std::string value = proc_status_field(status, field);
    c.expect(value == "0000000000000000", std::string(field) + " = " + value);
  }
  c.expect(proc_status_field(status, "NoNewPrivs") == "1",
           "NoNewPrivs = " + proc_status_field(status, "NoNewPrivs"));
}

// Where the privileges are dropped: as this process is (host root in CI
// containers), or as uid 0 of a new user namespace (as in a sandbox).
enum class Where { kAsIs, kUserNamespace };
void PrintTo(Where where, std::ostream* os) {
  *os << (where == Where::kAsIs ? "as is" : "in a user namespace");
}

// Puts the child where the test asks; "" or a failure / "SKIP: " text.
std::string prepare(Where where) {
  if (where == Where::kUserNamespace) return test_support::enter_user_namespace();
  if (!has_effective_cap(CAP_SETPCAP)) {
    return "SKIP: needs CAP_SETPCAP (run as root); the user namespace variant covers the rest";
  }
  return "";
}

std::string drop() {
  auto dropped = drop_all_privileges();
  return dropped ? "" : "drop_all_privileges: " + dropped.error().message();
}

class DropAllPrivileges : public ::testing::TestWithParam<Where> {};

TEST_P(DropAllPrivileges, EmptiesEveryCapabilitySetAndLocksSecurebits) {
  AGENTD_EXPECT_CHILD_PASSES([where = GetParam()] {
    if (auto e = prepare(where); !e.empty()) return e;
    if (auto e = drop(); !e.empty()) return e;
    Checks c;
    expect_nothing_left(read_file("/proc/self/status"), c);
    long bits = ::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    c.expect(bits >= 0 &&
                 (static_cast<unsigned long>(bits) & kExpectedSecurebits) == kExpectedSecurebits,
             "securebits = " + std::to_string(bits));
    return c.text();
  });
}

TEST_P(DropAllPrivileges, ExecveRegainsNothing) {
  AGENTD_EXPECT_CHILD_PASSES([where = GetParam()] {
    if (auto e = prepare(where); !e.empty()) return e;
    if (auto e = drop(); !e.empty()) return e;
    Checks c;
    int status = -1;
    const char* argv[] = {"/bin/cat", "/proc/self/status", nullptr};
    const std::string text = test_support::capture_program("/bin/cat", argv, &status);
    c.expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "/bin/cat failed");
    expect_nothing_left(text, c);
    c.expect(proc_status_field(text, "Uid").rfind(std::to_string(::getuid()), 0) == 0,
             "Uid = " + proc_status_field(text, "Uid"));
    return c.text();
  });
}

TEST_P(DropAllPrivileges, CannotBeUndoneAndIsIdempotent) {
  AGENTD_EXPECT_CHILD_PASSES([where = GetParam()] {
    if (auto e = prepare(where); !e.empty()) return e;
    if (auto e = drop(); !e.empty()) return e;
    Checks c;
    c.fails_with(::prctl(PR_SET_SECUREBITS, 0, 0, 0, 0), EPERM, "prctl(PR_SET_SECUREBITS, 0)");
    c.fails_with(::prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL, "prctl(PR_SET_NO_NEW_PRIVS, 0)");
    c.fails_with(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0), EPERM,
                 "prctl(PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN)");
    c.fails_with(::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), EPERM, "prctl(PR_SET_KEEPCAPS, 1)");
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    data[0].effective = data[0].permitted = 1u << CAP_SYS_ADMIN;
    c.fails_with(::syscall(SYS_capset, &header, data), EPERM, "capset(CAP_SYS_ADMIN)");
    if (where == Where::kAsIs) c.fails_with(::setuid(12345), EPERM, "setuid(12345)");
    c.add(drop());  // a second call finds nothing left to do and succeeds
    return c.text();
  });
}

INSTANTIATE_TEST_SUITE_P(Confine, DropAllPrivileges,
                         ::testing::Values(Where::kAsIs, Where::kUserNamespace),
                         [](const auto& info) {
                           return info.param == Where::kAsIs ? "AsIs" : "InUserNamespace";
                         });

TEST(DropAllPrivilegesErrors, WithoutCapSetpcapTheStepIsNamed) {
  AGENTD_EXPECT_CHILD_PASSES([] {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capset, &header, data) != 0) return std::string("capset failed");
    long bits = ::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    if ((static_cast<unsigned long>(bits) & kExpectedSecurebits) == kExpectedSecurebits) {
      return std::string("SKIP: securebits already locked");
    }
    auto dropped = drop_all_privileges();
    if (dropped) return std::string("drop_all_privileges succeeded without CAP_SETPCAP");
    Checks c;
    const std::string message = dropped.error().message();
    c.expect(message.find("PR_SET_SECUREBITS") != std::string::npos, "message: " + message);
    c.expect(dropped.error().code.value() == EPERM, "code: " + dropped.error().code.message());
    return c.text();
  });
}

// Becomes nobody while keeping the capabilities (so they can be dropped the
// proper way afterwards): "" or a failure text.
std::string become_nobody_keeping_caps() {
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return "prctl(PR_SET_KEEPCAPS) failed";
  if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
      ::setresuid(kNobody, kNobody, kNobody) != 0) {
    return "becoming nobody failed";
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (!capget_all(data)) return "capget failed";
  for (auto& d : data) d.effective = d.permitted;
  if (::syscall(SYS_capset, &header, data) != 0) return "capset failed";
  return "";
}

// Runs the setuid-root copy of id(1) as nobody; returns its output.
std::string setuid_id_output(const std::string& id_path, bool drop_first) {
  if (auto e = become_nobody_keeping_caps(); !e.empty()) return e;
  if (drop_first) {
    if (auto e = drop(); !e.empty()) return e;
  }
  int status = -1;
  const char* argv[] = {id_path.c_str(), "-u", nullptr};
  std::string out = test_support::capture_program(id_path.c_str(), argv, &status);
  return out.empty() ? "id produced no output" : out;
}

TEST(DropAllPrivilegesSetuid, SetuidRootBinaryGainsNoRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create a setuid-root binary";
  test_support::TempDir dir;
  const std::string id_path = dir / "id";
  fs::copy_file("/usr/bin/id", id_path);
  ASSERT_EQ(::chmod(id_path.c_str(), 04755), 0);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  // Without the drop, the setuid bit works here (else the check means nothing).
  auto baseline = test_support::run_in_child([&] {
    std::string out = setuid_id_output(id_path, false);
    return out == "0\n" ? "" : "SKIP: setuid bit has no effect here (nosuid mount?): " + out;
  });
  if (baseline.skipped()) GTEST_SKIP() << baseline.text.substr(6);
  ASSERT_TRUE(baseline.exited_zero()) << baseline.describe() << ": " << baseline.text;
  AGENTD_EXPECT_CHILD_PASSES([&] {
    std::string out = setuid_id_output(id_path, true);
    return out == std::to_string(kNobody) + "\n" ? "" : "euid after execve: " + out;
  });
}

}  // namespace
}  // namespace agentd::sandbox::linuxns
