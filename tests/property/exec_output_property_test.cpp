// Property: what a program writes reaches the output callbacks byte for byte,
// on the right stream, whatever the bytes and however the pipe splits them.
// Runs real processes, so ctest keeps the number of cases modest (RC_PARAMS).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <fstream>
#include <random>
#include <string>

#include "support/exec_runner.hpp"

namespace agentd::exec {
namespace {

// Arbitrary bytes: a shrinkable part, optionally followed by a large
// pseudo-random block so that output spans many pipe reads.
std::string gen_content() {
  std::string bytes = *rc::gen::container<std::string>(rc::gen::arbitrary<char>());
  if (*rc::gen::arbitrary<bool>()) {
    size_t size = *rc::gen::inRange<size_t>(0, 400000);
    std::mt19937 prng(*rc::gen::arbitrary<uint32_t>());
    for (size_t i = 0; i < size; ++i) bytes += char(prng());
  }
  return bytes;
}

RC_GTEST_PROP(ExecOutputProperty, CallbacksReassembleExactlyWhatWasWritten, ()) {
  std::string content = gen_content();
  test_support::HostExecRunner runner;
  std::string file = runner.workdir() + "/content.bin";
  std::ofstream(file, std::ios::binary).write(content.data(), std::streamsize(content.size()));

  // Both streams at once, so that their pumps interleave.
  auto req = runner.request({"sh", "-c", "cat \"$1\" & cat \"$1\" >&2; wait", "sh", file});
  test_support::ExecRun r = runner.run(req);
  RC_ASSERT(!r.launch_failure.has_value());
  RC_ASSERT(r.finished);
  RC_ASSERT(r.exit_calls == 1);
  RC_ASSERT(r.outcome.status == ExecStatus::kExited);
  RC_ASSERT(r.outcome.exit_code == 0);
  RC_ASSERT(r.out.size() == content.size());
  RC_ASSERT(r.out == content);
  RC_ASSERT(r.err == content);
  RC_ASSERT(r.outcome.stdout_bytes == content.size());
  RC_ASSERT(r.outcome.stderr_bytes == content.size());
  RC_ASSERT(!r.outcome.truncated);
}

RC_GTEST_PROP(ExecOutputProperty, OutputLimitDeliversAnExactPrefix, ()) {
  std::string content = gen_content();
  RC_PRE(!content.empty());
  uint64_t limit = *rc::gen::inRange<uint64_t>(1, content.size() + 1);
  test_support::HostExecRunner runner;
  std::string file = runner.workdir() + "/content.bin";
  std::ofstream(file, std::ios::binary).write(content.data(), std::streamsize(content.size()));

  test_support::ExecRun r = runner.run(runner.request({"cat", file}), {.max_output_bytes = limit});
  RC_ASSERT(r.finished);
  RC_ASSERT(r.out == content.substr(0, limit));
  RC_ASSERT(r.outcome.stdout_bytes == std::min<uint64_t>(limit, content.size()));
  RC_ASSERT(r.outcome.truncated == (content.size() > limit));
  RC_ASSERT((r.outcome.status == ExecStatus::kOutputLimit) == (content.size() > limit));
}

}  // namespace
}  // namespace agentd::exec
