// Creates a sandbox (linux if agentd says it is available, else explicitly host-direct),
// runs `uname -a`, prints its output as it streams in, then its exit status.
//
//   build/clients/cpp/agentd_client_example [path/to/agentd]
#include <iostream>

#include "agentd/client/client.hpp"

namespace ac = agentd::client;

namespace {

bool linux_available(const ac::json& init) {
  for (const auto& b : init.at("backends"))
    if (b.value("isolation", "") == "linux") return b.value("available", false);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    ac::ClientOptions options;
    options.agentd_path = argc > 1 ? argv[1] : AGENTD_DEFAULT_PATH;
    options.forward_stderr = false;  // agentd's log; set true to see it
    ac::Client client(options);
    client.on_notification([](const ac::Notification& n) {  // runs on the reader thread
      if (n.method != "exec/output") return;
      auto bytes = ac::base64_decode(n.params.at("data").get<std::string>());
      (n.params.value("stream", "") == "stderr" ? std::cerr : std::cout) << bytes << std::flush;
    });

    ac::json init = client.initialize();
    const std::string isolation = linux_available(init) ? "linux" : "none";
    ac::json sandbox = client.sandbox_create({{"isolation", isolation}});
    const std::string sandbox_id = sandbox.at("sandboxId");
    std::cout << "sandbox " << sandbox_id << " (isolation " << isolation << ", network "
              << sandbox.value("network", "?") << ")\n";

    const std::string exec_id = client.exec_start(sandbox_id, {"uname", "-a"});
    ac::ExecResult result = client.wait_exit(exec_id);
    std::cout << exec_id << ": " << result.status();
    if (auto code = result.exit_code()) std::cout << ", exit code " << *code;
    if (result.exit.contains("reason")) std::cout << " (" << result.exit["reason"] << ")";
    std::cout << ", " << result.stdout_bytes << " bytes of stdout\n";

    client.sandbox_destroy(sandbox_id);
    client.shutdown();
    return result.exit_code() == 0 ? 0 : 1;
  } catch (const ac::RpcError& e) {
    std::cerr << "agentd refused: " << e.what() << "\n";
    if (!e.data().is_null()) std::cerr << "data: " << e.data().dump() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
  }
  return 1;
}
