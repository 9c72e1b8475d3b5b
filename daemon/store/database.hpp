// Thin RAII layer over one SQLite connection: Database, prepared Statement with typed bind /
// column access, RAII Transaction and Savepoint, and the insert_or_get pattern.
// Thread contract: a Database and everything prepared on it belong to ONE thread at a time
// (connections are opened with SQLITE_OPEN_NOMUTEX). Every failure throws StoreError.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "daemon/store/status.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace omnitrail::store {

/// PRAGMA synchronous of the write connection. In WAL mode `normal` is durable across a process
/// crash and may lose the last commits on power loss; `full` syncs the WAL on every commit.
enum class Synchronous { normal, full };

/// Parses "normal" / "full" (case-sensitive, as in the YAML file); nullopt otherwise.
std::optional<Synchronous> parse_synchronous(std::string_view text) noexcept;

/// How a connection is opened.
struct ConnectionOptions {
  enum class Mode { read_write_create, read_write, read_only };
  Mode mode = Mode::read_write_create;
  std::chrono::milliseconds busy_timeout{5000};
};

/// Milliseconds since the Unix epoch (UTC), the unit of every timestamp column.
std::int64_t unix_millis_now() noexcept;

class Database;

/// A prepared statement. Parameters are 1-based (SQLite), columns 0-based; names include their
/// prefix (":name"). Text and blobs are copied at bind time (SQLITE_TRANSIENT), so temporaries are
/// safe to bind. Movable, not copyable; finalized on destruction.
class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  /// Binds one value to parameter `index` (1-based). Supported: std::nullptr_t / std::nullopt_t
  /// (NULL), bool and integers (INTEGER), floating point (REAL), anything convertible to
  /// std::string_view (TEXT), std::vector<std::uint8_t> (BLOB), std::optional<any of those>.
  template <class T>
  Statement& bind(int index, const T& value);
  /// Same, by parameter name including its prefix (":source"); throws invalid_argument if unknown.
  template <class T>
  Statement& bind(std::string_view name, const T& value) {
    return bind(parameter_index(name), value);
  }
  /// Binds `values` to parameters 1..N in order.
  template <class... Ts>
  Statement& bind_all(const Ts&... values) {
    int index = 0;
    (bind(++index, values), ...);
    return *this;
  }

  /// Advances; true when a row is available, false when the statement is done.
  bool step();
  /// Steps to completion (ignoring rows) and resets, keeping bindings. For INSERT/UPDATE/DELETE.
  void run();
  /// Resets so the statement can run again; bindings are kept.
  void reset() noexcept;
  /// Resets and sets every parameter back to NULL.
  void clear() noexcept;

  /// Column `index` (0-based) of the current row as T: integers, bool, double, std::string
  /// (NULL -> ""), std::vector<std::uint8_t> (blob), std::optional<X> (NULL -> nullopt).
  template <class T>
  T column(int index) const;
  /// Same, by result column name (as written in the SELECT or its AS alias).
  template <class T>
  T column(std::string_view name) const {
    return column<T>(column_index(name));
  }
  /// True when column `index` of the current row is NULL.
  bool is_null(int index) const;
  int column_count() const noexcept;
  /// Index of result column `name`; throws invalid_argument if there is none.
  int column_index(std::string_view name) const;
  /// Index of parameter `name` (":name"); throws invalid_argument if there is none.
  int parameter_index(std::string_view name) const;
  /// The SQL text it was prepared from.
  std::string_view sql() const noexcept;
  sqlite3_stmt* handle() const noexcept { return stmt_; }

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  void bind_null(int index);
  void bind_int64(int index, std::int64_t value);
  void bind_double(int index, double value);
  void bind_text(int index, std::string_view value);
  void bind_blob(int index, const std::vector<std::uint8_t>& value);
  std::int64_t column_int64(int index) const;
  double column_double(int index) const;
  std::string column_text(int index) const;
  std::vector<std::uint8_t> column_blob(int index) const;
  void check_column(int index) const;
  [[noreturn]] void fail(int rc) const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

/// One SQLite connection. Movable, not copyable; closed on destruction.
class Database {
 public:
  /// Opens `path` (not ":memory:" for the Store, which needs a shared file). Sets busy_timeout and
  /// extended result codes; PRAGMAs are the caller's business (see configure_writer()).
  /// Throws StoreError (io_error when the file or its directory cannot be opened).
  static Database open(const std::string& path, const ConnectionOptions& options = {});

  Database() = default;
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  /// Runs one or more SQL statements without parameters (DDL, PRAGMA, BEGIN...).
  void exec(std::string_view sql);
  /// Prepares one statement; the caller owns it.
  Statement prepare(std::string_view sql);
  /// A statement prepared once per connection and reused, keyed by its exact SQL text; returned
  /// reset with parameters cleared. The reference stays valid until the Database is destroyed.
  /// Do not hold two uses of the same SQL at once (they are the same object).
  Statement& cached(std::string_view sql);
  /// Resets every cached statement (releases read snapshots); the Store calls it after each job.
  void reset_cached() noexcept;

  /// Runs `sql` and returns column 0 of its first row, or nullopt when there is no row.
  template <class T>
  std::optional<T> query_value(std::string_view sql) {
    Statement statement = prepare(sql);
    if (!statement.step()) return std::nullopt;
    return statement.column<T>(0);
  }

