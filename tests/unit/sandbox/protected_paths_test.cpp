#include "sandbox/linux/protected_paths.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace agentd::sandbox::linuxns {
namespace {

namespace fs = std::filesystem;

class ProtectedPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ =
        (fs::path(::testing::TempDir()) / ("agentd-home-" + std::to_string(::getpid()))).string();
    fs::remove_all(home_);
    fs::create_directories(home_ + "/.ssh");
    fs::create_directories(home_ + "/project/.git/hooks");
    std::ofstream(home_ + "/.bashrc") << "echo hi\n";
  }
  void TearDown() override { fs::remove_all(home_); }
  std::vector<std::string> protected_list() const {
    return {home_ + "/.ssh", home_ + "/.bashrc", home_ + "/.aws", "*/.git/hooks"};
  }
  std::string home_;
};

TEST_F(ProtectedPathsTest, HidesWhatLiesUnderAVisibleParent) {
  auto steps = plan_protected_paths(protected_list(), {{"readOnlyPaths", home_, home_, false}});
  ASSERT_TRUE(steps) << steps.error().message();
  ASSERT_EQ(steps->size(), 2u);  // .aws does not exist; hooks are only guarded when writable
  EXPECT_EQ((*steps)[0].kind, MountStep::Kind::kTmpfs);
  EXPECT_EQ((*steps)[0].target, home_ + "/.ssh");
  EXPECT_TRUE((*steps)[0].read_only);
  EXPECT_EQ((*steps)[1].kind, MountStep::Kind::kBind);
  EXPECT_EQ((*steps)[1].source, "/dev/null");
  EXPECT_EQ((*steps)[1].target, home_ + "/.bashrc");
}

TEST_F(ProtectedPathsTest, MapsToTheTargetOfAMount) {
  auto steps = plan_protected_paths({home_ + "/.ssh"}, {{"mounts", home_, "/home/agent", true}});
  ASSERT_TRUE(steps);
  ASSERT_EQ(steps->size(), 1u);
  EXPECT_EQ((*steps)[0].target, "/home/agent/.ssh");
}

TEST_F(ProtectedPathsTest, GitHooksAreReadOnlyUnderWritablePaths) {
  auto steps =
      plan_protected_paths(protected_list(), {{"workdir", home_ + "/project", "/workspace", true}});
  ASSERT_TRUE(steps);
  ASSERT_EQ(steps->size(), 1u);
  EXPECT_EQ((*steps)[0].kind, MountStep::Kind::kBind);
  EXPECT_EQ((*steps)[0].source, home_ + "/project/.git/hooks");
  EXPECT_EQ((*steps)[0].target, "/workspace/.git/hooks");
  EXPECT_TRUE((*steps)[0].read_only);
}

TEST_F(ProtectedPathsTest, AVisiblePathInsideAProtectedOneIsRefused) {
  auto steps = plan_protected_paths(protected_list(),
                                    {{"readWritePaths", home_ + "/.ssh", home_ + "/.ssh", true}});
  ASSERT_FALSE(steps);
  EXPECT_EQ(steps.error().message().rfind("readWritePaths: ", 0), 0u) << steps.error().message();
}

TEST_F(ProtectedPathsTest, UnrelatedPathsNeedNothing) {
  auto steps = plan_protected_paths(protected_list(),
                                    {{"readOnlyPaths", "/usr/share", "/usr/share", false}});
  ASSERT_TRUE(steps);
  EXPECT_TRUE(steps->empty());
}

}  // namespace
}  // namespace agentd::sandbox::linuxns
