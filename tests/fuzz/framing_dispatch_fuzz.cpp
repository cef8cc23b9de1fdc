// Fuzz target for the JSON-RPC input path: arbitrary bytes go through rpc::FrameParser, every
// frame goes to an rpc::Dispatcher with a few dummy handlers (no sandboxes). Checked: nothing
// crashes, every response is a well-formed JSON-RPC response, and every request with a string
// or integer id gets exactly one response carrying that id (batches included).
//
// Built two ways:
//   - with clang and -fsanitize=fuzzer (scripts/fuzz.sh): a libFuzzer target;
//   - with AGENTD_FUZZ_STANDALONE (the ctest build): a main() that runs every file of the seed
//     corpus, then N pseudo-random inputs from a fixed seed (mutations of the corpus and noise).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.hpp"
#include "rpc/dispatcher.hpp"
#include "rpc/framing.hpp"

namespace {

using agentd::rpc::json;

[[noreturn]] void fail(const std::string& what, std::string_view input) {
  std::fprintf(stderr, "framing_dispatch_fuzz: %s\n", what.c_str());
  std::fprintf(stderr, "input (%zu bytes): ", input.size());
  for (unsigned char c : input) std::fprintf(stderr, c >= 32 && c < 127 ? "%c" : "\\x%02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}

// The string/integer ids of the requests in one message body, with multiplicity: each must get
// exactly one response carrying it.
void expected_ids(std::string_view body, std::map<std::string, int>* ids) {
  json message = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) return;
  auto count = [&](const json& element) {
    if (!element.is_object() || !element.contains("id")) return;
    const json& id = element["id"];
    // A response from the client (jsonrpc 2.0, no method, a result or an error) is ignored.
    bool version_ok = element.contains("jsonrpc") && element["jsonrpc"] == "2.0";
    bool is_response = version_ok && !element.contains("method") &&
                       (element.contains("result") || element.contains("error"));
    if (is_response) return;
    if (id.is_string() || id.is_number_integer() || id.is_number_unsigned()) ++(*ids)[id.dump()];
  };
  if (message.is_array()) {
    for (const json& element : message) count(element);
  } else {
    count(message);
  }
}

void check_response(const json& response, std::map<std::string, int>* seen,
                    std::string_view input) {
  if (!response.is_object()) fail("response is not an object: " + response.dump(), input);
  if (response.value("jsonrpc", "") != "2.0") fail("no jsonrpc 2.0: " + response.dump(), input);
  if (!response.contains("id")) fail("response without id: " + response.dump(), input);
  if (response.contains("result") == response.contains("error")) {
    fail("not exactly one of result/error: " + response.dump(), input);
  }
  if (!response["id"].is_null()) ++(*seen)[response["id"].dump()];
}

int run_one(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::map<std::string, int> expected;
  std::map<std::string, int> seen;
  // Replies a handler chose to keep: answered or dropped later, in order.
  std::vector<agentd::rpc::Reply> deferred;

  agentd::rpc::Dispatcher dispatcher([&](const json& message) {
    if (message.is_array()) {
      if (message.empty()) fail("empty batch response", input);
      for (const json& response : message) check_response(response, &seen, input);
    } else if (message.is_object() && message.contains("method")) {
      // A notification from a handler; not a response.
    } else {
      check_response(message, &seen, input);
    }
  });
  using agentd::rpc::Reply;
  dispatcher.on_request("initialize",
                        [](const json&, Reply reply) { reply.result(json::object()); });
  dispatcher.on_request("echo", [](const json& params, Reply reply) { reply.result(params); });
  dispatcher.on_request("drop", [](const json&, Reply) {});
  dispatcher.on_request("throw", [](const json& params, Reply) {
    if (params.is_object() && params.contains("rpc")) {
      throw agentd::rpc::invalid_params("params.rpc: thrown");
    }
    throw std::runtime_error("thrown");
  });
  dispatcher.on_request("fail", [](const json&, Reply reply) {
    reply.error(agentd::rpc::invalid_params("params: always fails"));
  });
  dispatcher.on_request("defer",
                        [&](const json&, Reply reply) { deferred.push_back(std::move(reply)); });
  dispatcher.on_request("cancellable", [&](const json&, Reply reply) {
    auto slot = std::make_shared<Reply*>(nullptr);
    reply.on_cancel([&deferred, slot] {
      if (*slot && !(*slot)->answered()) (*slot)->cancelled();
    });
    deferred.push_back(std::move(reply));
    *slot = &deferred.back();  // invalidated on reallocation: reserve below keeps it stable
  });
  dispatcher.on_request("notify", [&](const json& params, Reply reply) {
    dispatcher.notify("x/event", params);
    reply.result(nullptr);
  });
  dispatcher.on_notification("note", [](const json& params) {
    if (params.is_object() && params.contains("throw")) throw std::runtime_error("note");
  });
  dispatcher.on_exit([](int) {});
  deferred.reserve(4096);

  agentd::rpc::FrameParser parser(/*max_message_bytes=*/4096);
  // Feed in a few pieces so that the parser sees split headers and bodies too.
  size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  for (std::string_view piece : {input.substr(0, cut), input.substr(cut)}) {
    parser.feed(piece);
    for (int guard = 0;; ++guard) {
      if (guard > 1'000'000) fail("parser does not make progress", input);
      auto outcome = parser.next();
      if (std::holds_alternative<agentd::rpc::NeedMoreBytes>(outcome)) break;
      if (auto* frame = std::get_if<agentd::rpc::Frame>(&outcome)) {
        if (frame->body.size() > 4096) fail("frame above max_message_bytes", input);
        expected_ids(frame->body, &expected);
        dispatcher.handle_message(frame->body);
        if (deferred.size() > 4000) {
          for (auto& reply : deferred)
            if (!reply.answered()) reply.result(1);
          deferred.clear();
        }
      } else {
        dispatcher.handle_frame_error(std::get<agentd::rpc::FrameError>(outcome).message);
      }
    }
  }
  // Answer half of the kept replies, drop the rest (which must answer InternalError).
  for (size_t i = 0; i < deferred.size(); ++i) {
    if (i % 2 == 0 && !deferred[i].answered()) deferred[i].result("late");
  }
  deferred.clear();
  if (expected != seen) {
    std::string diff;
    for (const auto& [id, n] : expected) {
      if (seen[id] != n)
        diff +=
            " " + id + " expected " + std::to_string(n) + " got " + std::to_string(seen[id]) + ";";
    }
    for (const auto& [id, n] : seen) {
      if (!expected.count(id)) diff += " " + id + " unexpected x" + std::to_string(n) + ";";
    }
    fail("responses do not match requests:" + diff, input);
  }
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  agentd::base::set_log_level(agentd::base::LogLevel::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return run_one(data, size);
}

#ifdef AGENTD_FUZZ_STANDALONE
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

// Usage: framing_dispatch_fuzz CORPUS_DIR [RANDOM_INPUTS] [SEED]
int main(int argc, char** argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [RANDOM_INPUTS] [SEED]\n", argv[0]);
    return 2;
  }
  long inputs = argc > 2 ? std::atol(argv[2]) : 20000;
  unsigned seed = argc > 3 ? static_cast<unsigned>(std::atol(argv[3])) : 12345;
  std::vector<std::string> corpus;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    std::ifstream in(entry.path(), std::ios::binary);
    corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "no seed inputs in %s\n", argv[1]);
    return 2;
  }
  for (const std::string& seed_input : corpus) {
    run_one(reinterpret_cast<const uint8_t*>(seed_input.data()), seed_input.size());
  }
  static const char* kTokens[] = {"{",
                                  "}",
                                  "[",
                                  "]",
                                  ",",
                                  ":",
                                  "\"id\":",
                                  "\"method\":",
                                  "\"jsonrpc\":\"2.0\"",
                                  "\"params\":",
                                  "\r\n",
                                  "\n",
                                  "Content-Length: ",
                                  "\r\n\r\n",
                                  "1",
                                  "-1",
                                  "\"echo\"",
                                  "\"defer\"",
                                  "\"drop\"",
                                  "\"throw\"",
                                  "\"shutdown\"",
                                  "\"initialize\"",
                                  "\"$/cancelRequest\"",
                                  "\"cancellable\"",
                                  "null",
                                  "1.5",
                                  "99999999999999999999",
                                  "\xff",
                                  "\xc3\xa9"};
  std::mt19937 rng(seed);
  for (long i = 0; i < inputs; ++i) {
    std::string input = corpus[rng() % corpus.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t pos = input.empty() ? 0 : rng() % (input.size() + 1);
      switch (rng() % 6) {
        case 0:
          if (pos < input.size()) input[pos] = static_cast<char>(rng());
          break;
        case 1:
          if (pos < input.size()) input.erase(pos, 1 + rng() % 8);
          break;
        case 2:
          input.insert(pos, kTokens[rng() % std::size(kTokens)]);
          break;
        case 3:
          input.insert(pos, corpus[rng() % corpus.size()]);
          break;
        case 4:
          input.insert(pos, std::string(1 + rng() % 4, static_cast<char>(rng())));
          break;
        case 5:
          if (pos < input.size()) input.resize(pos);
          break;
      }
    }
    run_one(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("framing_dispatch_fuzz: %zu seed inputs and %ld random inputs (seed %u): ok\n",
              corpus.size(), inputs, seed);
  return 0;
}
#endif
