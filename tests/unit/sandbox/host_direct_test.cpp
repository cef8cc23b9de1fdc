#include "sandbox/host_direct.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <functional>
#include <string>

#include "support/temp_dir.hpp"

namespace agentd::sandbox {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using SandboxPtr = std::unique_ptr<Sandbox>;

policy::SandboxSpec host_spec() {
  policy::SandboxSpec spec;
  spec.isolation = policy::Isolation::kNone;
  return spec;
}

const FeatureState* find_feature(const std::vector<FeatureState>& features,
                                 const std::string& name) {
  for (const auto& f : features) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

class HostDirectTest : public ::testing::Test {
 protected:
  // The CreateError of a create that must fail.
  CreateError refused(const policy::SandboxSpec& spec) {
    auto created = backend_.create(spec, "sb");
    if (auto* ok = std::get_if<SandboxPtr>(&created)) {
      (*ok)->destroy(false);
      ADD_FAILURE() << "create succeeded";
      return {};
    }
    return std::get<CreateError>(created);
  }
  // The sandbox of a create that must succeed (nullptr otherwise).
  SandboxPtr created(const policy::SandboxSpec& spec) {
    auto result = backend_.create(spec, "sb");
    if (auto* error = std::get_if<CreateError>(&result)) {
      ADD_FAILURE() << "create failed: " << error->message;
      return nullptr;
    }
    return std::move(std::get<SandboxPtr>(result));
  }

  boost::asio::io_context io_;
  test_support::TempDir root_;
  HostDirectBackend backend_{io_, root_.path()};
};

TEST_F(HostDirectTest, DescribesItselfAsIsolationNone) {
  EXPECT_EQ(backend_.info().name, "host-direct");
  EXPECT_EQ(backend_.info().isolation, "none");
  EXPECT_TRUE(backend_.info().available);
  const auto* fs = find_feature(backend_.info().features, "filesystem");
  ASSERT_NE(fs, nullptr);
  EXPECT_EQ(fs->state, FeatureState::State::kUnavailable);
  const auto* wall = find_feature(backend_.info().features, "limits.wallTimeMs");
  ASSERT_NE(wall, nullptr);
  EXPECT_EQ(wall->state, FeatureState::State::kAvailable);
}

TEST_F(HostDirectTest, CreatesAPrivateWorkdirAndRemovesItOnDestroy) {
  auto sandbox = created(host_spec());
  ASSERT_TRUE(sandbox);
  std::string workdir = sandbox->workdir();
  EXPECT_THAT(workdir, StartsWith(root_.path() + "/sb-"));
  struct stat st {};
  ASSERT_EQ(::stat(workdir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(sandbox->network(), policy::NetworkMode::kHost);
  EXPECT_TRUE(sandbox->destroy(/*keep_workdir=*/false));
  EXPECT_NE(::access(workdir.c_str(), F_OK), 0);
}

TEST_F(HostDirectTest, KeepWorkdirLeavesItInPlace) {
  auto sandbox = created(host_spec());
  ASSERT_TRUE(sandbox);
  std::string workdir = sandbox->workdir();
  EXPECT_FALSE(sandbox->destroy(/*keep_workdir=*/true));
  EXPECT_EQ(::access(workdir.c_str(), F_OK), 0);
}

TEST_F(HostDirectTest, ACallersWorkdirIsUsedAndNeverRemoved) {
  test_support::TempDir mine;
  auto spec = host_spec();
  spec.workdir = mine.path() + "/./";
  auto sandbox = created(spec);
  ASSERT_TRUE(sandbox);
  EXPECT_EQ(std::filesystem::path(sandbox->workdir()), std::filesystem::path(mine.path()));
  EXPECT_FALSE(sandbox->destroy(false));
  EXPECT_EQ(::access(mine.path().c_str(), F_OK), 0);
}

TEST_F(HostDirectTest, AMissingWorkdirIsAnInvalidArgument) {
  auto spec = host_spec();
  spec.workdir = root_.path() + "/does/not/exist";
  CreateError error = refused(spec);
  EXPECT_EQ(error.kind, CreateError::Kind::kInvalidArgument);
  EXPECT_EQ(error.field, "workdir");
}

TEST_F(HostDirectTest, OtherProfilesAreRefused) {
  auto spec = host_spec();
  spec.profile = "strict";
  CreateError error = refused(spec);
  EXPECT_EQ(error.kind, CreateError::Kind::kInvalidArgument);
  EXPECT_EQ(error.field, "profile");
  spec.profile = "workstation";
  auto sandbox = created(spec);
  ASSERT_TRUE(sandbox);
  sandbox->destroy(false);
}

struct RefusedFeature {
  const char* name;
  std::function<void(policy::SandboxSpec&)> ask;
  const char* feature;
  const char* field;
};
void PrintTo(const RefusedFeature& c, std::ostream* os) { *os << c.name; }

class HostDirectRefusal : public HostDirectTest,
                          public ::testing::WithParamInterface<RefusedFeature> {};

TEST_P(HostDirectRefusal, RefusedUnlessOptional) {
  auto spec = host_spec();
  GetParam().ask(spec);
  CreateError error = refused(spec);
  EXPECT_EQ(error.kind, CreateError::Kind::kFeatureUnavailable);
  EXPECT_EQ(error.feature, GetParam().feature);
  EXPECT_EQ(error.field, GetParam().field);
  EXPECT_THAT(error.message, HasSubstr(GetParam().feature));
  EXPECT_THAT(error.fix, HasSubstr("optional"));
  EXPECT_TRUE(std::filesystem::is_empty(root_.path())) << "a refused create left a workdir";

  spec.optional_features.insert(GetParam().feature);
  auto sandbox = created(spec);
  ASSERT_TRUE(sandbox);
  const auto* state = find_feature(sandbox->capabilities(), GetParam().feature);
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->state, FeatureState::State::kUnavailable);
  EXPECT_FALSE(state->reason.empty());
  sandbox->destroy(false);
}

INSTANTIATE_TEST_SUITE_P(
    Features, HostDirectRefusal,
    ::testing::Values(RefusedFeature{"NetworkNone",
                                     [](auto& s) { s.network = policy::NetworkMode::kNone; },
                                     "network", "network"},
                      RefusedFeature{"ReadOnlyPaths", [](auto& s) { s.read_only_paths = {"/usr"}; },
                                     "filesystem", "readOnlyPaths"},
                      RefusedFeature{"ReadWritePaths",
                                     [](auto& s) { s.read_write_paths = {"/tmp"}; }, "filesystem",
                                     "readWritePaths"},
                      RefusedFeature{"MaxProcesses", [](auto& s) { s.limits.max_processes = 16; },
                                     "limits.maxProcesses", "limits.maxProcesses"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(HostDirectTest, OptionalFeaturesForOtherThingsDoNotHelp) {
  auto spec = host_spec();
  spec.network = policy::NetworkMode::kNone;
  spec.optional_features = {"filesystem", "limits.maxProcesses"};
  EXPECT_EQ(refused(spec).feature, "network");
}

TEST_F(HostDirectTest, HostNetworkAndEnforceableLimitsAreAccepted) {
  auto spec = host_spec();
  spec.network = policy::NetworkMode::kHost;
  spec.limits.wall_time_ms = 1000;
  spec.limits.memory_bytes = 1 << 30;
  auto sandbox = created(spec);
  ASSERT_TRUE(sandbox);
  const auto& caps = sandbox->capabilities();
  ASSERT_NE(find_feature(caps, "limits.wallTimeMs"), nullptr);
  EXPECT_EQ(find_feature(caps, "limits.wallTimeMs")->state, FeatureState::State::kEnforced);
  EXPECT_EQ(find_feature(caps, "limits.memoryBytes")->state, FeatureState::State::kEnforced);
  EXPECT_EQ(find_feature(caps, "limits.cpuTimeMs")->state, FeatureState::State::kNotRequested);
  EXPECT_EQ(find_feature(caps, "processGroup")->state, FeatureState::State::kEnforced);
  sandbox->destroy(false);
}

}  // namespace
}  // namespace agentd::sandbox
