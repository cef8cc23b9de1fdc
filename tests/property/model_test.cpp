// Stateful model test of the real agentd binary, driven over stdio by the C++ client
// (clients/cpp). RapidCheck generates random command sequences (sandbox/create, exec/start of
// small commands, exec/write, exec/kill, a cancelled exec/run, sandbox/destroy, sandbox/list and
// malformed requests) and checks every reply against a model of sandboxes and execs. At the end
// of each case all sandboxes are destroyed and every started exec must have produced exactly one
// exec/exit, gapless seq numbers, and exactly the output its command wrote.
//
// Cases run real processes: keep them modest (RC_PARAMS="max_success=25 max_size=20").
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <agentd/client/client.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#ifndef AGENTD_BINARY
#error "AGENTD_BINARY must name the agentd binary"
#endif

namespace {

using agentd::client::Client;
using agentd::client::json;
using agentd::client::Millis;

constexpr int kInvalidParams = -32602;
constexpr int kSandboxNotFound = -32001;
constexpr int kExecNotFound = -32003;
constexpr int kInvalidState = -32006;
constexpr int kRequestCancelled = -32800;

enum class Kind { kEcho, kCat, kSleep, kExit };

// ---- The model: pure values, indices instead of agentd's ids. ----

struct ExecModel {
  int sandbox = 0;
  Kind kind = Kind::kEcho;
  bool stdin_open = false;  // cat only: no eof sent, not killed, sandbox alive
  bool killed = false;      // exec/kill answered with success
};

struct SandboxModel {
  std::string isolation;
  bool alive = true;
};

struct Model {
  bool linux_available = false;
  std::vector<SandboxModel> sandboxes;
  std::vector<ExecModel> execs;

  bool any_alive() const {
    return std::any_of(sandboxes.begin(), sandboxes.end(), [](auto& s) { return s.alive; });
  }
  // Execs that certainly have not exited: cats whose stdin is still open.
  int surely_running(int sandbox) const {
    int n = 0;
    for (const auto& e : execs) n += e.sandbox == sandbox && e.stdin_open;
    return n;
  }
};

// ---- The system under test: a client of a fresh agentd, plus what each exec must show. ----

struct ExecExpectation {
  std::string id;
  Kind kind;
  std::string written;       // echo: the line; cat: the bytes written to stdin
  int exit_code = 0;         // kExit
  bool eof_sent = false;     // cat
  bool interrupted = false;  // killed or its sandbox destroyed before a known end
};

struct Sut {
  Client client;
  std::int64_t calls = 0;  // requests sent so far: the client numbers them 1, 2, ...
  std::vector<std::string> sandbox_ids;
  std::vector<ExecExpectation> execs;

