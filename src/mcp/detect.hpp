#pragma once

#include <string_view>

namespace agentd::mcp {

// True when the first message of a session is an MCP `initialize`: method
// "initialize" with params.protocolVersion a date string such as "2025-06-18".
// agentd's own initialize never carries a dated protocolVersion (its
// InitializeParams has processId and clientInfo), so the two cannot be confused.
bool is_mcp_initialize(std::string_view body);

}  // namespace agentd::mcp
