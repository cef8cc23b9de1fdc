#include "policy/profiles.hpp"

#include <gtest/gtest.h>

namespace agentd::policy {
namespace {

TEST(Profiles, BuiltinsHaveTheDocumentedShape) {
  ProfileSet set;
  ASSERT_EQ(set.names(),
            (std::vector<std::string>{"strict", "default", "permissive", "workstation"}));
  EXPECT_EQ(set.find("strict")->isolation, Isolation::kLinux);
  EXPECT_EQ(set.find("workstation")->isolation, Isolation::kNone);
  EXPECT_FALSE(set.find("strict")->allow_host_network);
  EXPECT_TRUE(set.find("strict")->read_only_paths.empty());
  EXPECT_LT(*set.find("strict")->limits.memory_bytes, *set.find("permissive")->limits.memory_bytes);
  for (const auto& p : set.all()) {
    EXPECT_EQ(p.network, p.isolation == Isolation::kNone ? NetworkMode::kHost : NetworkMode::kNone);
    EXPECT_EQ(p.protected_paths, default_protected_paths()) << p.name;
    EXPECT_EQ(p.source, "builtin");
  }
}

SandboxSpec linux_spec(std::string profile) {
  SandboxSpec spec;
  spec.profile = std::move(profile);
  return spec;
}

TEST(Profiles, ExplicitFieldsOverrideTheProfile) {
  ProfileSet set;
  SandboxSpec spec = linux_spec("strict");
  spec.limits.memory_bytes = 100;
  ASSERT_FALSE(apply_profile(set, spec, "/home/u"));
  EXPECT_EQ(*spec.limits.memory_bytes, 100u);
  EXPECT_EQ(spec.limits.max_processes, set.find("strict")->limits.max_processes);
  EXPECT_TRUE(spec.profile_resolved);
  EXPECT_EQ(spec.protected_paths.front(), "/home/u/.ssh");
}

TEST(Profiles, OmittedProfileIsDefaultForLinuxAndWorkstationForNone) {
  ProfileSet set;
  SandboxSpec spec;
  ASSERT_FALSE(apply_profile(set, spec, "/h"));
  EXPECT_EQ(spec.profile, "default");
  spec = SandboxSpec{};
  spec.isolation = Isolation::kNone;
  ASSERT_FALSE(apply_profile(set, spec, "/h"));
  EXPECT_EQ(spec.profile, "workstation");
}

TEST(Profiles, LinuxProfilesImplyIsolation) {
  ProfileSet set;
  SandboxSpec spec = linux_spec("permissive");
  spec.isolation_explicit = false;
  ASSERT_FALSE(apply_profile(set, spec, "/h"));
  EXPECT_EQ(spec.isolation, Isolation::kLinux);
}

TEST(Profiles, HostDirectIsNeverImplied) {
  ProfileSet set;
  SandboxSpec spec = linux_spec("workstation");
  spec.isolation_explicit = false;
  auto error = apply_profile(set, spec, "/h");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->field, "isolation");
  EXPECT_NE(error->message.find("never chosen implicitly"), std::string::npos);

  spec.isolation_explicit = true;
  spec.isolation = Isolation::kNone;
  EXPECT_FALSE(apply_profile(set, spec, "/h"));
}

TEST(Profiles, ConflictingIsolationAndUnknownProfilesAreRefused) {
  ProfileSet set;
  SandboxSpec spec = linux_spec("workstation");  // isolation linux, explicitly
  auto error = apply_profile(set, spec, "/h");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->field, "isolation");
  spec = linux_spec("nope");
  error = apply_profile(set, spec, "/h");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->field, "profile");
  EXPECT_NE(error->message.find("\"strict\""), std::string::npos);
}

TEST(Profiles, StrictRefusesHostNetworkOthersNeedItAsked) {
  ProfileSet set;
  SandboxSpec spec = linux_spec("strict");
  spec.network = NetworkMode::kHost;
  auto error = apply_profile(set, spec, "/h");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->field, "network");
  spec = linux_spec("permissive");
  ASSERT_FALSE(apply_profile(set, spec, "/h"));
  EXPECT_FALSE(spec.network.has_value());  // never host unless asked
  spec = linux_spec("permissive");
  spec.network = NetworkMode::kHost;
  EXPECT_FALSE(apply_profile(set, spec, "/h"));
}

TEST(Profiles, HomelessProtectedPathsAreSkipped) {
  ProfileSet set;
  SandboxSpec spec;
  ASSERT_FALSE(apply_profile(set, spec, ""));
  for (const auto& p : spec.protected_paths) EXPECT_NE(p[0], '~');
  EXPECT_EQ(expand_home("~/.aws", "/home/u"), "/home/u/.aws");
  EXPECT_EQ(expand_home("/etc", "/home/u"), "/etc");
}

}  // namespace
}  // namespace agentd::policy
