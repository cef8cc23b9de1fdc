#include "policy/config.hpp"

#include <toml++/toml.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace agentd::policy {

namespace {

// The first error found, as "file:line:column: key: problem".
struct ConfigError {
  std::string message;
};

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const toml::node& node, const std::string& key,
                         const std::string& problem) const {
    const auto& where = node.source().begin;
    throw ConfigError{file_ + ":" + std::to_string(where.line) + ":" +
                      std::to_string(where.column) + ": " + key + ": " + problem};
  }

  const toml::table& table(const toml::node& node, const std::string& key) const {
    if (!node.is_table()) fail(node, key, "expected a table");
    return *node.as_table();
  }

  void check_keys(const toml::table& table, const std::string& prefix,
                  std::initializer_list<std::string_view> known) const {
    for (const auto& [name, node] : table) {
      bool ok = false;
      for (auto k : known) ok = ok || name.str() == k;
      if (!ok) {
        std::string list;
        for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        fail(node, prefix + std::string(name.str()), "unknown key (known: " + list + ")");
      }
    }
  }

  Limits limits(const toml::node& node, const std::string& key) const {
    const auto& t = table(node, key);
    Limits out;
    for (const auto& [name, value] : t) {
      std::string full = key + "." + std::string(name.str());
      const LimitField* field = nullptr;
      for (const auto& f : kLimitFields) {
        if (name.str() == f.wire_name) field = &f;
      }
      if (!field) fail(value, full, "unknown limit (see initialize's defaultLimits for names)");
      auto n = value.value_exact<int64_t>();
      if (!value.is_integer() || !n || *n < 1) fail(value, full, "expected a positive integer");
      out.*field->member = uint64_t(*n);
    }
    return out;
  }

  std::vector<std::string> paths(const toml::node& node, const std::string& key,
                                 bool allow_patterns) const {
    if (!node.is_array()) fail(node, key, "expected an array of paths");
    std::vector<std::string> out;
    size_t i = 0;
    for (const auto& item : *node.as_array()) {
      std::string item_key = key + "[" + std::to_string(i++) + "]";
      auto s = item.value_exact<std::string>();
      if (!s) fail(item, item_key, "expected a string");
      bool absolute = !s->empty() && (*s)[0] == '/';
      bool pattern = s->rfind("~/", 0) == 0 || (s->rfind("*/", 0) == 0 && s->size() > 2);
      if (!absolute && !(allow_patterns && pattern)) {
        fail(item, item_key,
             allow_patterns ? "expected an absolute path, \"~/...\" or \"*/...\""
                            : "expected an absolute path");
      }
      out.push_back(*s);
    }
    return out;
  }

  Profile profile(const ProfileSet& set, const std::string& name, const toml::node& node) const {
    std::string key = "profiles." + name;
    const auto& t = table(node, key);
    check_keys(t, key + ".",
               {"base", "limits", "readOnlyPaths", "allowHostNetwork", "protectedPaths"});
    std::string base_name = "default";
    if (const auto* base = t.get("base")) {
      auto s = base->value_exact<std::string>();
      if (!s) fail(*base, key + ".base", "expected a string");
      base_name = *s;
    }
    const Profile* base = set.find(base_name);
    if (!base || base->source != "builtin") {
      fail(t.get("base") ? *t.get("base") : node, key + ".base",
           "\"" + base_name +
               "\" is not a built-in profile (strict, default, permissive, "
               "workstation)");
    }
    Profile out = *base;
    out.name = name;
    out.source = "config";
    if (const auto* n = t.get("limits"))
      out.limits = overlay(out.limits, limits(*n, key + ".limits"));
    if (const auto* n = t.get("readOnlyPaths"))
      out.read_only_paths = paths(*n, key + ".readOnlyPaths", false);
    if (const auto* n = t.get("protectedPaths"))
      out.protected_paths = paths(*n, key + ".protectedPaths", true);
    if (const auto* n = t.get("allowHostNetwork")) {
      auto b = n->value_exact<bool>();
      if (!b) fail(*n, key + ".allowHostNetwork", "expected true or false");
      if (*b && out.isolation == Isolation::kNone) {
        fail(*n, key + ".allowHostNetwork", "has no meaning for isolation \"none\"");
      }
      out.allow_host_network = *b;
    }
    return out;
  }

  ProfileSet config(const toml::table& root) const {
    check_keys(root, "", {"limits", "protectedPaths", "profiles"});
    ProfileSet set;
    if (const auto* n = root.get("protectedPaths")) {
      auto list = paths(*n, "protectedPaths", true);
      for (const auto& p : set.all()) set.find(p.name)->protected_paths = list;
    }
    if (const auto* n = root.get("limits")) {
      Limits l = limits(*n, "limits");
      for (const char* name : {"default", "workstation"}) {
        set.find(name)->limits = overlay(set.find(name)->limits, l);
      }
    }
    if (const auto* n = root.get("profiles")) {
      for (const auto& [name, node] : table(*n, "profiles")) {
        std::string profile_name(name.str());
        if (set.find(profile_name)) {
          fail(node, "profiles." + profile_name,
               "is a built-in profile; define a new name with base = \"" + profile_name + "\"");
        }
        set.add(profile(set, profile_name, node));
      }
    }
    return set;
  }

 private:
  std::string file_;
};

}  // namespace

base::Result<ProfileSet> parse_config(std::string_view text, const std::string& file) {
  try {
    toml::table root = toml::parse(text, file);
    return Reader(file).config(root);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return base::plain_error(file + ":" + std::to_string(where.line) + ":" +
                             std::to_string(where.column) + ": " + std::string(e.description()));
  } catch (const ConfigError& e) {
    return base::plain_error(e.message);
  }
}

base::Result<ProfileSet> load_config(const std::string& path, bool optional) {
  std::ifstream in(path);
  if (!in) {
    int err = errno;
    if (optional && err == ENOENT) return ProfileSet();
    return base::errno_error("config file \"" + path + "\"", err);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

std::string default_config_path() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && xdg[0] == '/') {
    return std::string(xdg) + "/agentd/config.toml";
  }
  if (const char* home = std::getenv("HOME"); home && home[0] == '/') {
    return std::string(home) + "/.config/agentd/config.toml";
  }
  return "";
}

}  // namespace agentd::policy
