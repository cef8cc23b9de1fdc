#include "sandbox/linux/landlock.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <filesystem>
#include <fstream>
#include <string>

#include "child_process.hpp"
#include "support/temp_dir.hpp"

namespace agentd::sandbox::linuxns {
namespace {

namespace fs = std::filesystem;
using test_support::Checks;

long close_if_open(long fd) {
  if (fd >= 0) ::close(static_cast<int>(fd));
  return fd;
}

long open_and_close(const std::string& path, int flags) {
  return close_if_open(::open(path.c_str(), flags | O_CLOEXEC, 0644));
}

// The system directories a dynamically linked program needs.
std::vector<std::string> system_dirs() { return {"/usr", "/bin", "/lib", "/lib64", "/lib32"}; }

// As the sandbox init does it: no_new_privs, then Landlock.
std::string restrict_to(const LandlockRules& rules) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "prctl(PR_SET_NO_NEW_PRIVS) failed";
  auto applied = apply_landlock(rules);
  return applied ? "" : "apply_landlock: " + applied.error().message();
}

// A host tree: ro/ (read-only), rw/ (read-write) and outside/ (no rule),
// with a secret outside and symlinks from rw/ pointing at it.
class LandlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    abi_ = landlock_abi();
    if (abi_ == 0) GTEST_SKIP() << "the kernel lacks Landlock (or it is disabled)";
    for (const char* dir : {"ro", "rw", "outside"}) fs::create_directory(tmp_ / dir);
    write(ro_ + "/file", "read me");
    write(ro_ + "/other", "not me");
    write(outside_ + "/secret", "s3cret");
    write(rw_ + "/existing", "data");
    fs::create_symlink(outside_ + "/secret", rw_ + "/link");
    fs::create_symlink(outside_, rw_ + "/dirlink");
    fs::copy_file("/bin/true", outside_ + "/true");
    fs::permissions(outside_ + "/true", fs::perms::owner_all);
  }

  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }

  LandlockRules rules() const {
    LandlockRules r;
    r.read_only = system_dirs();
    r.read_only.push_back(ro_);
    r.read_write = {rw_};
    r.scope_abstract_unix_sockets = false;
    r.scope_signals = false;
    return r;
  }

  int abi_ = 0;
  test_support::TempDir tmp_;
  std::string ro_ = tmp_ / "ro";
  std::string rw_ = tmp_ / "rw";
  std::string outside_ = tmp_ / "outside";
};

TEST_F(LandlockTest, ReadingOutsideTheRulesFails) {
  AGENTD_EXPECT_CHILD_PASSES([this] {
    if (auto e = restrict_to(rules()); !e.empty()) return e;
    Checks c;
    const std::string secret = outside_ + "/secret";
    c.fails_with(open_and_close(secret, O_RDONLY), EACCES, "open(outside/secret)");
    c.fails_with(open_and_close(outside_, O_RDONLY | O_DIRECTORY), EACCES, "opendir(outside)");
    c.fails_with(open_and_close("/etc/passwd", O_RDONLY), EACCES, "open(/etc/passwd)");
    const std::string via_proc = "/proc/self/root" + secret;
    c.fails_with(open_and_close(via_proc, O_RDONLY), EACCES, "open(/proc/self/root/...secret)");
    c.succeeds(open_and_close(ro_ + "/file", O_RDONLY), "open(ro/file)");
    return c.text();
  });
}

TEST_F(LandlockTest, WritingInAReadOnlyDirFails) {
  AGENTD_EXPECT_CHILD_PASSES([this] {
    if (auto e = restrict_to(rules()); !e.empty()) return e;
    Checks c;
    c.fails_with(open_and_close(ro_ + "/file", O_WRONLY), EACCES, "open(ro/file, O_WRONLY)");
    c.fails_with(open_and_close(ro_ + "/new", O_WRONLY | O_CREAT), EACCES, "creat(ro/new)");
    c.fails_with(::unlink((ro_ + "/file").c_str()), EACCES, "unlink(ro/file)");
    c.fails_with(::mkdir((ro_ + "/dir").c_str(), 0755), EACCES, "mkdir(ro/dir)");
    c.fails_with(::symlink("/", (ro_ + "/sym").c_str()), EACCES, "symlink(ro/sym)");
    c.fails_with(::mkfifo((ro_ + "/fifo").c_str(), 0644), EACCES, "mkfifo(ro/fifo)");
    if (abi_ >= 3)
      c.fails_with(::truncate((ro_ + "/file").c_str(), 0), EACCES, "truncate(ro/file)");
    return c.text();
  });
}

