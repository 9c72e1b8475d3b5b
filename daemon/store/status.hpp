// Outcome types of the store: Status (ok or a coded error), Result<T> (a value or a Status) and
// StoreError, the exception that carries a Status inside store code and write/read jobs.
// Thread contract: plain values, safe to copy/move between threads; no shared state.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace omnitrail::store {

/// What went wrong, coarse enough for callers to pick a reaction (retry, 503, fix the config).
enum class StatusCode {
  ok,
  // The Store reports these two as `false` from submit_*; they exist for callers that turn such
  // a refusal into a Status of their own.
  queue_full,        // back-pressure: the bounded queue was full; retry later / answer 503
  stopped,           // the store is stopping or stopped; the job was not run
  busy,              // SQLITE_BUSY / SQLITE_LOCKED after busy_timeout: another process holds a lock
  constraint,        // a UNIQUE / CHECK / FOREIGN KEY / NOT NULL constraint failed
  not_found,         // a row the caller required does not exist
  schema_too_new,    // the database was written by a newer omnitraild
  not_our_database,  // the file is an SQLite database of another application
  corrupt,           // SQLITE_CORRUPT / SQLITE_NOTADB: the file is damaged or not a database
  io_error,          // SQLITE_IOERR / SQLITE_FULL / SQLITE_CANTOPEN / SQLITE_READONLY / SQLITE_PERM
  invalid_argument,  // a caller error (bad SQL, unknown column name, bad option)
  internal,          // anything else, including a non-StoreError exception thrown by a job
};

/// Stable lower-case name of a code ("queue_full"), for logs and metrics labels.
const char* to_string(StatusCode code) noexcept;

/// An ok or error outcome. Default-constructed Status is ok. Messages never hold bound values
/// (customer data); they may hold the first characters of the SQL text and SQLite's message.
class Status {
 public:
  /// Ok.
  Status() = default;
  /// An error (or ok when code == ok). `sqlite_code` is SQLite's extended result code, or 0.
  Status(StatusCode code, std::string message, int sqlite_code = 0)
      : code_(code), sqlite_code_(sqlite_code), message_(std::move(message)) {}

  /// True when no error.
  bool ok() const noexcept { return code_ == StatusCode::ok; }
  StatusCode code() const noexcept { return code_; }
  /// SQLite's extended result code (e.g. SQLITE_CONSTRAINT_UNIQUE), or 0 when not from SQLite.
  int sqlite_code() const noexcept { return sqlite_code_; }
  const std::string& message() const noexcept { return message_; }
  /// "ok" or "<code>: <message>".
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::ok;
  int sqlite_code_ = 0;
  std::string message_;
};

/// The exception used inside the store and by jobs to fail: thrown by Database / Statement on
/// any SQLite error; a job may throw it itself to fail with a chosen Status. It never crosses the
/// Store's public boundary: the Store catches it and hands the Status to the job's callback.
class StoreError : public std::runtime_error {
 public:
  explicit StoreError(Status status)
      : std::runtime_error(status.to_string()), status_(std::move(status)) {}
  StoreError(StatusCode code, std::string message, int sqlite_code = 0)
      : StoreError(Status(code, std::move(message), sqlite_code)) {}
  const Status& status() const noexcept { return status_; }

 private:
  Status status_;
};

/// A value of type T, or the error Status that prevented it. Any thread.
template <class T>
class Result {
 public:
  /// Success holding `value`.
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  /// Failure; `error` must not be ok (an ok Status without a value becomes `internal`).
  Result(Status error) : status_(std::move(error)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = Status(StatusCode::internal, "Result built from an ok Status");
  }

  bool ok() const noexcept { return value_.has_value(); }
  /// Ok when a value is held, the error otherwise.
  const Status& status() const noexcept { return status_; }
  /// The value; precondition: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T&& operator*() && { return std::move(*value_); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace omnitrail::store