  static agentd::client::ClientOptions options() {
    agentd::client::ClientOptions o;
    // $AGENTD_BINARY overrides the build's binary (e.g. a copy, for long runs during rebuilds).
    const char* path = std::getenv("AGENTD_BINARY");
    o.agentd_path = path && *path ? path : AGENTD_BINARY;
    o.forward_stderr = false;
    o.default_timeout = Millis{20'000};
    return o;
  }
  Sut() : client(options()) { call("initialize", json::object()); }

  json call(std::string_view method, json params) {
    ++calls;
    return client.call(method, std::move(params));
  }
  // The error code of a request that must fail.
  int error_of(std::string_view method, json params) {
    try {
      json result = call(method, std::move(params));
      RC_FAIL(std::string(method) + " succeeded unexpectedly: " + result.dump());
    } catch (const agentd::client::RpcError& e) {
      return e.code();
    }
    return 0;
  }
};

bool probe_linux() {
  static const bool available = [] {
    Client c(Sut::options());
    json init = c.initialize();
    for (const auto& b : init.at("backends")) {
      if (b.value("isolation", "") == "linux") return b.value("available", false);
    }
    return false;
  }();
  return available;
}

int pick_alive_sandbox(const Model& m) {
  std::vector<int> alive;
  for (int i = 0; i < static_cast<int>(m.sandboxes.size()); ++i) {
    if (m.sandboxes[i].alive) alive.push_back(i);
  }
  RC_PRE(!alive.empty());
  return *rc::gen::elementOf(alive);
}

std::string random_text() {
  // Starts with a letter so that echo never takes it for an option.
  return "t" + *rc::gen::container<std::string>(
                   rc::gen::oneOf(rc::gen::inRange('a', static_cast<char>('z' + 1)),
                                  rc::gen::inRange('0', static_cast<char>('9' + 1)),
                                  rc::gen::element(' ', '.', '-', '_')));
}

using Command = rc::state::Command<Model, Sut>;

// ---- Commands ----

struct CreateSandbox : Command {
  std::string isolation;
  explicit CreateSandbox(const Model& m)
      : isolation(m.linux_available ? *rc::gen::element<std::string>("none", "linux")
                                    : std::string("none")) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE(m.sandboxes.size() < 4);
    RC_PRE((isolation == "none" || m.linux_available));
  }
  void apply(Model& m) const override { m.sandboxes.push_back({isolation, true}); }
  void run(const Model& m, Sut& sut) const override {
    json r = sut.call("sandbox/create", {{"isolation", isolation}});
    std::string id = r.at("sandboxId");
    RC_ASSERT(std::find(sut.sandbox_ids.begin(), sut.sandbox_ids.end(), id) ==
              sut.sandbox_ids.end());
    sut.sandbox_ids.push_back(id);
  }
  void show(std::ostream& os) const override { os << "sandbox/create " << isolation; }
};

struct StartExec : Command {
  int sandbox;
  Kind kind;
  std::string text;
  int exit_code;
  explicit StartExec(const Model& m)
      : sandbox(pick_alive_sandbox(m)),
        kind(*rc::gen::element(Kind::kEcho, Kind::kCat, Kind::kSleep, Kind::kExit)),
        text(kind == Kind::kEcho ? random_text() : std::string()),
        exit_code(kind == Kind::kExit ? *rc::gen::inRange(0, 256) : 0) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE((sandbox < static_cast<int>(m.sandboxes.size()) && m.sandboxes[sandbox].alive));
    RC_PRE(m.execs.size() < 24);
  }
  void apply(Model& m) const override {
    m.execs.push_back({sandbox, kind, kind == Kind::kCat, false});
  }
  std::vector<std::string> argv() const {
    switch (kind) {
      case Kind::kEcho:
        return {"echo", text};
      case Kind::kCat:
        return {"cat"};
      case Kind::kSleep:
        return {"sleep", "5"};
      case Kind::kExit:
        return {"sh", "-c", "exit " + std::to_string(exit_code)};
    }
    return {};
  }
  void run(const Model& m, Sut& sut) const override {
    json params{{"sandboxId", sut.sandbox_ids[sandbox]}, {"argv", argv()}};
    if (kind == Kind::kCat) params["stdin"] = "pipe";
    json r = sut.call("exec/start", params);
    std::string id = r.at("execId");
    RC_ASSERT(r.at("pid").is_number_integer());
    for (const auto& e : sut.execs) RC_ASSERT(e.id != id);
    ExecExpectation x{id, kind, kind == Kind::kEcho ? text + "\n" : "", exit_code};
    sut.execs.push_back(x);
  }
  void show(std::ostream& os) const override {
    os << "exec/start sb#" << sandbox << " kind=" << static_cast<int>(kind) << " text=\"" << text
       << "\" exit=" << exit_code;
  }
};

struct WriteCat : Command {
  int exec;
  std::string text;
  bool eof;
  explicit WriteCat(const Model& m)
      : exec([&] {
          std::vector<int> open;
          for (int i = 0; i < static_cast<int>(m.execs.size()); ++i) {
            if (m.execs[i].stdin_open) open.push_back(i);
          }
          RC_PRE(!open.empty());
          return *rc::gen::elementOf(open);
        }()),
        text(random_text() + "\n"),
        eof(*rc::gen::inRange(0, 4) == 0) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE((exec < static_cast<int>(m.execs.size()) && m.execs[exec].stdin_open));
  }
  void apply(Model& m) const override {
    if (eof) m.execs[exec].stdin_open = false;
  }
  void run(const Model& m, Sut& sut) const override {
    auto& x = sut.execs[exec];
    json params{{"execId", x.id}, {"text", text}};
    if (eof) params["eof"] = true;
    json r = sut.call("exec/write", params);
    RC_ASSERT(r.at("bytesWritten").get<std::size_t>() == text.size());
    x.written += text;
    if (eof) x.eof_sent = true;
  }
  void show(std::ostream& os) const override {
    os << "exec/write ex#" << exec << " \"" << text.substr(0, text.size() - 1) << "\\n\""
       << (eof ? " eof" : "");
  }
};