  /// Applies the write connection's PRAGMAs: journal_mode=WAL (checked), synchronous,
  /// foreign_keys=ON. Must run outside a transaction.
  void configure_writer(Synchronous synchronous);
  /// Applies read-connection PRAGMAs: query_only=ON, foreign_keys=ON.
  void configure_reader();

  /// Rowid of the last successful INSERT on this connection.
  std::int64_t last_insert_rowid() const noexcept;
  /// Rows changed by the last completed INSERT/UPDATE/DELETE on this connection.
  std::int64_t changes() const noexcept;
  /// Rows changed since the connection was opened.
  std::int64_t total_changes() const noexcept;
  /// False while a transaction is open (SQLite's autocommit flag).
  bool in_transaction() const noexcept;
  /// The file this connection was opened on.
  const std::string& path() const noexcept { return path_; }
  sqlite3* handle() const noexcept { return db_; }
  explicit operator bool() const noexcept { return db_ != nullptr; }

 private:
  void close() noexcept;

  sqlite3* db_ = nullptr;
  std::string path_;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> cache_;
};

/// RAII transaction: BEGIN on construction, ROLLBACK on destruction unless commit() succeeded.
class Transaction {
 public:
  /// `immediate` takes the write lock at once (no deadlock-prone lock upgrade later); use
  /// `deferred` for read-only snapshots.
  enum class Kind { deferred, immediate };
  explicit Transaction(Database& db, Kind kind = Kind::immediate);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  /// Rolls back if still open; never throws.
  ~Transaction();
  /// COMMIT; throws StoreError (the transaction is then rolled back by the destructor).
  void commit();
  /// ROLLBACK now; never throws.
  void rollback() noexcept;

 private:
  Database& db_;
  bool open_ = true;
};

/// RAII savepoint: SAVEPOINT on construction; on destruction without release(), ROLLBACK TO and
/// RELEASE (undoing only the work done since it was taken). `name` must be an SQL identifier.
class Savepoint {
 public:
  Savepoint(Database& db, std::string name);
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;
  ~Savepoint();
  /// RELEASE: keeps the work (it commits with the enclosing transaction). Throws StoreError.
  void release();
  /// ROLLBACK TO + RELEASE now. Throws StoreError (e.g. when SQLite already aborted the
  /// enclosing transaction).
  void rollback();

 private:
  Database& db_;
  std::string name_;
  bool open_ = true;
};

/// Outcome of insert_or_get().
struct InsertOrGet {
  std::int64_t id = 0;    // rowid of the inserted or the existing row
  bool inserted = false;  // false: a row with the same unique key already existed
};

/// The idempotent-insert pattern for a table with a natural unique key (interactions'
/// (source, external_id), identities' (kind, key), conversations' (source, key)...):
/// runs `insert` (bound by the caller; must be `INSERT ... ON CONFLICT DO NOTHING` or
/// `INSERT OR IGNORE`); when it inserted a row, returns its rowid; otherwise steps `lookup`
/// (bound by the caller; a SELECT whose column 0 is the existing row's id). Both statements are
/// reset afterwards. Throws StoreError(not_found) when the insert was ignored and lookup found
/// nothing (e.g. a different constraint than the one looked up ignored it).
InsertOrGet insert_or_get(Database& db, Statement& insert, Statement& lookup);

// ---- template implementations ---------------------------------------------------------------

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
}  // namespace detail

template <class T>
Statement& Statement::bind(int index, const T& value) {
  using V = std::decay_t<T>;
  if constexpr (std::is_same_v<V, std::nullptr_t> || std::is_same_v<V, std::nullopt_t>) {
    bind_null(index);
  } else if constexpr (detail::is_optional<V>::value) {
    if (value) {
      bind(index, *value);
    } else {
      bind_null(index);
    }
  } else if constexpr (std::is_same_v<V, bool>) {
    bind_int64(index, value ? 1 : 0);
  } else if constexpr (std::is_integral_v<V> || std::is_enum_v<V>) {
    bind_int64(index, static_cast<std::int64_t>(value));
  } else if constexpr (std::is_floating_point_v<V>) {
    bind_double(index, static_cast<double>(value));
  } else if constexpr (std::is_same_v<V, std::vector<std::uint8_t>>) {
    bind_blob(index, value);
  } else {
    static_assert(std::is_convertible_v<const T&, std::string_view>,
                  "Statement::bind: unsupported type");
    bind_text(index, std::string_view(value));
  }
  return *this;
}

template <class T>
T Statement::column(int index) const {
  check_column(index);
  if constexpr (detail::is_optional<T>::value) {
    if (is_null(index)) return std::nullopt;
    return column<typename T::value_type>(index);
  } else if constexpr (std::is_same_v<T, bool>) {
    return column_int64(index) != 0;
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(column_int64(index));
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(column_double(index));
  } else if constexpr (std::is_same_v<T, std::string>) {
    return column_text(index);
  } else {
    static_assert(std::is_same_v<T, std::vector<std::uint8_t>>,
                  "Statement::column: unsupported type");
    return column_blob(index);
  }
}

}  // namespace omnitrail::store