TEST_F(LandlockTest, WritingInAReadWriteDirWorks) {
  AGENTD_EXPECT_CHILD_PASSES([this] {
    if (auto e = restrict_to(rules()); !e.empty()) return e;
    Checks c;
    const std::string file = rw_ + "/new", renamed = rw_ + "/renamed", dir = rw_ + "/dir";
    long fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    c.succeeds(fd, "creat(rw/new)");
    if (fd >= 0) {
      c.expect(::write(static_cast<int>(fd), "hello", 5) == 5, "write(rw/new)");
      ::close(static_cast<int>(fd));
    }
    c.succeeds(::truncate(file.c_str(), 1), "truncate(rw/new)");
    c.succeeds(::rename(file.c_str(), renamed.c_str()), "rename(rw/new, rw/renamed)");
    c.succeeds(::mkdir(dir.c_str(), 0755), "mkdir(rw/dir)");
    c.succeeds(::rename(renamed.c_str(), (dir + "/moved").c_str()), "rename into rw/dir");
    c.succeeds(::unlink((dir + "/moved").c_str()), "unlink(rw/dir/moved)");
    c.succeeds(::rmdir(dir.c_str()), "rmdir(rw/dir)");
    c.succeeds(::symlink("existing", (rw_ + "/sym").c_str()), "symlink(rw/sym)");
    c.succeeds(::mkfifo((rw_ + "/fifo").c_str(), 0644), "mkfifo(rw/fifo)");
    c.succeeds(open_and_close(rw_ + "/existing", O_RDWR | O_APPEND), "open(rw/existing, O_RDWR)");
    return c.text();
  });
}

TEST_F(LandlockTest, ExecutesFromReadOnlySystemDirsOnly) {
  AGENTD_EXPECT_CHILD_PASSES([this] {
    if (auto e = restrict_to(rules()); !e.empty()) return e;
    Checks c;
    const char* argv[] = {"/bin/true", nullptr};
    int status = test_support::run_program("/bin/true", argv);
    c.expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
             "/bin/true did not exit 0 (status " + std::to_string(status) + ")");
    // A copy outside the rules may not run; exit 42 reports EACCES (a
    // successful exec would exit 0).
    const std::string copy = outside_ + "/true";
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execl(copy.c_str(), copy.c_str(), nullptr);
      ::_exit(errno == EACCES ? 42 : 43);
    }
    status = test_support::wait_for(pid);
    c.expect(
        WIFEXITED(status) && WEXITSTATUS(status) == 42,
        "execve(outside/true) was not refused with EACCES (status " + std::to_string(status) + ")");
    return c.text();
  });
}

TEST_F(LandlockTest, SymlinksAndLinksOutOfAReadWriteDirGrantNothing) {
  AGENTD_EXPECT_CHILD_PASSES([this] {
    if (auto e = restrict_to(rules()); !e.empty()) return e;
    Checks c;
    c.fails_with(open_and_close(rw_ + "/link", O_RDONLY), EACCES, "open(rw/link -> secret)");
    c.fails_with(open_and_close(rw_ + "/dirlink/secret", O_RDONLY), EACCES,
                 "open(rw/dirlink/secret)");
    c.fails_with(open_and_close(rw_ + "/link", O_WRONLY | O_TRUNC), EACCES,
                 "open(rw/link, O_WRONLY)");
    const std::string secret = outside_ + "/secret";
    long rc = ::link(secret.c_str(), (rw_ + "/hardlink").c_str());
    int err = errno;
    c.expect(rc == -1 && (err == EXDEV || err == EACCES),
             "link(outside/secret, rw/hardlink) was not refused: " + std::to_string(rc));
    rc = ::rename((rw_ + "/existing").c_str(), (outside_ + "/stolen").c_str());
    err = errno;
    c.expect(rc == -1 && (err == EXDEV || err == EACCES),
             "rename(rw/existing, outside/stolen) was not refused: " + std::to_string(rc));
    return c.text();
  });
}

TEST_F(LandlockTest, RulesOnSingleFilesAndDevices) {
  AGENTD_EXPECT_CHILD_PASSES([this] {
    LandlockRules r;
    r.read_only = {ro_ + "/file"};       // a file: only file rights may be granted
    r.read_write = {rw_ + "/existing"};  // every right, masked to the file ones
    r.devices = {"/dev/null"};           // READ_DIR etc. masked away
    if (auto e = restrict_to(r); !e.empty()) return e;
    Checks c;
    c.succeeds(open_and_close(ro_ + "/file", O_RDONLY), "open(ro/file)");
    c.fails_with(open_and_close(ro_ + "/other", O_RDONLY), EACCES, "open(ro/other)");
    c.succeeds(open_and_close(rw_ + "/existing", O_RDWR), "open(rw/existing, O_RDWR)");
    c.fails_with(open_and_close(rw_ + "/new", O_WRONLY | O_CREAT), EACCES, "creat(rw/new)");
    long null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    c.succeeds(null_fd, "open(/dev/null, O_RDWR)");
    if (null_fd >= 0) {
      c.expect(::write(static_cast<int>(null_fd), "x", 1) == 1, "write(/dev/null)");
      ::close(static_cast<int>(null_fd));
    }
    c.fails_with(open_and_close("/dev/zero", O_RDONLY), EACCES, "open(/dev/zero)");
    return c.text();
  });
}

TEST_F(LandlockTest, MissingPathsAreSkipped) {
  AGENTD_EXPECT_CHILD_PASSES([this] {
    LandlockRules r = rules();
    r.read_only.push_back(tmp_ / "does-not-exist");
    r.read_write.push_back("/nonexistent-agentd-test/deeper");
    r.devices.push_back("/dev/nonexistent-agentd-test");
    return restrict_to(r);
  });
}

