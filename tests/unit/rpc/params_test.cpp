#include "rpc/params.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace agentd::rpc {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The InvalidParams message `read` throws; fails the test when it does not
// throw an RpcError with code -32602.
std::string failure_of(const std::function<void()>& read) {
  try {
    read();
  } catch (const RpcError& error) {
    EXPECT_EQ(error.code, code::kInvalidParams) << error.message;
    return error.message;
  }
  ADD_FAILURE() << "no RpcError was thrown";
  return "";
}

TEST(ParamReader, RejectsANonObject) {
  json params = json::array({1});
  EXPECT_EQ(failure_of([&] { ParamReader reader(params, "params"); }), "params: must be an object");
}

TEST(ParamReader, ReadsPresentValues) {
  json params = {{"sandboxId", "sb-1"}, {"argv", json::array({"ls", "-l"})},
                 {"stdin", "pipe"},     {"timeoutMs", 500},
                 {"tty", false},        {"env", {{"A", "1"}}}};
  ParamReader reader(params, "params");
  EXPECT_EQ(reader.required_string("sandboxId"), "sb-1");
  EXPECT_EQ(reader.optional_string_array("argv"), (std::vector<std::string>{"ls", "-l"}));
  EXPECT_EQ(reader.optional_enum("stdin", {"null", "pipe"}), "pipe");
  EXPECT_EQ(reader.optional_uint("timeoutMs", 1, 1000), 500u);
  EXPECT_EQ(reader.optional_bool("tty"), false);
  auto env = reader.optional_string_map("env");
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(env->at("A"), "1");
  EXPECT_NO_THROW(reader.reject_unknown());
}

TEST(ParamReader, AbsentAndNullOptionalsAreEmpty) {
  json params = {{"cwd", nullptr}};
  ParamReader reader(params, "params");
  EXPECT_FALSE(reader.optional_string("cwd").has_value());
  EXPECT_FALSE(reader.optional_uint("timeoutMs").has_value());
  EXPECT_FALSE(reader.optional_object("limits").has_value());
  EXPECT_FALSE(reader.has("cwd"));
  EXPECT_NO_THROW(reader.reject_unknown());
}

TEST(ParamReader, MissingRequiredStringNamesThePath) {
  json params = json::object();
  ParamReader reader(params, "params");
  EXPECT_EQ(failure_of([&] { reader.required_string("sandboxId"); }),
            "params.sandboxId: is required (a string)");
}

TEST(ParamReader, WrongTypesNameThePathAndTheRule) {
  json params = {
      {"argv", "ls -l"}, {"cwd", 7}, {"tty", "yes"}, {"env", json::array({1, 2})}, {"limits", 3}};
  ParamReader reader(params, "params");
  EXPECT_EQ(failure_of([&] { reader.optional_string_array("argv"); }),
            "params.argv: must be an array of strings");
  EXPECT_EQ(failure_of([&] { reader.optional_string("cwd"); }), "params.cwd: must be a string");
  EXPECT_EQ(failure_of([&] { reader.optional_bool("tty"); }), "params.tty: must be true or false");
  EXPECT_EQ(failure_of([&] { reader.optional_string_map("env"); }),
            "params.env: must be an object of string values");
  EXPECT_EQ(failure_of([&] { reader.optional_object("limits"); }),
            "params.limits: must be an object");
}

TEST(ParamReader, ArrayAndMapElementsAreNamed) {
  json params = {{"argv", json::array({"ls", 5})}, {"env", {{"GOOD", "1"}, {"BAD", false}}}};
  ParamReader reader(params, "params");
  EXPECT_EQ(failure_of([&] { reader.optional_string_array("argv"); }),
            "params.argv[1]: must be a string");
  EXPECT_EQ(failure_of([&] { reader.optional_string_map("env"); }),
            "params.env.BAD: must be a string");
}

TEST(ParamReader, NestedObjectsCarryTheirPath) {
  json params = {{"limits", {{"memoryBytes", "lots"}, {"wallTimeMs", -1}, {"cpuTimeMs", 1.5}}}};
  ParamReader reader(params, "params");
  auto limits = reader.optional_object("limits");
  ASSERT_TRUE(limits.has_value());
  EXPECT_EQ(limits->path(), "params.limits");
  EXPECT_EQ(failure_of([&] { limits->optional_uint("memoryBytes"); }),
            "params.limits.memoryBytes: must be a non-negative integer");
  EXPECT_EQ(failure_of([&] { limits->optional_uint("wallTimeMs"); }),
            "params.limits.wallTimeMs: must be a non-negative integer");
  EXPECT_EQ(failure_of([&] { limits->optional_uint("cpuTimeMs"); }),
            "params.limits.cpuTimeMs: must be a non-negative integer");
}

TEST(ParamReader, UintRangeIsChecked) {
  json params = {{"small", 0}, {"big", 5000}, {"max", UINT64_MAX}};
  ParamReader reader(params, "params");
  EXPECT_EQ(failure_of([&] { reader.optional_uint("small", 1, 10); }),
            "params.small: must be between 1 and 10 (got 0)");
  EXPECT_THAT(failure_of([&] { reader.optional_uint("big", 1, 10); }), HasSubstr("(got 5000)"));
  EXPECT_EQ(reader.optional_uint("max"), UINT64_MAX);
}

TEST(ParamReader, EnumListsTheAllowedValues) {
  json params = {{"isolation", "vm"}};
  ParamReader reader(params, "params");
  EXPECT_EQ(failure_of([&] {
              reader.optional_enum("isolation", {"none", "linux"});
            }),
            "params.isolation: must be one of \"none\", \"linux\" (got \"vm\")");
}

TEST(ParamReader, RejectUnknownNamesTheUnreadField) {
  json params = {{"argv", json::array({"true"})}, {"timeoutMS", 5}};
  ParamReader reader(params, "params");
  reader.optional_string_array("argv");
  std::string message = failure_of([&] { reader.reject_unknown(); });
  EXPECT_THAT(message, StartsWith("params.timeoutMS: unknown field"));
  EXPECT_THAT(message, HasSubstr("argv"));
}

TEST(ParamReader, RejectUnknownInANestedObject) {
  json params = {{"limits", {{"memoryByte", 1}}}};
  ParamReader reader(params, "params");
  auto limits = reader.optional_object("limits");
  ASSERT_TRUE(limits.has_value());
  limits->optional_uint("memoryBytes");
  EXPECT_NO_THROW(reader.reject_unknown());
  EXPECT_THAT(failure_of([&] { limits->reject_unknown(); }),
              StartsWith("params.limits.memoryByte: unknown field"));
}

TEST(ParamReader, FailThrowsForAnyKey) {
  json params = json::object();
  ParamReader reader(params, "params.options");
  EXPECT_EQ(failure_of([&] { reader.fail("argv", "must not be empty"); }),
            "params.options.argv: must not be empty");
}

}  // namespace
}  // namespace agentd::rpc
