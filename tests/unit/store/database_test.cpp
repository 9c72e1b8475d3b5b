// Database / Statement / Transaction / Savepoint / insert_or_get against a real SQLite file.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include "daemon/store/connector_state.hpp"
#include "daemon/store/database.hpp"
#include "temp_dir.hpp"

using namespace omnitrail::store;
using omnitrail::store::testing::TempDir;

namespace {

Database scratch(const TempDir& dir) {
  Database db = Database::open(dir.file("scratch.db"));
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, score REAL, data BLOB)");
  return db;
}

std::int64_t count_rows(Database& db, const char* table) {
  return *db.query_value<std::int64_t>(std::string("SELECT count(*) FROM ") + table);
}

}  // namespace

TEST_CASE("Statement binds and reads typed values by index and by name", "[store][database]") {
  TempDir dir;
  Database db = scratch(dir);

  Statement insert = db.prepare("INSERT INTO t(name, score, data) VALUES (:name, :score, :data)");
  insert.bind(":name", std::string("alice"))
      .bind(":score", 2.5)
      .bind(":data", std::vector<std::uint8_t>{1, 2, 0, 3});
  insert.run();
  insert.clear();
  insert.bind(":name", "bob").bind(":score", std::optional<double>{}).bind(":data", nullptr).run();

  Statement select = db.prepare("SELECT id, name AS who, score, data FROM t ORDER BY id");
  REQUIRE(select.step());
  CHECK(select.column<std::int64_t>(0) == 1);
  CHECK(select.column<std::string>("who") == "alice");
  CHECK(select.column<double>("score") == 2.5);
  CHECK(select.column<std::vector<std::uint8_t>>(3) == std::vector<std::uint8_t>{1, 2, 0, 3});
  CHECK(select.column<std::optional<double>>("score") == 2.5);
  REQUIRE(select.step());
  CHECK(select.column<std::string>(1) == "bob");
  CHECK(select.is_null(2));
  CHECK_FALSE(select.column<std::optional<double>>(2).has_value());
  CHECK(select.column<std::vector<std::uint8_t>>("data").empty());
  CHECK_FALSE(select.step());

  CHECK_THROWS_AS(select.column_index("nope"), StoreError);
  CHECK_THROWS_AS(insert.parameter_index(":nope"), StoreError);
}

TEST_CASE("bind_all binds positionally and empty strings stay TEXT, not NULL", "[store][database]") {
  TempDir dir;
  Database db = scratch(dir);
  db.prepare("INSERT INTO t(name, score) VALUES (?1, ?2)").bind_all(std::string_view{}, 7).run();
  CHECK(*db.query_value<std::string>("SELECT typeof(name) FROM t") == "text");
  CHECK(*db.query_value<bool>("SELECT score = 7 FROM t"));
  CHECK_FALSE(db.query_value<std::int64_t>("SELECT id FROM t WHERE 0").has_value());
}

TEST_CASE("SQLite errors become StoreError with a code and the SQL, never the values",
          "[store][database]") {
  TempDir dir;
  Database db = scratch(dir);
  db.prepare("INSERT INTO t(name) VALUES (?1)").bind(1, "secret-value").run();
  try {
    db.prepare("INSERT INTO t(name) VALUES (?1)").bind(1, "secret-value").run();
    FAIL("expected a constraint error");
  } catch (const StoreError& error) {
    CHECK(error.status().code() == StatusCode::constraint);
    CHECK(error.status().sqlite_code() == SQLITE_CONSTRAINT_UNIQUE);
    CHECK(error.status().message().find("INSERT INTO t") != std::string::npos);
    CHECK(error.status().message().find("secret-value") == std::string::npos);
  }
  CHECK_THROWS_AS(db.prepare("SELEKT 1"), StoreError);
  try {
    db.prepare("SELECT 1; SELECT 2");
    FAIL("expected several statements to be refused");
  } catch (const StoreError& error) {
    CHECK(error.status().code() == StatusCode::invalid_argument);
  }
}

TEST_CASE("Opening a missing directory fails with io_error and the path", "[store][database]") {
  TempDir dir;
  try {
    Database::open(dir.file("missing/dir/x.db"));
    FAIL("expected an error");
  } catch (const StoreError& error) {
    CHECK(error.status().code() == StatusCode::io_error);
    CHECK(error.status().message().find("missing/dir/x.db") != std::string::npos);
  }
}