TEST_F(LandlockTest, ErrorsNameTheStepAndPath) {
  const std::string loop = tmp_ / "loop";
  fs::create_symlink(loop, loop);  // open() fails ELOOP
  AGENTD_EXPECT_CHILD_PASSES([&] {
    LandlockRules r = rules();
    r.read_only.push_back(loop);
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    auto applied = apply_landlock(r);
    if (applied) return std::string("apply_landlock accepted a symlink loop");
    Checks c;
    const std::string message = applied.error().message();
    c.expect(message.find("open(\"" + loop + "\")") != std::string::npos, "message: " + message);
    c.expect(applied.error().code.value() == ELOOP, "code: " + applied.error().code.message());
    return c.text();
  });
}

TEST_F(LandlockTest, ReportCoversEveryRightOfTheAbi) {
  AGENTD_EXPECT_CHILD_PASSES([this] {
    LandlockRules r = rules();
    r.scope_abstract_unix_sockets = true;
    r.scope_signals = true;
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    auto applied = apply_landlock(r);
    if (!applied) return "apply_landlock: " + applied.error().message();
    const int expected_rights = abi_ >= 5 ? 16 : abi_ >= 3 ? 15 : abi_ == 2 ? 14 : 13;
    Checks c;
    c.expect(applied->abi == abi_, "abi " + std::to_string(applied->abi));
    c.expect(std::popcount(applied->handled_fs) == expected_rights,
             "handled_fs has " + std::to_string(std::popcount(applied->handled_fs)) + " rights");
    c.expect(applied->handled_fs == (uint64_t{1} << expected_rights) - 1, "handled_fs not dense");
    c.expect(applied->handled_net == 0, "handled_net");
    c.expect(applied->scoped == (abi_ >= 6 ? 3u : 0u), "scoped " + std::to_string(applied->scoped));
    c.expect(applied->summary.find("Landlock ABI " + std::to_string(abi_)) == 0,
             "summary: " + applied->summary);
    return c.text();
  });
}

TEST_F(LandlockTest, RestrictWithoutNoNewPrivsOrCapabilityIsExplained) {
  if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) GTEST_SKIP() << "no_new_privs already set";
  AGENTD_EXPECT_CHILD_PASSES([this] {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capset, &header, data) != 0) return std::string("capset failed");
    auto applied = apply_landlock(rules());
    if (applied) return std::string("Landlock applied without no_new_privs");
    const std::string message = applied.error().message();
    Checks c;
    c.expect(message.find("landlock_restrict_self") != std::string::npos &&
                 message.find("no_new_privs") != std::string::npos,
             "message: " + message);
    return c.text();
  });
}

TEST_F(LandlockTest, SignalScopeBlocksSignalsOutOfTheDomain) {
  if (abi_ < 6) GTEST_SKIP() << "Landlock ABI " << abi_ << " < 6: no signal scoping";
  for (bool scoped : {true, false}) {
    SCOPED_TRACE(scoped ? "scoped" : "unscoped (control)");
    AGENTD_EXPECT_CHILD_PASSES([this, scoped] {
      LandlockRules r = rules();
      r.scope_signals = scoped;
      if (auto e = restrict_to(r); !e.empty()) return e;
      Checks c;
      if (scoped) {
        c.fails_with(::kill(::getppid(), 0), EPERM, "kill(parent, 0)");
      } else {
        c.succeeds(::kill(::getppid(), 0), "kill(parent, 0)");
      }
      c.succeeds(::kill(::getpid(), 0), "kill(self, 0)");
      pid_t child = ::fork();
      if (child == 0) {
        ::pause();
        ::_exit(0);
      }
      c.succeeds(::kill(child, SIGKILL), "kill(own child, SIGKILL)");
      test_support::wait_for(child);
      return c.text();
    });
  }
}

TEST_F(LandlockTest, AbstractUnixScopeBlocksConnectingOut) {
  if (abi_ < 6) GTEST_SKIP() << "Landlock ABI " << abi_ << " < 6: no abstract unix scoping";
  int server = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(server, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string name = "agentd-landlock-test-" + std::to_string(::getpid());
  name.copy(addr.sun_path + 1, sizeof(addr.sun_path) - 2);  // sun_path[0] = 0: abstract
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(server, 8), 0);
  for (bool scoped : {true, false}) {
    SCOPED_TRACE(scoped ? "scoped" : "unscoped (control)");
    AGENTD_EXPECT_CHILD_PASSES([&, scoped] {
      LandlockRules r = rules();
      r.scope_abstract_unix_sockets = scoped;
      if (auto e = restrict_to(r); !e.empty()) return e;
      Checks c;
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      long rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
      if (scoped) {
        c.fails_with(rc, EPERM, "connect(abstract socket of the parent)");
      } else {
        c.succeeds(rc, "connect(abstract socket of the parent)");
      }
      ::close(fd);
      return c.text();
    });
  }
  ::close(server);
}

}  // namespace
}  // namespace agentd::sandbox::linuxns
