// sandbox/snapshot, sandbox/restore, snapshot/list, snapshot/delete and
// sandbox/create's fromSnapshot: saved copies of a sandbox's workdir (its
// writable state), kept by sandbox::SnapshotStore until deleted or agentd exits.
#include <signal.h>

#include <boost/asio/steady_timer.hpp>
#include <ctime>

#include "api/session.hpp"
#include "base/utc_time.hpp"
#include "base/log.hpp"

namespace agentd::api {

namespace {

constexpr auto kStopBound = std::chrono::seconds(10);

json snapshot_to_json(const sandbox::SnapshotStore::Snapshot& s) {
  return {{"snapshotId", s.id},        {"name", s.name},     {"sandboxId", s.sandbox_id},
          {"sizeBytes", s.size_bytes}, {"method", s.method}, {"createdAt", base::utc_time(s.created)}};
}

rpc::RpcError no_snapshot(const std::string& field, const std::string& id) {
  return {rpc::code::kInvalidParams,
          "params." + field + ": no snapshot \"" + id + "\" (see snapshot/list)",
          json{{"snapshotId", id}}};
}

}  // namespace

const sandbox::SnapshotStore::Snapshot* Session::snapshot_for_create(
    const policy::SandboxSpec& spec) {
  if (!spec.from_snapshot) return nullptr;
  if (spec.workdir) {
    throw rpc::invalid_params(
        "params.fromSnapshot: cannot be combined with workdir (the snapshot "
        "is copied into a fresh workdir)");
  }
  const auto* snapshot = snapshots_ ? snapshots_->find(*spec.from_snapshot) : nullptr;
  if (!snapshot) throw no_snapshot("fromSnapshot", *spec.from_snapshot);
  return snapshot;
}

// The new sandbox's workdir is empty and nothing runs in it yet.
void Session::seed_from_snapshot(const sandbox::SnapshotStore::Snapshot& snapshot,
                                 SandboxEntry& entry) {
  auto copied = snapshots_->restore(snapshot, entry.sandbox->workdir());
  if (copied) return;
  entry.sandbox->destroy(/*keep_workdir=*/false);
  throw rpc::RpcError{rpc::code::kOperationFailed,
                      "copying snapshot " + snapshot.id +
                          " into the new sandbox failed: " + copied.error().message(),
                      json{{"snapshotId", snapshot.id}}};
}

// The copy is taken while the sandbox may be running: suspend it first for
// a consistent point in time.
void Session::sandbox_snapshot(const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  SandboxEntry& entry = find_sandbox(reader.required_string("sandboxId"));
  std::string name = reader.optional_string("name").value_or("");
  reader.reject_unknown();
  if (!snapshots_) snapshots_ = std::make_unique<sandbox::SnapshotStore>(options_.workdir_root);
  auto taken = snapshots_->take(entry.sandbox->workdir(), entry.id, name);
  if (!taken) {
    throw rpc::RpcError{rpc::code::kOperationFailed,
                        "snapshot of " + entry.id + " failed: " + taken.error().message(),
                        json{{"sandboxId", entry.id}}};
  }
  base::log_info("snapshot " + taken->id + " of " + entry.id + " (" +
                 std::to_string(taken->size_bytes) + " bytes, " + taken->method + ")");
  audit("snapshot.taken",
        {{"snapshotId", taken->id}, {"sandboxId", entry.id}, {"sizeBytes", taken->size_bytes}});
  reply.result(snapshot_to_json(*taken));
}

// Without stopProcesses a sandbox with running execs is refused; with it,
// they are killed and the restore waits (bounded) until each has exited.
void Session::sandbox_restore(const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  SandboxEntry& entry = find_sandbox(reader.required_string("sandboxId"));
  std::string snapshot_id = reader.required_string("snapshotId");
  bool stop = reader.optional_bool("stopProcesses").value_or(false);
  reader.reject_unknown();
  if (!snapshots_ || !snapshots_->find(snapshot_id)) throw no_snapshot("snapshotId", snapshot_id);
  if (entry.suspended) {
    throw rpc::RpcError{rpc::code::kInvalidState,
                        "sandbox " + entry.id + " is suspended; sandbox/resume it first",
                        json{{"sandboxId", entry.id}}};
  }
  if (!entry.exec_ids.empty() && !stop) {
    throw rpc::RpcError{rpc::code::kInvalidState,
                        "sandbox " + entry.id + " has " + std::to_string(entry.exec_ids.size()) +
                            " running exec(s); wait for them, or pass stopProcesses: true",
                        json{{"sandboxId", entry.id}, {"execs", entry.exec_ids}}};
  }
  for (const auto& exec_id : entry.exec_ids) {
    if (auto it = execs_.find(exec_id); it != execs_.end()) it->second.session->kill(SIGKILL);
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(io_);
  auto pending = std::make_shared<rpc::Reply>(std::move(reply));
  auto deadline = std::chrono::steady_clock::now() + kStopBound;
  auto attempt = std::make_shared<std::function<void()>>();
  // The closure holds itself weakly; a waiting timer handler holds it strongly.
  *attempt = [this, timer, pending, deadline, weak = std::weak_ptr(attempt), sandbox_id = entry.id,
              snapshot_id] {
    auto it = sandboxes_.find(sandbox_id);
    const auto* snapshot = snapshots_->find(snapshot_id);
    if (it == sandboxes_.end() || it->second.destroying || !snapshot) {
      pending->error({rpc::code::kInvalidState, "the sandbox or the snapshot went away meanwhile",
                      json{{"sandboxId", sandbox_id}, {"snapshotId", snapshot_id}}});
    } else if (!it->second.exec_ids.empty()) {
      if (std::chrono::steady_clock::now() > deadline) {
        pending->error({rpc::code::kInvalidState,
                        "the execs of " + sandbox_id + " did not exit within 10 s",
                        json{{"sandboxId", sandbox_id}}});
      } else {
        timer->expires_after(std::chrono::milliseconds(10));
        timer->async_wait([self = weak.lock()](boost::system::error_code) { (*self)(); });
        return;
      }
    } else if (auto copied = snapshots_->restore(*snapshot, it->second.sandbox->workdir());
               !copied) {
      pending->error({rpc::code::kOperationFailed,
                      "restore of " + sandbox_id + " failed: " + copied.error().message(),
                      json{{"sandboxId", sandbox_id}, {"snapshotId", snapshot_id}}});
    } else {
      base::log_info("restored " + sandbox_id + " from " + snapshot_id);
      audit("snapshot.restored", {{"snapshotId", snapshot_id}, {"sandboxId", sandbox_id}});
      pending->result({{"sandboxId", sandbox_id},
                       {"snapshotId", snapshot_id},
                       {"sizeBytes", copied->bytes},
                       {"method", copied->method()}});
    }
  };
  (*attempt)();
}

void Session::snapshot_list(const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  reader.reject_unknown();
  json list = json::array();
  if (snapshots_) {
    for (const auto* s : snapshots_->list()) list.push_back(snapshot_to_json(*s));
  }
  reply.result({{"snapshots", std::move(list)}});
}

void Session::snapshot_delete(const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  std::string id = reader.required_string("snapshotId");
  reader.reject_unknown();
  if (!snapshots_ || !snapshots_->remove(id)) throw no_snapshot("snapshotId", id);
  audit("snapshot.deleted", {{"snapshotId", id}});
  reply.result({{"snapshotId", id}, {"deleted", true}});
}

}  // namespace agentd::api
