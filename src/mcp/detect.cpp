#include "mcp/detect.hpp"

#include <cctype>
#include <nlohmann/json.hpp>

namespace agentd::mcp {

namespace {

// "YYYY-MM-DD", the shape of every MCP protocol revision.
bool looks_like_revision_date(const std::string& text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 4 || i == 7) continue;
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

}  // namespace

bool is_mcp_initialize(std::string_view body) {
  auto message = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!message.is_object()) return false;
  auto method = message.find("method");
  if (method == message.end() || *method != "initialize") return false;
  auto params = message.find("params");
  if (params == message.end() || !params->is_object()) return false;
  auto version = params->find("protocolVersion");
  return version != params->end() && version->is_string() &&
         looks_like_revision_date(version->get<std::string>());
}

}  // namespace agentd::mcp