TEST_CASE("Transaction rolls back unless committed", "[store][database]") {
  TempDir dir;
  Database db = scratch(dir);
  {
    Transaction transaction(db);
    db.exec("INSERT INTO t(name) VALUES ('gone')");
    CHECK(db.in_transaction());
  }
  CHECK_FALSE(db.in_transaction());
  CHECK(count_rows(db, "t") == 0);
  {
    Transaction transaction(db);
    db.exec("INSERT INTO t(name) VALUES ('kept')");
    transaction.commit();
  }
  CHECK(count_rows(db, "t") == 1);
  // An exception unwinding through a transaction rolls it back.
  try {
    Transaction transaction(db);
    db.exec("INSERT INTO t(name) VALUES ('x')");
    db.exec("INSERT INTO t(name) VALUES ('kept')");  // UNIQUE violation
  } catch (const StoreError&) {
  }
  CHECK(count_rows(db, "t") == 1);
}

TEST_CASE("Savepoint undoes only its own work", "[store][database]") {
  TempDir dir;
  Database db = scratch(dir);
  Transaction transaction(db);
  db.exec("INSERT INTO t(name) VALUES ('outer')");
  {
    Savepoint savepoint(db, "inner");
    db.exec("INSERT INTO t(name) VALUES ('inner')");
  }  // destroyed without release: rolled back
  {
    Savepoint savepoint(db, "kept");
    db.exec("INSERT INTO t(name) VALUES ('kept')");
    savepoint.release();
  }
  transaction.commit();
  CHECK(count_rows(db, "t") == 2);
  CHECK(*db.query_value<std::int64_t>("SELECT count(*) FROM t WHERE name = 'inner'") == 0);
}

TEST_CASE("cached() reuses one prepared statement, reset and cleared", "[store][database]") {
  TempDir dir;
  Database db = scratch(dir);
  Statement& first = db.cached("INSERT INTO t(name) VALUES (?1)");
  first.bind(1, "a").run();
  Statement& second = db.cached("INSERT INTO t(name) VALUES (?1)");
  CHECK(&first == &second);
  second.run();  // parameters were cleared: inserts NULL
  CHECK(*db.query_value<std::int64_t>("SELECT count(*) FROM t WHERE name IS NULL") == 1);
}

TEST_CASE("insert_or_get inserts once and then returns the existing row", "[store][database]") {
  TempDir dir;
  Database db = scratch(dir);
  Statement insert = db.prepare("INSERT INTO t(name) VALUES (?1) ON CONFLICT DO NOTHING");
  Statement lookup = db.prepare("SELECT id FROM t WHERE name = ?1");

  insert.bind(1, "alice");
  lookup.bind(1, "alice");
  const InsertOrGet first = insert_or_get(db, insert, lookup);
  CHECK(first.inserted);
  const InsertOrGet again = insert_or_get(db, insert, lookup);
  CHECK_FALSE(again.inserted);
  CHECK(again.id == first.id);

  insert.bind(1, "bob");
  lookup.bind(1, "bob");
  const InsertOrGet bob = insert_or_get(db, insert, lookup);
  CHECK(bob.inserted);
  CHECK(bob.id != first.id);
  CHECK(count_rows(db, "t") == 2);

  // Ignored by a constraint the lookup does not cover: a clear not_found, not a bogus id.
  lookup.bind(1, "nobody");
  insert.bind(1, "alice");
  try {
    insert_or_get(db, insert, lookup);
    FAIL("expected not_found");
  } catch (const StoreError& error) {
    CHECK(error.status().code() == StatusCode::not_found);
  }
}

TEST_CASE("parse_synchronous accepts the two YAML spellings", "[store][database]") {
  CHECK(parse_synchronous("normal") == Synchronous::normal);
  CHECK(parse_synchronous("full") == Synchronous::full);
  CHECK_FALSE(parse_synchronous("FULL").has_value());
  CHECK_FALSE(parse_synchronous("off").has_value());
}

TEST_CASE("Result holds a value or an error", "[store][database]") {
  Result<int> good(5);
  CHECK(good.ok());
  CHECK(*good == 5);
  Result<int> bad(Status(StatusCode::busy, "locked"));
  CHECK_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::busy);
  CHECK(bad.status().to_string() == "busy: locked");
  Result<int> misuse{Status{}};
  CHECK_FALSE(misuse.ok());
  CHECK(misuse.status().code() == StatusCode::internal);
}

TEST_CASE("connector_state round-trips and overwrites", "[store][database]") {
  TempDir dir;
  Database db = Database::open(dir.file("state.db"));
  db.exec(
      "CREATE TABLE connector_state (connector TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT "
      "NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (connector, key)) WITHOUT ROWID");
  CHECK_FALSE(get_connector_state(db, "imap", "uid").has_value());
  put_connector_state(db, "imap", "uid", "17:42", 1);
  put_connector_state(db, "imap", "uid", "17:43", 2);
  CHECK(get_connector_state(db, "imap", "uid") == "17:43");
  CHECK_FALSE(get_connector_state(db, "kannel", "uid").has_value());
}
