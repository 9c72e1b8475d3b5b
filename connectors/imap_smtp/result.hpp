// Result<T>: a value, or the one-line reason there is none. The email connector's pure layer
// returns it instead of throwing (parsers of untrusted bytes never throw across their API).
// Plain value; any thread.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace omnitrail::connectors::imap_smtp {

template <class T>
class Result {
 public:
  /// Success holding `value`.
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  /// Failure with a message for logs and operators (never holds message contents).
  static Result failure(std::string error) {
    Result r;
    r.error_ = error.empty() ? "unknown error" : std::move(error);
    return r;
  }

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  /// "" when ok.
  const std::string& error() const noexcept { return error_; }
  /// The value; precondition: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Result() = default;
  std::optional<T> value_;
  std::string error_;
};

}  // namespace omnitrail::connectors::imap_smtp
