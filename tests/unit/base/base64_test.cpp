#include "base/base64.hpp"

#include <gtest/gtest.h>

#include <string>

namespace agentd::base {
namespace {

struct Vector {
  std::string plain;
  std::string encoded;
};

// RFC 4648, section 10.
const Vector kRfcVectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

TEST(Base64, EncodesRfcVectors) {
  for (const auto& v : kRfcVectors) EXPECT_EQ(base64_encode(v.plain), v.encoded) << v.plain;
}

TEST(Base64, DecodesRfcVectors) {
  for (const auto& v : kRfcVectors) {
    auto decoded = base64_decode(v.encoded);
    ASSERT_TRUE(decoded.has_value()) << v.encoded;
    EXPECT_EQ(*decoded, v.plain);
  }
}

TEST(Base64, RoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += char(i);
  std::string encoded = base64_encode(all);
  EXPECT_EQ(encoded.size(), (all.size() + 2) / 3 * 4);
  auto decoded = base64_decode(encoded);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, all);
}

TEST(Base64, UsesTheStandardAlphabetNotUrlSafe) {
  EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(base64_decode("+/8="), std::optional<std::string>("\xfb\xff"));
  EXPECT_FALSE(base64_decode("-_8=").has_value());
}

TEST(Base64, RejectsMalformedText) {
  const char* bad[] = {
      "Zg",        // missing padding
      "Zg=",       // length not a multiple of 4
      "Zm9vY",     // ditto
      "Zm9v!A==",  // character outside the alphabet
      "Zm9v YQ=",  // whitespace
      "Zg==Zm9v",  // padding before the end
      "Z===",      // padding in the second position
      "====",      // padding only
      "Zm=v",      // data after padding
      "Zg=\n",     // newline
  };
  for (const char* text : bad) EXPECT_FALSE(base64_decode(text).has_value()) << text;
}

TEST(Base64, RejectsEmbeddedNul) {
  EXPECT_FALSE(base64_decode(std::string("Zm9\0", 4)).has_value());
}

}  // namespace
}  // namespace agentd::base
