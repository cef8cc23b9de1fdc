#include "policy/environment.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace agentd::policy {
namespace {

using ::testing::HasSubstr;

TEST(EnvNameProblem, RefusesCodeInjectionVariables) {
  for (const char* name : {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "BASH_ENV", "ENV"}) {
    auto problem = env_name_problem(name);
    ASSERT_TRUE(problem.has_value()) << name;
    EXPECT_THAT(*problem, HasSubstr(name));
    EXPECT_TRUE(is_refused_env_name(name));
  }
}

TEST(EnvNameProblem, RefusesEqualsSignNulAndEmptyNames) {
  EXPECT_TRUE(env_name_problem("A=B").has_value());
  EXPECT_TRUE(env_name_problem("=").has_value());
  EXPECT_TRUE(env_name_problem(std::string_view("A\0B", 3)).has_value());
  EXPECT_TRUE(env_name_problem("").has_value());
}

TEST(EnvNameProblem, AcceptsOrdinaryNames) {
  for (const char* name : {"PATH", "HOME", "MY_VAR", "LD_PRELOADED", "ENVIRONMENT", "ld_preload"}) {
    EXPECT_FALSE(env_name_problem(name).has_value()) << name;
  }
}

TEST(BaseEnvironment, IsSmallAndScrubbed) {
  EnvMap env = base_environment("/work/sb-1");
  EXPECT_EQ(env.at("HOME"), "/work/sb-1");
  EXPECT_THAT(env.at("PATH"), HasSubstr("/usr/bin"));
  EXPECT_THAT(env.at("PATH"), HasSubstr("/bin"));
  EXPECT_EQ(env.count("LANG"), 1u);
  EXPECT_EQ(env.count("TERM"), 1u);
  EXPECT_EQ(env.size(), 4u);
  for (const auto& [name, value] : env) EXPECT_FALSE(env_name_problem(name).has_value()) << name;
}

TEST(InheritedEnvironment, DropsRefusedVariables) {
  ::setenv("LD_PRELOAD", "/tmp/evil.so", 1);
  ::setenv("BASH_ENV", "/tmp/evil.sh", 1);
  ::setenv("AGENTD_TEST_KEEP", "kept=with=equals", 1);
  EnvMap env = inherited_environment();
  ::unsetenv("LD_PRELOAD");
  ::unsetenv("BASH_ENV");
  ::unsetenv("AGENTD_TEST_KEEP");
  EXPECT_EQ(env.count("LD_PRELOAD"), 0u);
  EXPECT_EQ(env.count("BASH_ENV"), 0u);
  ASSERT_EQ(env.count("AGENTD_TEST_KEEP"), 1u);
  EXPECT_EQ(env.at("AGENTD_TEST_KEEP"), "kept=with=equals");
}

}  // namespace
}  // namespace agentd::policy
