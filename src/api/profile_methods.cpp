// profile/list, and the request hook that sends refusals to the audit log.
#include "api/session.hpp"

namespace agentd::api {

namespace {

json profile_to_json(const policy::Profile& profile) {
  return {{"name", profile.name},
          {"isolation", policy::isolation_name(profile.isolation)},
          {"limits", limits_to_json(profile.limits)},
          {"network", policy::network_name(profile.network)},
          {"allowHostNetwork", profile.allow_host_network},
          {"readOnlyPaths", profile.read_only_paths},
          {"protectedPaths", profile.protected_paths},
          {"syscallPolicy", profile.syscall_policy},
          // Honest about today's state: the policy name is recorded, the
          // filter is not yet per profile.
          {"seccomp", profile.isolation == policy::Isolation::kNone
                          ? "none (host-direct has no syscall filter)"
                          : "default deny-list (the same filter for every linux profile for now)"},
          {"source", profile.source}};
}

}  // namespace

void Session::profile_list(const json& params, rpc::Reply reply) {
  rpc::ParamReader reader(params, "params");
  reader.reject_unknown();
  json list = json::array();
  for (const auto& profile : options_.profiles->all()) list.push_back(profile_to_json(profile));
  reply.result({{"profiles", std::move(list)}});
}

void Session::on_request(const char* method, rpc::Dispatcher::RequestHandler handler) {
  dispatcher_.on_request(
      method, [this, method, handler = std::move(handler)](const json& params, rpc::Reply reply) {
        try {
          handler(params, std::move(reply));
        } catch (const rpc::RpcError& error) {
          audit("request.refused",
                {{"method", method}, {"code", error.code}, {"message", error.message}});
          throw;
        }
      });
}

}  // namespace agentd::api
