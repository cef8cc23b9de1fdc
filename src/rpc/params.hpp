#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rpc/errors.hpp"

namespace agentd::rpc {

// Reads one JSON object of request parameters field by field. Every failure
// throws an InvalidParams RpcError naming the JSON path and the rule, e.g.
// `params.argv: must be a non-empty array of strings`.
class ParamReader {
 public:
  using json = nlohmann::json;

  ParamReader(const json& object, std::string path);

  const std::string& path() const { return path_; }
  std::string path_of(const std::string& key) const { return path_ + "." + key; }
  bool has(const std::string& key) const;
  const json* raw(const std::string& key);

  std::string required_string(const std::string& key);
  std::optional<std::string> optional_string(const std::string& key);
  std::optional<uint64_t> optional_uint(const std::string& key, uint64_t min = 0,
                                        uint64_t max = UINT64_MAX);
  std::optional<bool> optional_bool(const std::string& key);
  std::optional<std::string> optional_enum(const std::string& key,
                                           const std::vector<std::string>& allowed);
  std::optional<std::vector<std::string>> optional_string_array(const std::string& key);
  std::optional<std::map<std::string, std::string>> optional_string_map(const std::string& key);
  std::optional<ParamReader> optional_object(const std::string& key);

  // Rejects fields nobody read, so a typo (`timeoutMS`) is an error, not a
  // silently ignored setting.
  void reject_unknown() const;

  [[noreturn]] void fail(const std::string& key, const std::string& rule) const;

 private:
  const json& object_;
  std::string path_;
  std::set<std::string> read_;
};

}  // namespace agentd::rpc
