// fs/read, fs/write, fs/list, fs/stat, fs/remove, fs/mkdir, fs/move: files
// of a sandbox, with paths as its processes see them. The work is done by
// the sandbox (sandbox::Sandbox::file_op), confined by the kernel.
#include "api/session.hpp"
#include "base/base64.hpp"
#include "base/utf8.hpp"

namespace agentd::api {

namespace {

json entry_to_json(const sandbox::FileEntry& e) {
  return {{"name", e.name},
          {"type", e.type},
          {"size", e.size},
          {"mode", e.mode},
          {"mtimeMs", e.mtime_ms}};
}

// The wire name of a parameter a FileError names.
std::string wire_field(const std::string& op, const std::string& field) {
  if (op == "move" && (field == "path" || field == "from")) return "from";
  return field;
}

rpc::RpcError file_error_to_rpc(const std::string& op, const sandbox::FileError& error,
                                const sandbox::FileRequest& request) {
  using Kind = sandbox::FileError::Kind;
  std::string field = wire_field(op, error.field);
  const std::string& path = error.field == "to" ? request.to : request.path;
  json data = {{"path", path}};
  if (error.kind == Kind::kEscape) {
    data["reason"] = "outsideSandbox";
    return {rpc::code::kInvalidParams, "params." + field + ": " + error.message, data};
  }
  if (error.kind == Kind::kInvalid && field != "sandboxId") {
    return {rpc::code::kInvalidParams, "params." + field + ": " + error.message, data};
  }
  data["errno"] = sandbox::errno_name(error.err);
  return {rpc::code::kOperationFailed, error.message, data};
}

sandbox::FileRequest parse_write(rpc::ParamReader& reader, sandbox::FileRequest request) {
  auto data = reader.optional_string("data");
  auto text = reader.optional_string("text");
  if (data.has_value() == text.has_value())
    reader.fail("data", "give exactly one of data (base64) and text");
  if (data) {
    auto bytes = base::base64_decode(*data);
    if (!bytes) reader.fail("data", "must be base64 (standard alphabet, padded)");
    request.data = std::move(*bytes);
  } else {
    request.data = std::move(*text);
  }
  if (request.data.size() > sandbox::kMaxFileBytes) {
    reader.fail(data ? "data" : "text", "at most " + std::to_string(sandbox::kMaxFileBytes) +
                                            " bytes per call; write the rest with mode \"append\"");
  }
  request.write_mode =
      reader.optional_enum("mode", {"create", "overwrite", "append"}).value_or("overwrite");
  request.create_parents = reader.optional_bool("createParents").value_or(false);
  if (auto mode = reader.optional_uint("permissions", 0, 07777))
    request.permissions = uint32_t(*mode);
  return request;
}

// Parses the op-specific parameters; `utf8` is set for fs/read with encoding utf8.
sandbox::FileRequest parse_file_request(const std::string& op, rpc::ParamReader& reader,
                                        bool& utf8) {
  sandbox::FileRequest request;
  request.op = op;
  if (op == "move") {
    request.path = reader.required_string("from");
    request.to = reader.required_string("to");
    request.overwrite = reader.optional_bool("overwrite").value_or(false);
    return request;
  }
  request.path =
      op == "list" ? reader.optional_string("path").value_or(".") : reader.required_string("path");
  if (op == "read") {
    request.offset = reader.optional_uint("offset").value_or(0);
    request.length = reader.optional_uint("length", 0, sandbox::kMaxFileBytes);
    utf8 = reader.optional_enum("encoding", {"base64", "utf8"}).value_or("base64") == "utf8";
  } else if (op == "write") {
    request = parse_write(reader, std::move(request));
  } else if (op == "remove") {
    request.recursive = reader.optional_bool("recursive").value_or(false);
  } else if (op == "mkdir") {
    request.parents = reader.optional_bool("parents").value_or(false);
  }
  return request;
}

json read_result(sandbox::FileReply& reply, bool utf8) {
  json result = {{"size", reply.size}, {"eof", reply.eof}};
  if (!utf8) {
    result["data"] = base::base64_encode(reply.data);
    result["encoding"] = "base64";
    return result;
  }
  base::Utf8ChunkDecoder decoder;
  auto text = decoder.decode(reply.data);
  auto rest = decoder.finish();
  result["data"] = text.text + rest.text;
  result["encoding"] = "utf8";
  if (text.replaced || rest.replaced) result["replaced"] = true;
  return result;
}

}  // namespace

void Session::bind_file_methods() {
  // Method names are literals: on_request keeps the pointer.
  static const std::pair<const char*, const char*> kFileMethods[] = {
      {"fs/read", "read"},     {"fs/write", "write"}, {"fs/list", "list"}, {"fs/stat", "stat"},
      {"fs/remove", "remove"}, {"fs/mkdir", "mkdir"}, {"fs/move", "move"}};
  for (const auto& [method, op] : kFileMethods) {
    on_request(method, [this, op = op](const json& params, rpc::Reply reply) {
      file_method(op, params, std::move(reply));
    });
  }
  auto bind = [this](const char* method, void (Session::*handler)(const json&, rpc::Reply)) {
    on_request(method, [this, handler](const json& params, rpc::Reply reply) {
      (this->*handler)(params, std::move(reply));
    });
  };
  bind("sandbox/snapshot", &Session::sandbox_snapshot);
  bind("sandbox/restore", &Session::sandbox_restore);
  bind("snapshot/list", &Session::snapshot_list);
  bind("snapshot/delete", &Session::snapshot_delete);
}

void Session::file_method(const std::string& op, const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  SandboxEntry& entry = find_sandbox(reader.required_string("sandboxId"));
  bool utf8 = false;
  sandbox::FileRequest request = parse_file_request(op, reader, utf8);
  reader.reject_unknown();
  if (entry.suspended) {
    throw rpc::RpcError{rpc::code::kInvalidState,
                        "sandbox " + entry.id + " is suspended; sandbox/resume it first",
                        json{{"sandboxId", entry.id}}};
  }
  sandbox::FileReply done = entry.sandbox->file_op(request);
  if (done.error) throw file_error_to_rpc(op, *done.error, request);
  if (op == "write" || op == "remove" || op == "mkdir" || op == "move") {
    json fields = {{"sandboxId", entry.id}, {"method", "fs/" + op}, {"path", request.path}};
    if (op == "move") fields["to"] = request.to;
    audit("fs.changed", std::move(fields));
  }
  if (op == "read") return reply.result(read_result(done, utf8));
  if (op == "write") return reply.result({{"bytesWritten", done.bytes_written}});
  if (op == "list") {
    json entries = json::array();
    for (const auto& e : done.entries) entries.push_back(entry_to_json(e));
    return reply.result({{"entries", std::move(entries)}, {"truncated", done.truncated}});
  }
  if (op == "stat") {
    json result = entry_to_json(done.entry);
    result["path"] = request.path;
    return reply.result(std::move(result));
  }
  reply.result(json::object());  // remove, mkdir, move
}

}  // namespace agentd::api
