#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace agentd::base {

std::string base64_encode(std::string_view bytes);
// Appends the encoding of `bytes` to `out` (exec output lines are built in place).
void base64_append(std::string_view bytes, std::string& out);
// Standard alphabet with padding; nullopt when the text is not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace agentd::base
