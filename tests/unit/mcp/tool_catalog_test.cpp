#include "mcp/tool_catalog.hpp"

#include <gtest/gtest.h>

#include <set>

#include "mcp/embedded_schema.hpp"

namespace agentd::mcp {
namespace {

bool contains_ref(const json& value) {
  if (value.is_object()) {
    if (value.contains("$ref")) return true;
    for (const auto& [_, member] : value.items()) {
      if (contains_ref(member)) return true;
    }
  }
  if (value.is_array()) {
    for (const auto& item : value) {
      if (contains_ref(item)) return true;
    }
  }
  return false;
}

std::set<std::string> required_of(const json& schema) {
  std::set<std::string> names;
  for (const auto& name : schema.value("required", json::array())) names.insert(name);
  return names;
}

TEST(ToolCatalogTest, OffersTheFacadeTools) {
  std::set<std::string> names;
  for (const auto& tool : ToolCatalog::builtin().tools()) names.insert(tool.name);
  for (const char* name : {"sandbox_create", "sandbox_list", "sandbox_destroy", "exec", "fs_read",
                           "fs_write", "fs_list"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
}

TEST(ToolCatalogTest, EveryInputSchemaIsASelfContainedObjectSchema) {
  for (const auto& tool : ToolCatalog::builtin().tools()) {
    SCOPED_TRACE(tool.name);
    EXPECT_EQ(tool.input_schema.value("type", ""), "object");
    EXPECT_TRUE(tool.input_schema["properties"].is_object());
    EXPECT_FALSE(contains_ref(tool.input_schema));
    for (const char* key : {"anyOf", "oneOf", "allOf"})
      EXPECT_FALSE(tool.input_schema.contains(key));
    EXPECT_FALSE(tool.description.empty());
  }
}

// The exec tool is exec/start's params (as in the schema), minus what the
// facade fixes, plus command and isolation.
TEST(ToolCatalogTest, ExecDerivesFromExecParams) {
  json schema = json::parse(agentd_schema_text());
  const json& run_params = schema["$defs"]["ExecRunParams"]["properties"];
  const Tool* exec = ToolCatalog::builtin().find("exec");
  ASSERT_NE(exec, nullptr);
  const json& properties = exec->input_schema["properties"];
  for (const auto& [name, _] : run_params.items()) {
    bool fixed_by_facade = name == "stdin" || name == "encoding" || name == "pty";
    EXPECT_EQ(properties.contains(name), !fixed_by_facade) << name;
  }
  EXPECT_EQ(properties["argv"]["type"], "array");
  EXPECT_EQ(properties["command"]["type"], "string");
  EXPECT_EQ(properties["isolation"]["enum"], json({"none", "linux"}));
  EXPECT_TRUE(required_of(exec->input_schema).empty());  // argv or command; sandboxId optional
  EXPECT_EQ(exec->method, "exec/start");
}

TEST(ToolCatalogTest, FsToolsKeepTheirRequiredPathButNotSandboxId) {
  const Tool* read = ToolCatalog::builtin().find("fs_read");
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(required_of(read->input_schema), std::set<std::string>{"path"});
  const Tool* destroy = ToolCatalog::builtin().find("sandbox_destroy");
  ASSERT_NE(destroy, nullptr);
  EXPECT_EQ(required_of(destroy->input_schema), std::set<std::string>{"sandboxId"});
}

TEST(ToolCatalogTest, InlineRefsKeepsTheReferrersDescription) {
  json defs = {{"Id", {{"type", "string"}, {"description", "generic"}}}};
  json inlined = inline_refs({{"$ref", "#/$defs/Id"}, {"description", "specific"}}, defs);
  EXPECT_EQ(inlined, json({{"type", "string"}, {"description", "specific"}}));
}

TEST(ToolCatalogTest, DeriveNamesAMissingDefinition) {
  json schema = {{"$defs", json::object()}};
  try {
    ToolCatalog::derive(schema);
    FAIL() << "derive accepted a schema without params definitions";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("$defs/SandboxCreateParams"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace agentd::mcp