// A write the model knows must fail: the exec's stdin is /dev/null or closed with eof, or its
// sandbox is gone (a cat killed while its stdin was open is the one racy case).
struct WriteRefused : Command {
  int exec;
  explicit WriteRefused(const Model& m)
      : exec([&] {
          std::vector<int> closed;
          for (int i = 0; i < static_cast<int>(m.execs.size()); ++i) {
            if (!m.execs[i].stdin_open) closed.push_back(i);
          }
          RC_PRE(!closed.empty());
          return *rc::gen::elementOf(closed);
        }()) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE((exec < static_cast<int>(m.execs.size()) && !m.execs[exec].stdin_open));
  }
  void apply(Model&) const override {}
  void run(const Model& m, Sut& sut) const override {
    const ExecModel& e = m.execs[exec];
    if (e.killed && m.sandboxes[e.sandbox].alive) {
      // exec/kill answers once the signal is sent; until the process is gone its stdin pipe
      // may still take bytes, so a write right after a kill may succeed.
      try {
        sut.call("exec/write", {{"execId", sut.execs[exec].id}, {"text", "x"}});
      } catch (const agentd::client::RpcError& err) {
        RC_ASSERT((err.code() == kInvalidState || err.code() == kExecNotFound));
      }
      return;
    }
    int code = sut.error_of("exec/write", {{"execId", sut.execs[exec].id}, {"text", "x"}});
    RC_ASSERT((code == kInvalidState || code == kExecNotFound));
    if (!m.sandboxes[m.execs[exec].sandbox].alive) RC_ASSERT(code == kExecNotFound);
  }
  void show(std::ostream& os) const override { os << "exec/write (refused) ex#" << exec; }
};

struct KillExec : Command {
  int exec;
  explicit KillExec(const Model& m)
      : exec([&] {
          RC_PRE(!m.execs.empty());
          return *rc::gen::inRange(0, static_cast<int>(m.execs.size()));
        }()) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE(exec < static_cast<int>(m.execs.size()));
  }
  void apply(Model& m) const override {
    // A kill may race with the exec's own end; only a cat with open stdin surely gets it.
    if (m.execs[exec].stdin_open) m.execs[exec].killed = true;
    m.execs[exec].stdin_open = false;
  }
  void run(const Model& m, Sut& sut) const override {
    const ExecModel& e = m.execs[exec];
    auto& x = sut.execs[exec];
    bool sandbox_alive = m.sandboxes[e.sandbox].alive;
    try {
      json r = sut.call("exec/kill", {{"execId", x.id}});
      RC_ASSERT(r.at("execId") == x.id);
      RC_ASSERT(r.at("signal") == "SIGKILL");
      RC_ASSERT(sandbox_alive);  // a destroyed sandbox's execs have all exited
      x.interrupted = true;
    } catch (const agentd::client::RpcError& err) {
      RC_ASSERT(err.code() == kExecNotFound);
      RC_ASSERT(!e.stdin_open);  // a cat waiting on open stdin cannot have exited
    }
  }
  void show(std::ostream& os) const override { os << "exec/kill ex#" << exec; }
};

// exec/run of `sleep 5`, cancelled with $/cancelRequest: must answer -32800 quickly.
struct RunCancelled : Command {
  int sandbox;
  explicit RunCancelled(const Model& m) : sandbox(pick_alive_sandbox(m)) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE((sandbox < static_cast<int>(m.sandboxes.size()) && m.sandboxes[sandbox].alive));
  }
  void apply(Model&) const override {}
  void run(const Model& m, Sut& sut) const override {
    std::int64_t id = ++sut.calls;  // the id the client gives this request
    json params{{"sandboxId", sut.sandbox_ids[sandbox]}, {"argv", {"sleep", "5"}}};
    auto answer = std::async(std::launch::async, [&sut, params] {
      try {
        return std::pair<int, json>(0, sut.client.call("exec/run", params));
      } catch (const agentd::client::RpcError& e) {
        return std::pair<int, json>(e.code(), json());
      }
    });
    // Until the run is answered: cancelling an id not yet received does nothing, so repeat.
    while (answer.wait_for(Millis{50}) != std::future_status::ready) {
      sut.client.notify("$/cancelRequest", {{"id", id}});
    }
    auto [code, result] = answer.get();
    RC_ASSERT(code == kRequestCancelled);  // not the natural end of the sleep
  }
  void show(std::ostream& os) const override { os << "exec/run+cancel sb#" << sandbox; }
};

