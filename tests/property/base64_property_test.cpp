// Properties of base::base64_encode / base64_decode.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <string>

#include "base/base64.hpp"

namespace agentd::base {
namespace {

bool in_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

RC_GTEST_PROP(Base64Property, RoundTripsAnyBytes, (const std::string& bytes)) {
  std::string encoded = base64_encode(bytes);
  RC_ASSERT(encoded.size() == (bytes.size() + 2) / 3 * 4);
  size_t padding = (3 - bytes.size() % 3) % 3;
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (i >= encoded.size() - padding) {
      RC_ASSERT(encoded[i] == '=');
    } else {
      RC_ASSERT(in_alphabet(encoded[i]));
    }
  }
  auto decoded = base64_decode(encoded);
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(*decoded == bytes);
}

RC_GTEST_PROP(Base64Property, ACharacterOutsideTheAlphabetIsRejected, (const std::string& bytes)) {
  std::string encoded = base64_encode(bytes);
  char bad = *rc::gen::suchThat(rc::gen::arbitrary<char>(),
                                [](char c) { return !in_alphabet(c) && c != '='; });
  size_t at = *rc::gen::inRange<size_t>(0, encoded.size() + 1);
  // Replaced (same length) or inserted: rejected either way.
  std::string replaced = encoded;
  if (!replaced.empty()) replaced[std::min(at, replaced.size() - 1)] = bad;
  std::string inserted = encoded;
  inserted.insert(at, 4, bad);  // keeps the length a multiple of 4
  if (!encoded.empty()) RC_ASSERT(!base64_decode(replaced).has_value());
  RC_ASSERT(!base64_decode(inserted).has_value());
}

RC_GTEST_PROP(Base64Property, DroppingACharacterIsRejected, (const std::string& bytes)) {
  RC_PRE(!bytes.empty());
  std::string encoded = base64_encode(bytes);
  size_t at = *rc::gen::inRange<size_t>(0, encoded.size());
  encoded.erase(at, 1);
  RC_ASSERT(!base64_decode(encoded).has_value());
}

RC_GTEST_PROP(Base64Property, PaddingBeforeTheEndIsRejected, (const std::string& bytes)) {
  std::string encoded = base64_encode(bytes);
  RC_PRE(encoded.size() >= 4);
  // Any '=' before the last character is only valid as "==" at the very end.
  size_t at = *rc::gen::inRange<size_t>(0, encoded.size() - 1);
  RC_PRE(encoded[at] != '=');
  // "xx==" at the end is a padding form (whether its spare bits are zero is
  // another matter), so turning the third character of "xxx=" into '=' is
  // not "padding before the end".
  RC_PRE(!(at == encoded.size() - 2 && encoded.back() == '='));
  encoded[at] = '=';
  RC_ASSERT(!base64_decode(encoded).has_value());
}

RC_GTEST_PROP(Base64Property, ConcatenatedGroupsWithPaddingInsideAreRejected,
              (const std::string& a, const std::string& b)) {
  RC_PRE(a.size() % 3 != 0 && !b.empty());
  RC_ASSERT(!base64_decode(base64_encode(a) + base64_encode(b)).has_value());
}

}  // namespace
}  // namespace agentd::base
