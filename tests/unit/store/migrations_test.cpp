// Migrations: applied once, in one transaction, recorded; newer or foreign databases refused.
#include <catch2/catch.hpp>

#include <fstream>

#include "daemon/store/migrations.hpp"
#include "daemon/store/store.hpp"
#include "temp_dir.hpp"

using namespace omnitrail::store;
using omnitrail::store::testing::TempDir;

namespace {

Options options_for(const TempDir& dir) {
  Options options;
  options.path = dir.file("omnitrail.db");
  return options;
}

std::int64_t scalar(Database& db, const std::string& sql) { return *db.query_value<std::int64_t>(sql); }

}  // namespace

TEST_CASE("Migrations are numbered 1..N", "[store][migrations]") {
  const auto list = migrations();
  REQUIRE_FALSE(list.empty());
  for (std::size_t i = 0; i < list.size(); ++i) CHECK(list[i].version == static_cast<int>(i + 1));
  CHECK(latest_schema_version() == list.back().version);
}

TEST_CASE("A fresh database is migrated to the latest version and recorded", "[store][migrations]") {
  TempDir dir;
  {
    auto store = Store::open(options_for(dir));
    REQUIRE(store.ok());
    CHECK((*store)->schema_version() == latest_schema_version());
  }
  Database db = Database::open(dir.file("omnitrail.db"));
  CHECK(current_schema_version(db) == latest_schema_version());
  CHECK(scalar(db, "SELECT count(*) FROM schema_migrations") == latest_schema_version());
  CHECK(scalar(db, "SELECT min(applied_at) FROM schema_migrations") > 1'600'000'000'000);
  CHECK(scalar(db, "PRAGMA application_id") == application_id);
  for (const char* table : {"customers", "identities", "interactions", "conversations", "merges",
                            "do_not_merge", "suggestions", "outbox", "connector_state", "audit"}) {
    INFO(table);
    Statement statement = db.prepare("SELECT 1 FROM sqlite_schema WHERE type='table' AND name=?1");
    statement.bind(1, table);
    CHECK(statement.step());
  }
  CHECK(scalar(db, "SELECT count(*) FROM pragma_foreign_key_check") == 0);
  CHECK(*db.query_value<std::string>("PRAGMA integrity_check") == "ok");
}

TEST_CASE("Reopening is idempotent: nothing is re-applied", "[store][migrations]") {
  TempDir dir;
  REQUIRE(Store::open(options_for(dir)).ok());
  std::int64_t applied_at = 0;
  {
    Database db = Database::open(dir.file("omnitrail.db"));
    applied_at = scalar(db, "SELECT max(applied_at) FROM schema_migrations");
    // migrate() on an up-to-date database changes nothing.
    const auto before = db.total_changes();
    CHECK(migrate(db) == latest_schema_version());
    CHECK(db.total_changes() == before);
  }
  for (int i = 0; i < 2; ++i) {
    auto store = Store::open(options_for(dir));
    REQUIRE(store.ok());
  }
  Database db = Database::open(dir.file("omnitrail.db"));
  CHECK(scalar(db, "SELECT count(*) FROM schema_migrations") == latest_schema_version());
  CHECK(scalar(db, "SELECT max(applied_at) FROM schema_migrations") == applied_at);
}

TEST_CASE("A database written by a newer binary is refused with a clear error",
          "[store][migrations]") {
  TempDir dir;
  REQUIRE(Store::open(options_for(dir)).ok());
  {
    Database db = Database::open(dir.file("omnitrail.db"));
    db.prepare("INSERT INTO schema_migrations(version, applied_at) VALUES (?1, 0)")
        .bind(1, latest_schema_version() + 1)
        .run();
  }
  auto store = Store::open(options_for(dir));
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::schema_too_new);
  const std::string& message = store.status().message();
  CHECK(message.find(std::to_string(latest_schema_version() + 1)) != std::string::npos);
  CHECK(message.find("newer omnitraild") != std::string::npos);
  CHECK(message.find("omnitrail.db") != std::string::npos);
}

TEST_CASE("A failing migration rolls back every step of the run", "[store][migrations]") {
  TempDir dir;
  Database db = Database::open(dir.file("m.db"));
  db.configure_writer(Synchronous::normal);
  static constexpr Migration good[] = {
      {1, "one", "CREATE TABLE a (x INTEGER)"},
  };
  static constexpr Migration bad[] = {
      {1, "one", "CREATE TABLE a (x INTEGER)"},
      {2, "two", "CREATE TABLE b (y INTEGER); INSERT INTO b VALUES (1)"},
      {3, "three", "CREATE TABLE c (z INTEGER); INSERT INTO nowhere VALUES (1)"},
  };
  CHECK(migrate(db, good) == 1);
  try {
    migrate(db, bad);
    FAIL("expected the migration to fail");
  } catch (const StoreError& error) {
    CHECK(error.status().message().find("migration 3 (three) failed") != std::string::npos);
  }
  CHECK(current_schema_version(db) == 1);
  CHECK(scalar(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('b', 'c')") == 0);
  CHECK_FALSE(db.in_transaction());
}

TEST_CASE("Migrations out of order are rejected", "[store][migrations]") {
  TempDir dir;
  Database db = Database::open(dir.file("m.db"));
  static constexpr Migration gap[] = {{1, "one", "SELECT 1"}, {3, "three", "SELECT 1"}};
  CHECK_THROWS_AS(migrate(db, gap), StoreError);
}

TEST_CASE("Files that are not Omnitrail databases are refused", "[store][migrations]") {
  TempDir dir;
  SECTION("garbage bytes") {
    std::ofstream(dir.file("omnitrail.db")) << std::string(8192, 'x');
    auto store = Store::open(options_for(dir));
    REQUIRE_FALSE(store.ok());
    CHECK(store.status().code() == StatusCode::corrupt);
    CHECK(store.status().message().find("omnitrail.db") != std::string::npos);
  }
  SECTION("another application's SQLite file") {
    {
      Database db = Database::open(dir.file("omnitrail.db"));
      db.exec("CREATE TABLE theirs (x INTEGER)");
    }
    auto store = Store::open(options_for(dir));
    REQUIRE_FALSE(store.ok());
    CHECK(store.status().code() == StatusCode::not_our_database);
  }
  SECTION("a foreign application_id") {
    {
      Database db = Database::open(dir.file("omnitrail.db"));
      db.exec("PRAGMA application_id = 1234");
    }
    auto store = Store::open(options_for(dir));
    REQUIRE_FALSE(store.ok());
    CHECK(store.status().code() == StatusCode::not_our_database);
  }
  SECTION("a directory that does not exist") {
    Options options;
    options.path = dir.file("nope/omnitrail.db");
    auto store = Store::open(options);
    REQUIRE_FALSE(store.ok());
    CHECK(store.status().code() == StatusCode::io_error);
  }
}
