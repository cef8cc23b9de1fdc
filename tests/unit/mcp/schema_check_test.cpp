#include "mcp/schema_check.hpp"

#include <gtest/gtest.h>

namespace agentd::mcp {
namespace {

using json = nlohmann::json;

const json kSchema = json::parse(R"({
  "type": "object",
  "properties": {
    "argv": {"type": "array", "minItems": 1, "prefixItems": [{"type": "string", "minLength": 1}],
             "items": {"type": "string"}},
    "timeoutMs": {"type": "integer", "minimum": 1},
    "mode": {"type": "string", "enum": ["create", "append"]},
    "env": {"type": "object", "additionalProperties": {"type": "string"}}
  },
  "required": ["argv"],
  "additionalProperties": false
})");

TEST(SchemaCheckTest, AcceptsFittingValue) {
  EXPECT_EQ(check_against_schema(json::parse(R"({"argv":["ls","-l"],"timeoutMs":5,"mode":"create",
                                                  "env":{"A":"b"}})"),
                                 kSchema, "arguments"),
            std::nullopt);
}

TEST(SchemaCheckTest, NamesThePathThatFailed) {
  auto check = [](const char* text) {
    return check_against_schema(json::parse(text), kSchema, "arguments").value_or("fits");
  };
  EXPECT_EQ(check(R"({})"), "arguments: missing required property \"argv\"");
  EXPECT_EQ(check(R"({"argv":"ls"})"), "arguments.argv: expected array");
  EXPECT_EQ(check(R"({"argv":[]})"), "arguments.argv: needs at least 1 item(s)");
  EXPECT_EQ(check(R"({"argv":[""]})"), "arguments.argv[0]: must be at least 1 characters long");
  EXPECT_EQ(check(R"({"argv":["ls", 3]})"), "arguments.argv[1]: expected string");
  EXPECT_EQ(check(R"({"argv":["ls"],"timeoutMs":0})"), "arguments.timeoutMs: must be at least 1");
  EXPECT_EQ(check(R"({"argv":["ls"],"timeoutMs":1.5})"), "arguments.timeoutMs: expected integer");
  EXPECT_EQ(check(R"({"argv":["ls"],"mode":"x"})"),
            "arguments.mode: must be one of [\"create\",\"append\"]");
  EXPECT_EQ(check(R"({"argv":["ls"],"env":{"A":1}})"), "arguments.env.A: expected string");
  EXPECT_EQ(check(R"({"argv":["ls"],"bogus":1})"),
            "arguments: unknown property \"bogus\" (allowed: argv, env, mode, timeoutMs)");
}

TEST(SchemaCheckTest, Combinators) {
  json one_of = json::parse(R"({"oneOf":[{"required":["data"]},{"required":["text"]}]})");
  EXPECT_EQ(check_against_schema(json::parse(R"({"text":"x"})"), one_of, "a"), std::nullopt);
  EXPECT_TRUE(check_against_schema(json::parse(R"({"text":"x","data":"eA=="})"), one_of, "a"));
  EXPECT_TRUE(check_against_schema(json::parse(R"({})"), one_of, "a"));
  json any_of = json::parse(R"({"anyOf":[{"type":"string"},{"type":"object"}]})");
  EXPECT_EQ(check_against_schema("none", any_of, "a"), std::nullopt);
  EXPECT_TRUE(check_against_schema(3, any_of, "a"));
  json negated = json::parse(R"({"not":{"required":["a","b"]}})");
  EXPECT_EQ(check_against_schema(json::parse(R"({"a":1})"), negated, "x"), std::nullopt);
  EXPECT_TRUE(check_against_schema(json::parse(R"({"a":1,"b":2})"), negated, "x"));
}

}  // namespace
}  // namespace agentd::mcp
