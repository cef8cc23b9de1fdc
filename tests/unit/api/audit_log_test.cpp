#include "api/audit_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace agentd::api {
namespace {

namespace fs = std::filesystem;

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("agentd-audit-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "audit.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::string path_;
};

TEST_F(AuditLogTest, WritesOneJsonRecordPerLine) {
  auto log = AuditLog::open(path_);
  ASSERT_TRUE(log) << log.error().message();
  (*log)->record("sandbox.created", {{"sandboxId", "sb-1"}, {"envNames", {"TOKEN"}}});
  (*log)->record("request.refused", {{"method", "exec/run"}, {"code", -32602}});
  auto lines = read_lines(path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["event"], "sandbox.created");
  EXPECT_EQ(lines[0]["sandboxId"], "sb-1");
  EXPECT_TRUE(lines[0]["time"].is_string());
  EXPECT_EQ(lines[1]["code"], -32602);
  EXPECT_EQ(fs::status(path_).permissions() & fs::perms::others_read, fs::perms::none);
}

TEST_F(AuditLogTest, RotatesAtTheSizeLimitKeepingThree) {
  auto log = AuditLog::open(path_, 1024, 3);
  ASSERT_TRUE(log);
  std::string filler(200, 'x');
  for (int i = 0; i < 40; ++i) (*log)->record("exec.finished", {{"i", i}, {"pad", filler}});
  for (const char* suffix : {"", ".1", ".2", ".3"}) {
    ASSERT_TRUE(fs::exists(path_ + suffix)) << suffix;
    EXPECT_LE(fs::file_size(path_ + suffix), 1024u) << suffix;
  }
  EXPECT_FALSE(fs::exists(path_ + ".4"));
  // The newest record is in the live file, older ones in .1, .2, .3 in order.
  auto live = read_lines(path_);
  ASSERT_FALSE(live.empty());
  EXPECT_EQ(live.back()["i"], 39);
  auto first_rotated = read_lines(path_ + ".1");
  EXPECT_EQ(first_rotated.back()["i"].get<int>() + 1, live.front()["i"].get<int>());
}

TEST_F(AuditLogTest, AppendsToAnExistingFile) {
  std::ofstream(path_) << "{\"event\":\"old\"}\n";
  auto log = AuditLog::open(path_);
  ASSERT_TRUE(log);
  (*log)->record("sandbox.destroyed", {{"sandboxId", "sb-1"}});
  EXPECT_EQ(read_lines(path_).size(), 2u);
}

TEST_F(AuditLogTest, OpenFailsWithTheReason) {
  auto log = AuditLog::open((dir_ / "missing" / "audit.jsonl").string());
  ASSERT_FALSE(log);
  EXPECT_NE(log.error().message().find("No such file"), std::string::npos);
}

}  // namespace
}  // namespace agentd::api
