#include "mcp/schema_check.hpp"

#include <algorithm>

namespace agentd::mcp {

namespace {

using json = nlohmann::json;
using Failure = std::optional<std::string>;

bool has_type(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  if (type == "number") return value.is_number();
  if (type == "integer") return value.is_number_integer();  // as agentd's own parser
  return true;  // an unknown type name constrains nothing
}

Failure check_type(const json& value, const json& schema, const std::string& path) {
  auto type = schema.find("type");
  if (type == schema.end()) return std::nullopt;
  std::vector<std::string> allowed;
  if (type->is_string()) allowed.push_back(*type);
  if (type->is_array()) {
    for (const auto& t : *type) allowed.push_back(t);
  }
  for (const auto& t : allowed) {
    if (has_type(value, t)) return std::nullopt;
  }
  std::string names;
  for (const auto& t : allowed) names += (names.empty() ? "" : " or ") + t;
  return path + ": expected " + names;
}

Failure check_values(const json& value, const json& schema, const std::string& path) {
  if (auto e = schema.find("enum"); e != schema.end() && e->is_array()) {
    if (std::find(e->begin(), e->end(), value) == e->end()) {
      return path + ": must be one of " + e->dump();
    }
  }
  if (auto c = schema.find("const"); c != schema.end() && *c != value) {
    return path + ": must be " + c->dump();
  }
  if (value.is_number()) {
    if (auto m = schema.find("minimum"); m != schema.end() && value < *m) {
      return path + ": must be at least " + m->dump();
    }
    if (auto m = schema.find("maximum"); m != schema.end() && value > *m) {
      return path + ": must be at most " + m->dump();
    }
  }
  if (auto m = schema.find("minLength"); m != schema.end() && value.is_string()) {
    if (value.get_ref<const std::string&>().size() < m->get<size_t>()) {
      return path + ": must be at least " + m->dump() + " characters long";
    }
  }
  return std::nullopt;
}

std::string property_names(const json& properties) {
  std::string names;
  for (const auto& [name, _] : properties.items()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

Failure check_object(const json& value, const json& schema, const std::string& path) {
  if (!value.is_object()) return std::nullopt;
  static const json kNoProperties = json::object();
  auto props_it = schema.find("properties");
  const json& properties = props_it != schema.end() ? *props_it : kNoProperties;
  if (auto required = schema.find("required"); required != schema.end()) {
    for (const auto& name : *required) {
      if (!value.contains(name))
        return path + ": missing required property \"" + name.get<std::string>() + "\"";
    }
  }
  auto additional = schema.find("additionalProperties");
  for (const auto& [name, member] : value.items()) {
    std::string member_path = path + "." + name;
    if (auto p = properties.find(name); p != properties.end()) {
      if (auto failure = check_against_schema(member, *p, member_path)) return failure;
    } else if (additional != schema.end() && *additional == false) {
      return path + ": unknown property \"" + name + "\" (allowed: " + property_names(properties) +
             ")";
    } else if (additional != schema.end() && additional->is_object()) {
      if (auto failure = check_against_schema(member, *additional, member_path)) return failure;
    }
  }
  return std::nullopt;
}

Failure check_array(const json& value, const json& schema, const std::string& path) {
  if (!value.is_array()) return std::nullopt;
  if (auto m = schema.find("minItems"); m != schema.end() && value.size() < m->get<size_t>()) {
    return path + ": needs at least " + m->dump() + " item(s)";
  }
  size_t prefix = 0;
  if (auto p = schema.find("prefixItems"); p != schema.end() && p->is_array()) {
    prefix = std::min(p->size(), value.size());
    for (size_t i = 0; i < prefix; ++i) {
      auto failure = check_against_schema(value[i], (*p)[i], path + "[" + std::to_string(i) + "]");
      if (failure) return failure;
    }
  }
  if (auto items = schema.find("items"); items != schema.end() && items->is_object()) {
    for (size_t i = prefix; i < value.size(); ++i) {
      auto failure = check_against_schema(value[i], *items, path + "[" + std::to_string(i) + "]");
      if (failure) return failure;
    }
  }
  return std::nullopt;
}

Failure check_combinators(const json& value, const json& schema, const std::string& path) {
  if (auto all = schema.find("allOf"); all != schema.end()) {
    for (const auto& part : *all) {
      if (auto failure = check_against_schema(value, part, path)) return failure;
    }
  }
  auto count_matches = [&](const json& parts) {
    return std::count_if(parts.begin(), parts.end(), [&](const json& part) {
      return !check_against_schema(value, part, path);
    });
  };
  if (auto any = schema.find("anyOf"); any != schema.end() && count_matches(*any) == 0) {
    return path + ": matches none of the allowed forms";
  }
  if (auto one = schema.find("oneOf"); one != schema.end() && count_matches(*one) != 1) {
    return path + ": must match exactly one of the allowed forms";
  }
  if (auto n = schema.find("not"); n != schema.end() && !check_against_schema(value, *n, path)) {
    return path + ": has a combination of properties that is not allowed";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_against_schema(const json& value, const json& schema,
                                                const std::string& path) {
  if (!schema.is_object()) return std::nullopt;
  if (auto failure = check_type(value, schema, path)) return failure;
  if (auto failure = check_values(value, schema, path)) return failure;
  if (auto failure = check_object(value, schema, path)) return failure;
  if (auto failure = check_array(value, schema, path)) return failure;
  return check_combinators(value, schema, path);
}

}  // namespace agentd::mcp
