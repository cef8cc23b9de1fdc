#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace agentd::mcp {

using json = nlohmann::json;

// One MCP tool as tools/list shows it.
struct Tool {
  std::string name;
  std::string description;
  json input_schema;   // self-contained: every $ref of agentd's schema inlined
  std::string method;  // the agentd method the tool drives (exec drives exec/start)
};

// The facade's tools. Their inputSchema is derived from the params of the
// agentd method each tool drives (schema/agentd.schema.json), minus what the
// facade sets itself, plus the few conveniences it adds; nothing is written
// out twice. Top-level anyOf/oneOf/allOf are left out because several MCP
// hosts refuse them in an inputSchema; the facade checks those rules itself.
class ToolCatalog {
 public:
  // Throws std::runtime_error naming the missing definition when `schema`
  // lacks a params definition a tool needs.
  static ToolCatalog derive(const json& agentd_schema);
  // Derived once from the schema embedded at build time.
  static const ToolCatalog& builtin();

  const Tool* find(const std::string& name) const;
  const std::vector<Tool>& tools() const { return tools_; }
  json to_list_result() const;  // {"tools": [{name, description, inputSchema}]}

 private:
  std::vector<Tool> tools_;
};

// Replaces every {"$ref": "#/$defs/X", ...siblings} by definition X with the
// siblings laid over it (so a property keeps its own description).
json inline_refs(const json& schema, const json& defs, int depth = 0);

}  // namespace agentd::mcp
