#include "sandbox/path_beneath.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace agentd::sandbox {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string read_fd(int fd) {
  std::string out;
  char buffer[256];
  ssize_t n;
  while ((n = ::pread(fd, buffer, sizeof buffer, off_t(out.size()))) > 0)
    out.append(buffer, size_t(n));
  return out;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path) << content;
}

// A workdir `root` next to a directory `outside` holding a secret that must
// stay unreachable through the workdir.
class PathBeneathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::syscall(SYS_openat2, -1, nullptr, nullptr, 0) < 0 && errno == ENOSYS) {
      GTEST_SKIP() << "kernel lacks openat2 (Linux >= 5.6)";
    }
    root_ = tmp_ / "root";
    outside_ = tmp_ / "outside";
    ASSERT_EQ(::mkdir(root_.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(outside_.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir((root_ + "/allowed").c_str(), 0700), 0);
    write_file(root_ + "/allowed/file.txt", "inside");
    write_file(outside_ + "/secret.txt", "secret");
    root_fd_.reset(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
  }

  void symlink_in_root(const std::string& target, const std::string& name) {
    ASSERT_EQ(::symlink(target.c_str(), (root_ + "/" + name).c_str()), 0) << name;
  }

  // What a launch does with a caller's cwd: map it, then open it beneath root.
  base::Result<base::UniqueFd> open_as_caller(const std::string& path, int flags = O_RDONLY) {
    auto relative = relative_to_root(root_, path);
    if (!relative) return relative.error();
    return open_beneath(root_fd_.get(), *relative, flags);
  }

  test_support::TempDir tmp_;
  std::string root_;
  std::string outside_;
  base::UniqueFd root_fd_;
};

TEST_F(PathBeneathTest, AllowedPathsOpen) {
  for (const std::string& path :
       std::vector<std::string>{"allowed/file.txt", "./allowed/file.txt", "allowed//file.txt",
                                "allowed/../allowed/file.txt", root_ + "/allowed/file.txt"}) {
    auto fd = open_as_caller(path);
    ASSERT_TRUE(fd.ok()) << path << ": " << fd.error().message();
    EXPECT_EQ(read_fd(fd->get()), "inside") << path;
  }
  auto dir = open_as_caller(root_, O_PATH | O_DIRECTORY);
  EXPECT_TRUE(dir.ok());
  auto dot = open_as_caller("", O_PATH | O_DIRECTORY);
  EXPECT_TRUE(dot.ok());
}

TEST_F(PathBeneathTest, SymlinksThatStayInsideAreFollowed) {
  symlink_in_root("allowed/file.txt", "inner_link");
  symlink_in_root("../allowed/file.txt", "allowed/up_and_back");
  for (const std::string& path : std::vector<std::string>{"inner_link", "allowed/up_and_back"}) {
    auto fd = open_as_caller(path);
    ASSERT_TRUE(fd.ok()) << path << ": " << fd.error().message();
    EXPECT_EQ(read_fd(fd->get()), "inside");
  }
}

TEST_F(PathBeneathTest, DotDotCannotLeave) {
  // The secret exists, so a failure here is the confinement, not ENOENT.
  ASSERT_EQ(::access((outside_ + "/secret.txt").c_str(), R_OK), 0);
  for (const std::string& path : std::vector<std::string>{
           "../outside/secret.txt", "../../etc/passwd", "allowed/../../outside/secret.txt",
           "allowed/../../../etc/passwd", "allowed/../../../../../../../../etc/passwd", ".."}) {
    auto fd = open_as_caller(path);
    ASSERT_FALSE(fd.ok()) << path;
    EXPECT_THAT(fd.error().message(), HasSubstr("outside")) << path;
  }
}

TEST_F(PathBeneathTest, AbsolutePathsOutsideAreRefused) {
  for (const std::string& path :
       std::vector<std::string>{"/etc/shadow", "/etc/passwd", outside_ + "/secret.txt", "/",
                                root_ + "/../outside/secret.txt", root_ + "x/file"}) {
    auto fd = open_as_caller(path);
    EXPECT_FALSE(fd.ok()) << path;
  }
  // open_beneath alone never takes an absolute path either.
  EXPECT_FALSE(open_beneath(root_fd_.get(), "/etc/passwd", O_RDONLY).ok());
}

TEST_F(PathBeneathTest, SymlinksPointingOutsideAreRefused) {
  symlink_in_root(outside_ + "/secret.txt", "abs_link");
  symlink_in_root("../outside/secret.txt", "rel_link");
  symlink_in_root("../../outside/secret.txt", "allowed/rel_link2");
  symlink_in_root("/etc/passwd", "etc_link");
  symlink_in_root(outside_, "outside_dir");
  for (const std::string& path : std::vector<std::string>{
           "abs_link", "rel_link", "allowed/rel_link2", "etc_link", "outside_dir/secret.txt"}) {
    auto fd = open_as_caller(path);
    ASSERT_FALSE(fd.ok()) << path;
    EXPECT_THAT(fd.error().message(), Not(HasSubstr("No such file"))) << path;
  }
}

TEST_F(PathBeneathTest, CreatingThroughADanglingSymlinkOutsideIsRefused) {
  std::string target = outside_ + "/planted";
  symlink_in_root(target, "dangling");
  symlink_in_root("../outside/planted2", "dangling_rel");
  EXPECT_FALSE(open_beneath(root_fd_.get(), "dangling", O_WRONLY | O_CREAT, 0600).ok());
  EXPECT_FALSE(open_beneath(root_fd_.get(), "dangling_rel", O_WRONLY | O_CREAT, 0600).ok());
  EXPECT_NE(::access(target.c_str(), F_OK), 0);
  EXPECT_NE(::access((outside_ + "/planted2").c_str(), F_OK), 0);
  // Creating a real file inside works and lands inside.
  auto created = open_beneath(root_fd_.get(), "allowed/new.txt", O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_EQ(::access((root_ + "/allowed/new.txt").c_str(), F_OK), 0);
}

TEST_F(PathBeneathTest, PercentEncodingIsALiteralNameNotATraversal) {
  write_file(root_ + "/%2e%2e%2f", "literal");
  auto literal = open_as_caller("%2e%2e%2f");
  ASSERT_TRUE(literal.ok()) << literal.error().message();
  EXPECT_EQ(read_fd(literal->get()), "literal");
  auto encoded = open_as_caller("%2e%2e%2foutside%2fsecret.txt");
  ASSERT_FALSE(encoded.ok());
  EXPECT_THAT(encoded.error().message(), HasSubstr("No such file"));
  auto escaped = open_as_caller("..%2foutside%2fsecret.txt");
  EXPECT_FALSE(escaped.ok());
}

TEST_F(PathBeneathTest, NulBytesAreRefusedBeforeAnyLookup) {
  std::string sneaky("allowed/file.txt\0/../../outside/secret.txt", 42);
  auto relative = relative_to_root(root_, sneaky);
  ASSERT_FALSE(relative.ok());
  EXPECT_THAT(relative.error().message(), HasSubstr("NUL"));
  EXPECT_FALSE(relative_to_root(root_, root_ + std::string("\0", 1)).ok());
}

TEST_F(PathBeneathTest, MagicLinksAreNotFollowed) {
  // /proc/self/root and /proc/self/cwd are magic links: from a /proc/self
  // directory fd, they would lead anywhere.
  base::UniqueFd proc_self(::open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(proc_self.valid());
  for (const std::string& path :
       std::vector<std::string>{"root/etc/passwd", "cwd", "root", "exe"}) {
    EXPECT_FALSE(open_beneath(proc_self.get(), path, O_RDONLY).ok()) << path;
  }
  base::UniqueFd passwd(::open("/etc/passwd", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(passwd.valid());
  EXPECT_FALSE(open_beneath(proc_self.get(), "fd/" + std::to_string(passwd.get()), O_RDONLY).ok());
  // A link inside the workdir to the magic link is refused as well.
  symlink_in_root("/proc/self/root/etc/passwd", "magic");
  EXPECT_FALSE(open_as_caller("magic").ok());
}

TEST(RelativeToRoot, MapsCallerPaths) {
  EXPECT_EQ(*relative_to_root("/w", ""), ".");
  EXPECT_EQ(*relative_to_root("/w", "a/b"), "a/b");
  EXPECT_EQ(*relative_to_root("/w", "/w"), ".");
  EXPECT_EQ(*relative_to_root("/w", "/w/"), ".");
  EXPECT_EQ(*relative_to_root("/w/", "/w/a"), "a");
  EXPECT_EQ(*relative_to_root("/w", "/w/a/b"), "a/b");
}

TEST(RelativeToRoot, RefusesAbsolutePathsOutsideRoot) {
  for (const std::string& path :
       std::vector<std::string>{"/etc/shadow", "/", "/wx/a", "/ww", "/W/a"}) {
    auto r = relative_to_root("/w", path);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_THAT(r.error().message(), HasSubstr("outside"));
  }
}

}  // namespace
}  // namespace agentd::sandbox
