#include "policy/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace agentd::policy {
namespace {

TEST(Config, GoodFileChangesLimitsProfilesAndProtectedPaths) {
  auto set = parse_config(R"(
protectedPaths = ["~/.ssh", "/srv/secrets", "*/.git/hooks"]

[limits]
memoryBytes = 1073741824

[profiles.ci]
base = "strict"
readOnlyPaths = ["/opt/toolchains"]

[profiles.ci.limits]
wallTimeMs = 600000
)",
                          "agentd.toml");
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(*set->find("default")->limits.memory_bytes, 1073741824u);
  EXPECT_EQ(*set->find("strict")->limits.memory_bytes, 512u << 20);  // [limits] is the default's
  const Profile* ci = set->find("ci");
  ASSERT_NE(ci, nullptr);
  EXPECT_EQ(ci->source, "config");
  EXPECT_EQ(ci->isolation, Isolation::kLinux);
  EXPECT_EQ(*ci->limits.wall_time_ms, 600000u);
  EXPECT_EQ(ci->limits.max_processes, set->find("strict")->limits.max_processes);
  EXPECT_EQ(ci->read_only_paths, std::vector<std::string>{"/opt/toolchains"});
  EXPECT_FALSE(ci->allow_host_network);
  EXPECT_EQ(ci->protected_paths.size(), 3u);
  EXPECT_EQ(set->find("workstation")->protected_paths.size(), 3u);
}

// Each error names the file, the line and the key.
void expect_error(const std::string& text, const std::string& where, const std::string& key) {
  auto set = parse_config(text, "/etc/agentd.toml");
  ASSERT_FALSE(set) << text;
  std::string message = set.error().message();
  EXPECT_EQ(message.rfind("/etc/agentd.toml:" + where, 0), 0u) << message;
  EXPECT_NE(message.find(key), std::string::npos) << message;
}

TEST(Config, UnknownKeysAreErrors) {
  expect_error("memory = 1\n", "1:", "memory: unknown key");
  expect_error("[limits]\nmemoryBytes = 5\nmemoryByte = 1\n",
               "3:", "limits.memoryByte: unknown limit");
  expect_error("[profiles.x]\nbase = \"default\"\nnetwork = \"host\"\n",
               "3:", "profiles.x.network: unknown key");
}

TEST(Config, BadValuesAreErrors) {
  expect_error("[limits]\nmemoryBytes = \"1G\"\n",
               "2:", "limits.memoryBytes: expected a positive integer");
  expect_error("[limits]\nmaxProcesses = 0\n",
               "2:", "limits.maxProcesses: expected a positive integer");
  expect_error("protectedPaths = [\"relative\"]\n",
               "1:", "protectedPaths[0]: expected an absolute path");
  expect_error("\n[profiles.x]\nbase = \"nope\"\n", "3:", "profiles.x.base");
  expect_error("[profiles.strict]\n", "1:", "profiles.strict: is a built-in profile");
  expect_error("[profiles.x]\nallowHostNetwork = 1\n",
               "2:", "profiles.x.allowHostNetwork: expected true or false");
}

TEST(Config, SyntaxErrorsNameFileAndLine) {
  expect_error("[limits]\nmemoryBytes = = 3\n", "2:", "");
}

TEST(Config, MissingFiles) {
  EXPECT_TRUE(load_config("/nonexistent/agentd.toml", /*optional=*/true));
  auto missing = load_config("/nonexistent/agentd.toml", /*optional=*/false);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("/nonexistent/agentd.toml"), std::string::npos);
}

TEST(Config, LoadsAFile) {
  std::string path = ::testing::TempDir() + "/agentd-config-test.toml";
  std::ofstream(path) << "[limits]\nmaxOpenFiles = 99\n";
  auto set = load_config(path, false);
  std::remove(path.c_str());
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(*set->find("default")->limits.max_open_files, 99u);
}

}  // namespace
}  // namespace agentd::policy
