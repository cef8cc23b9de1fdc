#include "mcp/tool_catalog.hpp"

#include <algorithm>
#include <stdexcept>

#include "mcp/embedded_schema.hpp"

namespace agentd::mcp {

namespace {

constexpr const char* kRefPrefix = "#/$defs/";

// How a tool's inputSchema is made from an agentd params definition.
struct Recipe {
  const char* name;
  const char* method;
  const char* params_def;
  const char* description;
  std::vector<const char*> drop;          // set by the facade itself
  std::vector<const char*> not_required;  // filled in by the facade when absent
  json added;                             // the facade's own arguments
};

json sandbox_id_description() {
  return {{"description",
           "A sandbox id from sandbox_create (e.g. \"sb-1\"). Omit it to use this session's "
           "default sandbox (linux isolation, created on first use)."}};
}

std::vector<Recipe> recipes() {
  return {
      {"sandbox_create",
       "sandbox/create",
       "SandboxCreateParams",
       "Create a sandbox: a workdir (/workspace inside) and, with isolation \"linux\" (the default "
       "here), user, mount, pid, network and ipc namespaces, Landlock and seccomp. Returns its "
       "sandboxId for exec and fs_* tools. isolation \"none\" runs commands directly on the host "
       "with no isolation: only when the user asked for it.",
       {},
       {},
       {}},
      {"sandbox_list",
       "sandbox/list",
       "SandboxListParams",
       "List this session's sandboxes with their state and usage.",
       {},
       {},
       {}},
      {"sandbox_destroy",
       "sandbox/destroy",
       "SandboxDestroyParams",
       "Destroy a sandbox: kill its processes and remove its workdir (unless keepWorkdir).",
       {},
       {},
       {}},
      {"exec",
       "exec/start",
       "ExecRunParams",
       "Run a command in a sandbox and return its output and exit status. Give argv (no shell) "
       "or command (run by /bin/sh -c). Output streams as progress notifications when the call "
       "carries a progressToken. A command that does not exit 0 is reported with isError. "
       "Without sandboxId the session's default sandbox for `isolation` is used (created on first "
       "use).",
       {"stdin", "encoding", "pty"},
       {"sandboxId", "argv"},
       {{"command",
         {{"type", "string"},
          {"minLength", 1},
          {"description",
           "A shell command line, run as /bin/sh -c COMMAND. Give argv or command, "
           "not both."}}},
        {"isolation",
         {{"$ref", "#/$defs/Isolation"},
          {"description",
           "Only without sandboxId: which default sandbox runs the command. \"linux\" (default): "
           "isolated. \"none\": directly on the host, no isolation; only when explicitly "
           "asked."}}}}},
      {"fs_read",
       "fs/read",
       "FsReadParams",
       "Read a file of a sandbox (at most 16 MiB per call); text by default.",
       {},
       {"sandboxId"},
       {}},
      {"fs_write",
       "fs/write",
       "FsWriteParams",
       "Write a file in a sandbox: give text (UTF-8) or data (base64).",
       {},
       {"sandboxId"},
       {}},
      {"fs_list",
       "fs/list",
       "FsListParams",
       "List a directory of a sandbox (default: the workdir).",
       {},
       {"sandboxId"},
       {}},
      {"fs_stat",
       "fs/stat",
       "FsStatParams",
       "Describe one file or directory of a sandbox.",
       {},
       {"sandboxId"},
       {}},
      {"fs_mkdir",
       "fs/mkdir",
       "FsMkdirParams",
       "Create a directory in a sandbox.",
       {},
       {"sandboxId"},
       {}},
      {"fs_remove",
       "fs/remove",
       "FsRemoveParams",
       "Remove a file or directory of a sandbox.",
       {},
       {"sandboxId"},
       {}},
  };
}

const json& definition(const json& defs, const std::string& name) {
  auto it = defs.find(name);
  if (it == defs.end()) {
    throw std::runtime_error("schema/agentd.schema.json has no $defs/" + name +
                             " (the MCP tool catalog derives from it)");
  }
  return *it;
}

void remove_required(json& schema, const char* name) {
  auto required = schema.find("required");
  if (required == schema.end()) return;
  json kept = json::array();
  for (const auto& r : *required) {
    if (r != name) kept.push_back(r);
  }
  if (kept.empty()) {
    schema.erase("required");
  } else {
    *required = std::move(kept);
  }
}

Tool derive_tool(const Recipe& recipe, const json& defs) {
  json schema = inline_refs(definition(defs, recipe.params_def), defs);
  for (const char* key : {"anyOf", "oneOf", "allOf", "description"}) schema.erase(key);
  json& properties = schema["properties"];
  for (const char* name : recipe.drop) {
    properties.erase(name);
    remove_required(schema, name);
  }
  for (const char* name : recipe.not_required) remove_required(schema, name);
  if (properties.contains("sandboxId") &&
      std::find(recipe.not_required.begin(), recipe.not_required.end(),
                std::string_view("sandboxId")) != recipe.not_required.end()) {
    properties["sandboxId"].update(sandbox_id_description());
  }
  for (const auto& [name, added] : recipe.added.items()) {
    properties[name] = inline_refs(added, defs);
  }
  return Tool{recipe.name, recipe.description, std::move(schema), recipe.method};
}

}  // namespace

json inline_refs(const json& schema, const json& defs, int depth) {
  if (depth > 32) throw std::runtime_error("schema $ref nesting deeper than 32 (a cycle?)");
  if (schema.is_array()) {
    json out = json::array();
    for (const auto& item : schema) out.push_back(inline_refs(item, defs, depth));
    return out;
  }
  if (!schema.is_object()) return schema;
  json out = json::object();
  if (auto ref = schema.find("$ref"); ref != schema.end() && ref->is_string()) {
    std::string target = *ref;
    if (target.rfind(kRefPrefix, 0) != 0) throw std::runtime_error("unsupported $ref " + target);
    out = inline_refs(definition(defs, target.substr(std::string(kRefPrefix).size())), defs,
                      depth + 1);
  }
  for (const auto& [key, value] : schema.items()) {
    if (key != "$ref") out[key] = inline_refs(value, defs, depth);
  }
  return out;
}

ToolCatalog ToolCatalog::derive(const json& agentd_schema) {
  const json& defs = agentd_schema.at("$defs");
  ToolCatalog catalog;
  for (const auto& recipe : recipes()) catalog.tools_.push_back(derive_tool(recipe, defs));
  return catalog;
}

const ToolCatalog& ToolCatalog::builtin() {
  static const ToolCatalog catalog = derive(json::parse(agentd_schema_text()));
  return catalog;
}

const Tool* ToolCatalog::find(const std::string& name) const {
  for (const auto& tool : tools_) {
    if (tool.name == name) return &tool;
  }
  return nullptr;
}

json ToolCatalog::to_list_result() const {
  json tools = json::array();
  for (const auto& tool : tools_) {
    tools.push_back({{"name", tool.name},
                     {"description", tool.description},
                     {"inputSchema", tool.input_schema}});
  }
  return {{"tools", std::move(tools)}};
}

}  // namespace agentd::mcp
