// The fast paths of exec output: agentd's table-driven base64 encoder
// (base::base64_append) appends exactly what decodes back, and the C++
// client's decoder and DOM-free line reader give back exactly what was
// encoded, or refuse.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "agentd/client/client.hpp"
#include "api/output_encoder.hpp"
#include "base/base64.hpp"

namespace agentd {
namespace {

RC_GTEST_PROP(OutputFastPathProperty, AppendKeepsThePrefixAndDecodesBack,
              (const std::string& prefix, const std::string& bytes)) {
  std::string out = prefix;
  base::base64_append(bytes, out);
  RC_ASSERT(out.compare(0, prefix.size(), prefix) == 0);
  RC_ASSERT(out.size() == prefix.size() + (bytes.size() + 2) / 3 * 4);
  RC_ASSERT(base::base64_decode(out.substr(prefix.size())) == std::optional<std::string>(bytes));
}

RC_GTEST_PROP(OutputFastPathProperty, EncoderEncodeUsesTheSameBase64, (const std::string& bytes)) {
  RC_PRE(!bytes.empty());
  api::OutputEncoder encoder(/*utf8=*/false);
  nlohmann::json params;
  RC_ASSERT(encoder.encode(bytes, params));
  RC_ASSERT(params.at("data").get<std::string>() == base::base64_encode(bytes));
}

RC_GTEST_PROP(OutputFastPathProperty, ClientDecodesWhatAgentdEncodes,
              (const std::string& prefix, const std::string& bytes)) {
  std::string encoded;
  base::base64_append(bytes, encoded);
  std::string out = prefix;
  RC_ASSERT(client::base64_decode_append(encoded, &out) == bytes.size());
  RC_ASSERT(out == prefix + bytes);
}

RC_GTEST_PROP(OutputFastPathProperty, ClientRefusesBase64WithABadCharacter,
              (const std::string& bytes)) {
  RC_PRE(!bytes.empty());
  std::string encoded = base::base64_encode(bytes);
  size_t at = *rc::gen::inRange<size_t>(0, encoded.size());
  // Padding may legitimately sit at the end; anywhere else '=' is as bad as '*'.
  char bad = *rc::gen::element('*', '-', '\n', ' ', '\0', '=');
  RC_PRE(!(bad == '=' && at >= encoded.size() - 2));
  encoded[at] = bad;
  std::string out;
  RC_ASSERT_THROWS_AS(client::base64_decode_append(encoded, &out), std::invalid_argument);
}

// The line exactly as agentd writes it (base64_output_line in src/api/exec_methods.cpp).
std::string output_line(const std::string& exec_id, const std::string& stream, uint64_t seq,
                        const std::string& data) {
  return R"({"jsonrpc":"2.0","method":"exec/output","params":{"execId":")" + exec_id +
         R"(","stream":")" + stream + R"(","seq":)" + std::to_string(seq) +
         R"(,"encoding":"base64","data":")" + data + R"("}})";
}

RC_GTEST_PROP(OutputFastPathProperty, ClientReadsAgentdsLineLikeTheJsonParser,
              (const std::string& bytes, uint32_t seq, bool is_stderr)) {
  std::string exec_id = "ex-" + std::to_string(*rc::gen::inRange(1, 100000));
  std::string stream = is_stderr ? "stderr" : "stdout";
  std::string line = output_line(exec_id, stream, seq, base::base64_encode(bytes));
  client::RawOutput raw;
  RC_ASSERT(client::parse_base64_output_line(line, &raw));
  auto params = nlohmann::json::parse(line).at("params");
  RC_ASSERT(std::string(raw.exec_id) == params.at("execId").get<std::string>());
  RC_ASSERT(raw.is_stderr == (params.at("stream") == "stderr"));
  RC_ASSERT(raw.seq == params.at("seq").get<uint64_t>());
  RC_ASSERT(std::string(raw.data) == params.at("data").get<std::string>());
}

// Any other shape (a cut, an extra member, an escape) is left to the JSON parser.
RC_GTEST_PROP(OutputFastPathProperty, ClientLeavesOtherLinesToTheJsonParser,
              (const std::string& bytes)) {
  std::string line = output_line("ex-1", "stdout", 3, base::base64_encode(bytes));
  client::RawOutput raw;
  size_t cut = *rc::gen::inRange<size_t>(0, line.size());
  RC_ASSERT(!client::parse_base64_output_line(line.substr(0, cut), &raw));
  std::string extra = line.substr(0, line.size() - 2) + R"(,"replaced":true}})";
  RC_ASSERT(!client::parse_base64_output_line(extra, &raw));
  std::string escaped = output_line("ex-\\u0031", "stdout", 3, base::base64_encode(bytes));
  RC_ASSERT(!client::parse_base64_output_line(escaped, &raw));
  RC_ASSERT(!client::parse_base64_output_line(output_line("ex-1", "stdout", 3, "") + " ", &raw));
}

}  // namespace
}  // namespace agentd
