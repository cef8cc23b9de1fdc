// The control-protocol form of file requests and replies (agentd <-> the
// init of a linux sandbox). Not the wire format of the API (see api/).
#include "base/base64.hpp"
#include "sandbox/file_ops.hpp"

namespace agentd::sandbox {

using json = nlohmann::json;

namespace {

json entry_to_json(const FileEntry& e) {
  return {{"name", e.name},
          {"type", e.type},
          {"size", e.size},
          {"mode", e.mode},
          {"mtimeMs", e.mtime_ms}};
}

FileEntry entry_from_json(const json& j) {
  FileEntry e;
  e.name = j.at("name").get<std::string>();
  e.type = j.at("type").get<std::string>();
  e.size = j.at("size").get<uint64_t>();
  e.mode = j.at("mode").get<uint32_t>();
  e.mtime_ms = j.at("mtimeMs").get<int64_t>();
  return e;
}

}  // namespace

json file_request_to_json(const FileRequest& r) {
  json j = {{"fsOp", r.op},
            {"path", r.path},
            {"to", r.to},
            {"offset", r.offset},
            {"writeMode", r.write_mode},
            {"createParents", r.create_parents},
            {"parents", r.parents},
            {"recursive", r.recursive},
            {"overwrite", r.overwrite},
            {"data", base::base64_encode(r.data)}};
  if (r.length) j["length"] = *r.length;
  if (r.permissions) j["permissions"] = *r.permissions;
  return j;
}

FileRequest file_request_from_json(const json& j) {
  FileRequest r;
  r.op = j.at("fsOp").get<std::string>();
  r.path = j.at("path").get<std::string>();
  r.to = j.at("to").get<std::string>();
  r.offset = j.at("offset").get<uint64_t>();
  r.write_mode = j.at("writeMode").get<std::string>();
  r.create_parents = j.at("createParents").get<bool>();
  r.parents = j.at("parents").get<bool>();
  r.recursive = j.at("recursive").get<bool>();
  r.overwrite = j.at("overwrite").get<bool>();
  auto data = base::base64_decode(j.at("data").get<std::string>());
  if (!data) throw json::other_error::create(501, "data is not base64", &j);
  r.data = std::move(*data);
  if (j.contains("length")) r.length = j["length"].get<uint64_t>();
  if (j.contains("permissions")) r.permissions = j["permissions"].get<uint32_t>();
  return r;
}

json file_reply_to_json(const FileReply& r) {
  if (r.error) {
    return {{"error",
             {{"kind", int(r.error->kind)},
              {"errno", r.error->err},
              {"field", r.error->field},
              {"message", r.error->message}}}};
  }
  json entries = json::array();
  for (const auto& e : r.entries) entries.push_back(entry_to_json(e));
  return {{"data", base::base64_encode(r.data)},
          {"size", r.size},
          {"eof", r.eof},
          {"bytesWritten", r.bytes_written},
          {"entries", std::move(entries)},
          {"truncated", r.truncated},
          {"entry", entry_to_json(r.entry)}};
}

FileReply file_reply_from_json(const json& j) {
  FileReply r;
  if (j.contains("error")) {
    const json& e = j["error"];
    int kind = e.at("kind").get<int>();
    if (kind < 0 || kind > int(FileError::Kind::kInvalid)) kind = int(FileError::Kind::kSystem);
    r.error = FileError{FileError::Kind(kind), e.at("errno").get<int>(),
                        e.at("field").get<std::string>(), e.at("message").get<std::string>()};
    return r;
  }
  auto data = base::base64_decode(j.at("data").get<std::string>());
  if (!data) throw json::other_error::create(501, "data is not base64", &j);
  r.data = std::move(*data);
  r.size = j.at("size").get<uint64_t>();
  r.eof = j.at("eof").get<bool>();
  r.bytes_written = j.at("bytesWritten").get<uint64_t>();
  for (const auto& e : j.at("entries")) r.entries.push_back(entry_from_json(e));
  r.truncated = j.at("truncated").get<bool>();
  r.entry = entry_from_json(j.at("entry"));
  return r;
}

}  // namespace agentd::sandbox
