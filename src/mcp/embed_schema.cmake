# Writes schema/agentd.schema.json into a C++ source file as one string, so the MCP facade derives
# its tools' inputSchema from the same contract the rest of agentd follows.
# Usage: cmake -DINPUT=schema.json -DOUTPUT=embedded_schema.cpp -P embed_schema.cmake
file(READ "${INPUT}" schema_text)
string(FIND "${schema_text}" ")agentd_schema\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string delimiter )agentd_schema\"")
endif()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by embed_schema.cmake; do not edit.\n"
  "#include \"mcp/embedded_schema.hpp\"\n\n"
  "namespace agentd::mcp {\n\n"
  "std::string_view agentd_schema_text() {\n"
  "  static constexpr char kText[] = R\"agentd_schema(${schema_text})agentd_schema\";\n"
  "  return {kText, sizeof(kText) - 1};\n"
  "}\n\n"
  "}  // namespace agentd::mcp\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
