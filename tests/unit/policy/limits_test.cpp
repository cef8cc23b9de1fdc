#include "policy/limits.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace agentd::policy {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(LowerLimits, ExecMayLowerAndInheritsTheRest) {
  Limits sandbox;
  sandbox.memory_bytes = 1000;
  sandbox.wall_time_ms = 5000;
  sandbox.max_output_bytes = 64;
  Limits exec;
  exec.memory_bytes = 500;
  exec.max_output_bytes = 64;  // equal is not a raise
  auto result = lower_limits(sandbox, exec);
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(result->memory_bytes, 500u);
  EXPECT_EQ(result->wall_time_ms, 5000u);
  EXPECT_EQ(result->max_output_bytes, 64u);
  EXPECT_FALSE(result->cpu_time_ms.has_value());
}

TEST(LowerLimits, ExecMaySetALimitTheSandboxLeavesOpen) {
  Limits sandbox;
  Limits exec;
  exec.cpu_time_ms = 100;
  auto result = lower_limits(sandbox, exec);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->cpu_time_ms, 100u);
}

TEST(LowerLimits, RaisingAnyLimitIsRefusedNamingTheField) {
  for (const auto& field : kLimitFields) {
    Limits sandbox;
    sandbox.*field.member = 10;
    Limits exec;
    exec.*field.member = 11;
    auto result = lower_limits(sandbox, exec);
    ASSERT_FALSE(result.ok()) << field.wire_name;
    std::string message = result.error().message();
    EXPECT_THAT(message, StartsWith(std::string(field.wire_name) + ":"));
    EXPECT_THAT(message, HasSubstr("11"));
    EXPECT_THAT(message, HasSubstr("10"));
  }
}

TEST(LowerLimits, OnlyTheRaisedFieldIsBlamed) {
  Limits sandbox;
  sandbox.memory_bytes = 1 << 20;
  sandbox.wall_time_ms = 1000;
  Limits exec;
  exec.memory_bytes = 1 << 10;
  exec.wall_time_ms = 2000;
  auto result = lower_limits(sandbox, exec);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message(), StartsWith("wallTimeMs:"));
}

TEST(Overlay, SetFieldsWinAndUnsetFieldsAreKept) {
  Limits base;
  base.memory_bytes = 1;
  base.cpu_time_ms = 2;
  Limits overrides;
  overrides.cpu_time_ms = 20;
  overrides.max_open_files = 30;
  Limits out = overlay(base, overrides);
  EXPECT_EQ(out.memory_bytes, 1u);
  EXPECT_EQ(out.cpu_time_ms, 20u);
  EXPECT_EQ(out.max_open_files, 30u);
  EXPECT_FALSE(out.wall_time_ms.has_value());
}

TEST(Overlay, CoversEveryField) {
  Limits overrides;
  uint64_t value = 100;
  for (const auto& field : kLimitFields) overrides.*field.member = value++;
  Limits out = overlay(Limits{}, overrides);
  value = 100;
  for (const auto& field : kLimitFields) EXPECT_EQ(out.*field.member, value++) << field.wire_name;
}

TEST(DefaultLimits, CapOutputAndOpenFiles) {
  Limits d = default_limits();
  EXPECT_TRUE(d.max_output_bytes.has_value());
  EXPECT_GT(*d.max_output_bytes, 0u);
  EXPECT_TRUE(d.max_open_files.has_value());
}

}  // namespace
}  // namespace agentd::policy
