#pragma once

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace agentd::base {

// An error from inside agentd: what failed (context) and why (code).
// Rendered as `open("/x"): Permission denied`.
struct Error {
  std::error_code code;
  std::string context;

  std::string message() const {
    if (!code) return context;
    return context.empty() ? code.message() : context + ": " + code.message();
  }
};

inline Error errno_error(std::string context, int err = errno) {
  return Error{std::error_code(err, std::system_category()), std::move(context)};
}

inline Error plain_error(std::string message) { return Error{{}, std::move(message)}; }

// Value or Error; a small stand-in for std::expected (C++23).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result without a value.
class Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace agentd::base
