#include "base/utc_time.hpp"

#include <gtest/gtest.h>

namespace agentd::base {
namespace {

TEST(UtcTime, FormatsSecondsOrMilliseconds) {
  auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1714564800123));
  EXPECT_EQ(utc_time(t), "2024-05-01T12:00:00Z");
  EXPECT_EQ(utc_time(t, true), "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(utc_time(t + std::chrono::milliseconds(877), true), "2024-05-01T12:00:01.000Z");
}

}  // namespace
}  // namespace agentd::base
