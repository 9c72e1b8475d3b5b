// SQLite connection, statement, transaction and savepoint wrappers; see database.hpp.
#include "daemon/store/database.hpp"

#include <sqlite3.h>

#include <cstring>

namespace omnitrail::store {
namespace {

StatusCode classify(int rc) noexcept {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return StatusCode::ok;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StatusCode::busy;
    case SQLITE_CONSTRAINT:
      return StatusCode::constraint;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StatusCode::corrupt;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
      return StatusCode::io_error;
    case SQLITE_ERROR:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
    case SQLITE_MISUSE:
      return StatusCode::invalid_argument;
    default:
      return StatusCode::internal;
  }
}

// SQL is quoted into messages to locate the failing statement; never bound values.
std::string sql_excerpt(std::string_view sql) {
  constexpr std::size_t max = 120;
  std::string out(sql.substr(0, max));
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (sql.size() > max) out += "...";
  return out;
}

[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view context) {
  std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (!context.empty()) {
    message += " (in: ";
    message += sql_excerpt(context);
    message += ")";
  }
  const int extended = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  throw StoreError(classify(rc), std::move(message), extended != 0 ? extended : rc);
}

}  // namespace

std::optional<Synchronous> parse_synchronous(std::string_view text) noexcept {
  if (text == "normal") return Synchronous::normal;
  if (text == "full") return Synchronous::full;
  return std::nullopt;
}

std::int64_t unix_millis_now() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- Statement ------------------------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::fail(int rc) const { throw_sqlite(db_, rc, sql()); }

void Statement::bind_null(int index) {
  if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) fail(rc);
}

void Statement::bind_int64(int index, std::int64_t value) {
  if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) fail(rc);
}

void Statement::bind_double(int index, double value) {
  if (int rc = sqlite3_bind_double(stmt_, index, value); rc != SQLITE_OK) fail(rc);
}

void Statement::bind_text(int index, std::string_view value) {
  // A null data pointer would bind NULL; an empty string must stay an empty TEXT.
  const char* data = value.data() != nullptr ? value.data() : "";
  if (int rc = sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      rc != SQLITE_OK) {
    fail(rc);
  }
}

void Statement::bind_blob(int index, const std::vector<std::uint8_t>& value) {
  static const std::uint8_t empty = 0;
  const void* data = value.empty() ? &empty : value.data();
  if (int rc = sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_TRANSIENT);
      rc != SQLITE_OK) {
    fail(rc);
  }
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // sqlite3_reset returns the same error and frees the statement's locks; keep the original code.
  std::string message = sqlite3_errmsg(db_);
  const int extended = sqlite3_extended_errcode(db_);
  sqlite3_reset(stmt_);
  throw StoreError(classify(rc), message + " (in: " + sql_excerpt(sql()) + ")", extended);
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() noexcept { sqlite3_reset(stmt_); }

void Statement::clear() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Statement::column_count() const noexcept { return sqlite3_column_count(stmt_); }

void Statement::check_column(int index) const {
  if (index < 0 || index >= column_count()) {
    throw StoreError(StatusCode::invalid_argument,
                     "column index " + std::to_string(index) + " out of range (in: " +
                         sql_excerpt(sql()) + ")");
  }
}

bool Statement::is_null(int index) const {
  check_column(index);
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

int Statement::column_index(std::string_view name) const {
  const int count = column_count();
  for (int i = 0; i < count; ++i) {
    const char* column_name = sqlite3_column_name(stmt_, i);
    if (column_name != nullptr && name == column_name) return i;
  }
  throw StoreError(StatusCode::invalid_argument,
                   "no result column named '" + std::string(name) + "' (in: " +
                       sql_excerpt(sql()) + ")");
}

int Statement::parameter_index(std::string_view name) const {
  const std::string zero_terminated(name);
  const int index = sqlite3_bind_parameter_index(stmt_, zero_terminated.c_str());
  if (index == 0) {
    throw StoreError(StatusCode::invalid_argument,
                     "no parameter named '" + zero_terminated + "' (in: " + sql_excerpt(sql()) +
                         ")");
  }
  return index;
}

std::string_view Statement::sql() const noexcept {
  const char* text = stmt_ != nullptr ? sqlite3_sql(stmt_) : nullptr;
  return text != nullptr ? std::string_view(text) : std::string_view();
}

std::int64_t Statement::column_int64(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

double Statement::column_double(int index) const { return sqlite3_column_double(stmt_, index); }

std::string Statement::column_text(int index) const {
  const auto* text = sqlite3_column_text(stmt_, index);
  if (text == nullptr) return {};
  const int size = sqlite3_column_bytes(stmt_, index);
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::vector<std::uint8_t> Statement::column_blob(int index) const {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, index));
  const int size = sqlite3_column_bytes(stmt_, index);
  if (data == nullptr || size <= 0) return {};
  return std::vector<std::uint8_t>(data, data + size);
}

// ---- Database -------------------------------------------------------------------------------

Database Database::open(const std::string& path, const ConnectionOptions& options) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (options.mode) {
    case ConnectionOptions::Mode::read_write_create:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case ConnectionOptions::Mode::read_write:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case ConnectionOptions::Mode::read_only:
      flags |= SQLITE_OPEN_READONLY;
      break;
  }
  Database database;
  database.path_ = path;
  const int rc = sqlite3_open_v2(path.c_str(), &database.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = "cannot open database '" + path + "': " +
                          (database.db_ != nullptr ? sqlite3_errmsg(database.db_)
                                                   : sqlite3_errstr(rc)) +
                          " (does the directory exist and is it writable by this user?)";
    const int extended = database.db_ != nullptr ? sqlite3_extended_errcode(database.db_) : rc;
    throw StoreError(classify(rc), std::move(message), extended);
  }
  sqlite3_extended_result_codes(database.db_, 1);
  sqlite3_busy_timeout(database.db_, static_cast<int>(options.busy_timeout.count()));
  return database;
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      cache_(std::move(other.cache_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

Database::~Database() { close(); }

void Database::close() noexcept {
  cache_.clear();  // finalize before closing
  if (db_ != nullptr) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

void Database::exec(std::string_view sql) {
  const std::string zero_terminated(sql);
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, zero_terminated.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    throw StoreError(classify(rc), message + " (in: " + sql_excerpt(sql) + ")",
                     sqlite3_extended_errcode(db_));
  }
}

Statement Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) throw_sqlite(db_, rc, sql);
  if (stmt == nullptr) {
    throw StoreError(StatusCode::invalid_argument, "empty SQL statement");
  }
  Statement statement(db_, stmt);
  // A second statement in the text would be silently ignored; refuse it instead.
  if (tail != nullptr) {
    std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n' || rest.front() == '\t' ||
                             rest.front() == '\r' || rest.front() == ';')) {
      rest.remove_prefix(1);
    }
    if (!rest.empty()) {
      throw StoreError(StatusCode::invalid_argument,
                       "prepare() takes one statement; use exec() for several (in: " +
                           sql_excerpt(sql) + ")");
    }
  }
  return statement;
}