// exec/run to completion: the result carries the exit and exactly the output.
struct RunEcho : Command {
  int sandbox;
  std::string text;
  explicit RunEcho(const Model& m) : sandbox(pick_alive_sandbox(m)), text(random_text()) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE((sandbox < static_cast<int>(m.sandboxes.size()) && m.sandboxes[sandbox].alive));
  }
  void apply(Model&) const override {}
  void run(const Model& m, Sut& sut) const override {
    json r = sut.call("exec/run", {{"sandboxId", sut.sandbox_ids[sandbox]},
                                   {"argv", {"sh", "-c", "echo \"$0\"; exit 3", text}}});
    RC_ASSERT(r.at("status") == "exited");
    RC_ASSERT(r.at("exitCode") == 3);
    RC_ASSERT(agentd::client::base64_decode(r.at("stdout").get<std::string>()) == text + "\n");
    RC_ASSERT(r.at("stderr") == "");
    RC_ASSERT(r.at("stdoutBytes") == text.size() + 1);
  }
  void show(std::ostream& os) const override {
    os << "exec/run sb#" << sandbox << " echo \"" << text << "\"";
  }
};

struct DestroySandbox : Command {
  int sandbox;
  explicit DestroySandbox(const Model& m) : sandbox(pick_alive_sandbox(m)) {}
  void checkPreconditions(const Model& m) const override {
    RC_PRE((sandbox < static_cast<int>(m.sandboxes.size()) && m.sandboxes[sandbox].alive));
  }
  void apply(Model& m) const override {
    m.sandboxes[sandbox].alive = false;
    for (auto& e : m.execs) {
      if (e.sandbox == sandbox) e.stdin_open = false;
    }
  }
  void run(const Model& m, Sut& sut) const override {
    json r = sut.call("sandbox/destroy", {{"sandboxId", sut.sandbox_ids[sandbox]}});
    RC_ASSERT(r.at("sandboxId") == sut.sandbox_ids[sandbox]);
    for (std::size_t i = 0; i < m.execs.size(); ++i) {
      if (m.execs[i].sandbox == sandbox) sut.execs[i].interrupted = true;
    }
  }
  void show(std::ostream& os) const override { os << "sandbox/destroy sb#" << sandbox; }
};

struct ListSandboxes : Command {
  explicit ListSandboxes(const Model&) {}
  void apply(Model&) const override {}
  void run(const Model& m, Sut& sut) const override {
    json r = sut.call("sandbox/list", json::object());
    std::map<std::string, json> listed;
    for (const auto& s : r.at("sandboxes")) listed[s.at("sandboxId")] = s;
    std::size_t alive = 0;
    for (std::size_t i = 0; i < m.sandboxes.size(); ++i) {
      const auto& id = sut.sandbox_ids[i];
      if (!m.sandboxes[i].alive) {
        RC_ASSERT(listed.count(id) == 0u);
        continue;
      }
      ++alive;
      RC_ASSERT(listed.count(id) == 1u);
      const json& s = listed[id];
      RC_ASSERT(s.at("isolation") == m.sandboxes[i].isolation);
      RC_ASSERT(s.at("state") == "ready");
      int max_running = 0;
      for (const auto& e : m.execs) max_running += e.sandbox == static_cast<int>(i);
      int running = s.at("runningExecs");
      RC_ASSERT(running >= m.surely_running(static_cast<int>(i)));
      RC_ASSERT(running <= max_running);
    }
    RC_ASSERT(listed.size() == alive);
  }
  void show(std::ostream& os) const override { os << "sandbox/list"; }
};

