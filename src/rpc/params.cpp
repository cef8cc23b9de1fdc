#include "rpc/params.hpp"

namespace agentd::rpc {

ParamReader::ParamReader(const json& object, std::string path)
    : object_(object), path_(std::move(path)) {
  if (!object_.is_object()) throw invalid_params(path_ + ": must be an object");
}

void ParamReader::fail(const std::string& key, const std::string& rule) const {
  throw invalid_params(path_of(key) + ": " + rule);
}

bool ParamReader::has(const std::string& key) const {
  auto it = object_.find(key);
  return it != object_.end() && !it->is_null();
}

const nlohmann::json* ParamReader::raw(const std::string& key) {
  read_.insert(key);
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string ParamReader::required_string(const std::string& key) {
  const json* value = raw(key);
  if (!value) fail(key, "is required (a string)");
  if (!value->is_string()) fail(key, "must be a string");
  return value->get<std::string>();
}

std::optional<std::string> ParamReader::optional_string(const std::string& key) {
  const json* value = raw(key);
  if (!value) return std::nullopt;
  if (!value->is_string()) fail(key, "must be a string");
  return value->get<std::string>();
}

std::optional<uint64_t> ParamReader::optional_uint(const std::string& key, uint64_t min,
                                                   uint64_t max) {
  const json* value = raw(key);
  if (!value) return std::nullopt;
  if (!value->is_number_unsigned() && !(value->is_number_integer() && value->get<int64_t>() >= 0)) {
    fail(key, "must be a non-negative integer");
  }
  uint64_t n = value->get<uint64_t>();
  if (n < min || n > max) {
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                  " (got " + std::to_string(n) + ")");
  }
  return n;
}

std::optional<bool> ParamReader::optional_bool(const std::string& key) {
  const json* value = raw(key);
  if (!value) return std::nullopt;
  if (!value->is_boolean()) fail(key, "must be true or false");
  return value->get<bool>();
}

std::optional<std::string> ParamReader::optional_enum(const std::string& key,
                                                      const std::vector<std::string>& allowed) {
  auto value = optional_string(key);
  if (!value) return std::nullopt;
  for (const auto& a : allowed) {
    if (*value == a) return value;
  }
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "\"" : ", \"") + a + "\"";
  fail(key, "must be one of " + list + " (got \"" + *value + "\")");
}

std::optional<std::vector<std::string>> ParamReader::optional_string_array(
    const std::string& key) {
  const json* value = raw(key);
  if (!value) return std::nullopt;
  if (!value->is_array()) fail(key, "must be an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < value->size(); ++i) {
    if (!(*value)[i].is_string()) fail(key + "[" + std::to_string(i) + "]", "must be a string");
    out.push_back((*value)[i].get<std::string>());
  }
  return out;
}

std::optional<std::map<std::string, std::string>> ParamReader::optional_string_map(
    const std::string& key) {
  const json* value = raw(key);
  if (!value) return std::nullopt;
  if (!value->is_object()) fail(key, "must be an object of string values");
  std::map<std::string, std::string> out;
  for (auto it = value->begin(); it != value->end(); ++it) {
    if (!it.value().is_string()) fail(key + "." + it.key(), "must be a string");
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

std::optional<ParamReader> ParamReader::optional_object(const std::string& key) {
  const json* value = raw(key);
  if (!value) return std::nullopt;
  if (!value->is_object()) fail(key, "must be an object");
  return ParamReader(*value, path_of(key));
}

void ParamReader::reject_unknown() const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (read_.count(it.key()) == 0) {
      std::string known;
      for (const auto& k : read_) known += (known.empty() ? "" : ", ") + k;
      fail(it.key(), "unknown field (known fields: " + known + ")");
    }
  }
}

}  // namespace agentd::rpc