Statement& Database::cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    auto statement = std::make_unique<Statement>(prepare(sql));
    it = cache_.emplace(std::string(sql), std::move(statement)).first;
  } else {
    it->second->clear();
  }
  return *it->second;
}

void Database::reset_cached() noexcept {
  for (auto& entry : cache_) entry.second->reset();
}

void Database::configure_writer(Synchronous synchronous) {
  const auto mode = query_value<std::string>("PRAGMA journal_mode=WAL");
  if (!mode || *mode != "wal") {
    throw StoreError(StatusCode::io_error,
                     "cannot enable WAL journal mode on '" + path_ + "' (got '" +
                         mode.value_or("?") + "'); the database must be on a local filesystem");
  }
  exec(synchronous == Synchronous::full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  exec("PRAGMA foreign_keys=ON");
  // Erased customers (GDPR) must not linger in freed pages: deleted content is overwritten.
  exec("PRAGMA secure_delete=ON");
  // The writer touches the upper levels of every index on every ingest: keep them in memory
  // (SQLite's default page cache is 2 MiB per connection).
  exec("PRAGMA cache_size=-16384");
}

void Database::configure_reader() {
  exec("PRAGMA foreign_keys=ON");
  exec("PRAGMA query_only=ON");
  exec("PRAGMA cache_size=-8192");
}

std::int64_t Database::last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_); }

std::int64_t Database::changes() const noexcept { return sqlite3_changes64(db_); }

std::int64_t Database::total_changes() const noexcept { return sqlite3_total_changes64(db_); }

bool Database::in_transaction() const noexcept { return sqlite3_get_autocommit(db_) == 0; }

// ---- Transaction / Savepoint ----------------------------------------------------------------

Transaction::Transaction(Database& db, Kind kind) : db_(db) {
  // Prepared once per connection: every ingest and every view opens a transaction.
  db_.cached(kind == Kind::immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED").run();
}

Transaction::~Transaction() { rollback(); }

void Transaction::commit() {
  if (!open_) throw StoreError(StatusCode::invalid_argument, "commit() on a closed transaction");
  db_.cached("COMMIT").run();
  open_ = false;
}

void Transaction::rollback() noexcept {
  if (!open_) return;
  open_ = false;
  // SQLite may already have rolled back on its own (SQLITE_FULL, IOERR...); then there is nothing
  // left to undo and ROLLBACK would only report "no transaction is active".
  if (db_.in_transaction()) {
    try {
      db_.exec("ROLLBACK");
    } catch (const StoreError&) {
    }
  }
}

Savepoint::Savepoint(Database& db, std::string name) : db_(db), name_(std::move(name)) {
  db_.exec("SAVEPOINT " + name_);
}

Savepoint::~Savepoint() {
  if (!open_) return;
  try {
    rollback();
  } catch (const StoreError&) {
  }
}

void Savepoint::release() {
  open_ = false;
  db_.exec("RELEASE " + name_);
}

void Savepoint::rollback() {
  open_ = false;
  db_.exec("ROLLBACK TO " + name_ + "; RELEASE " + name_);
}

// ---- insert_or_get --------------------------------------------------------------------------

InsertOrGet insert_or_get(Database& db, Statement& insert, Statement& lookup) {
  const std::int64_t before = db.total_changes();
  insert.run();
  if (db.total_changes() != before) {
    lookup.reset();
    return InsertOrGet{db.last_insert_rowid(), true};
  }
  const bool found = lookup.step();
  const std::int64_t id = found ? lookup.column<std::int64_t>(0) : 0;
  lookup.reset();
  if (!found) {
    throw StoreError(StatusCode::not_found,
                     "insert was ignored but no existing row matched (in: " +
                         sql_excerpt(lookup.sql()) + ")");
  }
  return InsertOrGet{id, false};
}

}  // namespace omnitrail::store
