#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace agentd::mcp {

// Checks a value against the subset of JSON Schema the tool catalog uses:
// type, properties, required, additionalProperties, items, prefixItems,
// minItems, enum, const, minimum, maximum, minLength, allOf, anyOf, oneOf, not.
// Returns the first failure as "<path>: <what>" (e.g. "arguments.argv: expected
// array"), or nullopt when the value fits. `pattern` and `propertyNames` are
// not checked here: agentd itself refuses such values, with its own message.
std::optional<std::string> check_against_schema(const nlohmann::json& value,
                                                const nlohmann::json& schema,
                                                const std::string& path);

}  // namespace agentd::mcp