// Requests that must fail with a given code.
struct Malformed : Command {
  int variant;
  int sandbox = -1;  // a destroyed sandbox, for the variants that need one
  explicit Malformed(const Model& m) : variant(*rc::gen::inRange(0, 9)) {
    std::vector<int> dead;
    for (int i = 0; i < static_cast<int>(m.sandboxes.size()); ++i) {
      if (!m.sandboxes[i].alive) dead.push_back(i);
    }
    if (!dead.empty()) sandbox = *rc::gen::elementOf(dead);
  }
  void checkPreconditions(const Model& m) const override {
    RC_PRE(sandbox < static_cast<int>(m.sandboxes.size()));
    RC_PRE((sandbox < 0 || !m.sandboxes[sandbox].alive));
  }
  void apply(Model&) const override {}
  void run(const Model& m, Sut& sut) const override {
    std::string any_sb = sut.sandbox_ids.empty() ? "sb-424242" : sut.sandbox_ids.front();
    std::string dead_sb = sandbox >= 0 ? sut.sandbox_ids[sandbox] : "sb-424242";
    switch (variant) {
      case 0:
        RC_ASSERT(sut.error_of("sandbox/create", {{"isolation", "bogus"}}) == kInvalidParams);
        break;
      case 1:
        RC_ASSERT(sut.error_of("sandbox/create", json::object()) == kInvalidParams);
        break;
      case 2:
        RC_ASSERT(sut.error_of("exec/start", {{"sandboxId", any_sb}, {"argv", json::array()}}) ==
                  kInvalidParams);
        break;
      case 3:
        RC_ASSERT(sut.error_of("exec/start", {{"sandboxId", 7}, {"argv", {"true"}}}) ==
                  kInvalidParams);
        break;
      case 4:
        RC_ASSERT(sut.error_of("exec/kill", {{"execId", "ex-424242"}, {"signal", "NOPE"}}) ==
                  kInvalidParams);
        break;
      case 5:
        RC_ASSERT(sut.error_of("exec/start", {{"sandboxId", dead_sb}, {"argv", {"true"}}}) ==
                  kSandboxNotFound);
        break;
      case 6:
        RC_ASSERT(sut.error_of("sandbox/destroy", {{"sandboxId", dead_sb}}) == kSandboxNotFound);
        break;
      case 7:
        RC_ASSERT(sut.error_of("exec/kill", {{"execId", "ex-424242"}}) == kExecNotFound);
        break;
      case 8:
        RC_ASSERT(sut.error_of("exec/write", {{"execId", "ex-424242"}, {"text", "x"}}) ==
                  kExecNotFound);
        break;
    }
  }
  void show(std::ostream& os) const override {
    os << "malformed #" << variant << " (dead sb#" << sandbox << ")";
  }
};

// After the commands: destroy what is left, then every exec must have ended exactly once with
// what its command wrote.
void check_final(Sut& sut, const Model& m) {
  for (std::size_t i = 0; i < m.sandboxes.size(); ++i) {
    if (!m.sandboxes[i].alive) continue;
    sut.call("sandbox/destroy", {{"sandboxId", sut.sandbox_ids[i]}});
    for (std::size_t e = 0; e < m.execs.size(); ++e) {
      if (m.execs[e].sandbox == static_cast<int>(i)) sut.execs[e].interrupted = true;
    }
  }
  for (const auto& x : sut.execs) {
    auto r = sut.client.wait_exit(x.id, Millis{10'000});
    RC_ASSERT(r.exit_notifications == 1u);
    RC_ASSERT(r.seq_gaps == 0u);
    std::string status = r.status();
    bool killed = status == "killed";
    RC_ASSERT((status == "exited" || (killed && x.interrupted)));
    std::string expected = x.kind == Kind::kEcho || x.kind == Kind::kCat ? x.written : "";
    if (killed || (x.kind == Kind::kCat && !x.eof_sent)) {
      RC_ASSERT(expected.compare(0, r.stdout_data.size(), r.stdout_data) == 0);  // a prefix
    } else {
      RC_ASSERT(r.stdout_data == expected);
      RC_ASSERT(r.exit_code() == std::optional<int>(x.kind == Kind::kExit ? x.exit_code : 0));
    }
    RC_ASSERT(r.stderr_data.empty());
    RC_ASSERT(r.exit.value("stdoutBytes", -1) == static_cast<int>(r.stdout_data.size()));
  }
  // Nothing about any exec may arrive after its exec/exit.
  std::this_thread::sleep_for(Millis{50});
  RC_ASSERT(sut.client.unclaimed_execs().empty());
  RC_ASSERT(sut.call("sandbox/list", json::object()).at("sandboxes").empty());
  RC_ASSERT(sut.client.parse_errors() == 0u);
}

}  // namespace

RC_GTEST_PROP(AgentdModel, RandomCommandSequencesMatchTheModel, ()) {
  Model initial;
  initial.linux_available = probe_linux();
  Sut sut;
  auto commands = *rc::state::gen::commands(
      initial, rc::state::gen::execOneOfWithArgs<CreateSandbox, CreateSandbox, StartExec, StartExec,
                                                 StartExec, WriteCat, WriteCat, WriteRefused,
                                                 KillExec, RunCancelled, RunEcho, DestroySandbox,
                                                 ListSandboxes, Malformed>());
  Model state = initial;
  if (std::getenv("AGENTD_MODEL_VERBOSE")) rc::show(commands, std::cerr), std::cerr << "----\n";
  rc::state::runAll(commands, state, sut);
  rc::state::applyAll(commands, state);
  check_final(sut, state);
  RC_ASSERT(WIFEXITED(sut.client.shutdown()));
}
