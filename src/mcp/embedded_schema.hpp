#pragma once

#include <string_view>

namespace agentd::mcp {

// The text of schema/agentd.schema.json, embedded at build time.
std::string_view agentd_schema_text();

}  // namespace agentd::mcp
