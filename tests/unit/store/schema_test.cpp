// Schema v1 as callers use it: natural keys, idempotent inserts, cascades, checks, hot indexes.
#include <catch2/catch.hpp>

#include <algorithm>

#include "daemon/store/migrations.hpp"
#include "temp_dir.hpp"

using namespace omnitrail::store;
using omnitrail::store::testing::TempDir;

namespace {

Database migrated(const TempDir& dir) {
  Database db = Database::open(dir.file("schema.db"));
  db.configure_writer(Synchronous::normal);
  migrate(db);
  return db;
}

std::int64_t new_customer(Database& db) {
  db.prepare("INSERT INTO customers(created_at, updated_at) VALUES (1, 1)").run();
  return db.last_insert_rowid();
}

// "<prefix>" followed by 16 lower-case hex digits.
bool is_public_id(const std::string& id, const std::string& prefix) {
  return id.size() == prefix.size() + 16 && id.compare(0, prefix.size(), prefix) == 0 &&
         std::all_of(id.begin() + static_cast<std::ptrdiff_t>(prefix.size()), id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::int64_t scalar(Database& db, const std::string& sql) { return *db.query_value<std::int64_t>(sql); }

// The idempotent ingest pattern the timeline uses: one row per (source, external_id).
InsertOrGet ingest(Database& db, std::int64_t customer, const std::string& source,
                   const std::string& external_id, std::int64_t at) {
  Statement& insert = db.cached(
      "INSERT INTO interactions(customer_id, channel, direction, kind, occurred_at, source, "
      "external_id, created_at) VALUES (?1, 'phone', 'inbound', 'call.ringing', ?2, ?3, ?4, ?2) "
      "ON CONFLICT(source, external_id) DO NOTHING");
  insert.bind_all(customer, at, source, external_id);
  Statement& lookup =
      db.cached("SELECT id FROM interactions WHERE source = ?1 AND external_id = ?2");
  lookup.bind_all(source, external_id);
  return insert_or_get(db, insert, lookup);
}

std::string plan(Database& db, const std::string& sql) {
  Statement statement = db.prepare("EXPLAIN QUERY PLAN " + sql);
  std::string out;
  while (statement.step()) out += statement.column<std::string>("detail") + "\n";
  return out;
}

}  // namespace

TEST_CASE("Public ids are generated, prefixed and unique", "[store][schema]") {
  TempDir dir;
  Database db = migrated(dir);
  const auto a = new_customer(db);
  const auto b = new_customer(db);
  Statement select = db.prepare("SELECT public_id FROM customers WHERE id = ?1");
  select.bind(1, a);
  REQUIRE(select.step());
  const std::string id_a = select.column<std::string>(0);
  select.reset();
  select.bind(1, b);
  REQUIRE(select.step());
  const std::string id_b = select.column<std::string>(0);
  CHECK(is_public_id(id_a, "c_"));
  CHECK(id_a != id_b);
  const auto i = ingest(db, a, "ami", "1700000000.1:ringing", 5).id;
  Statement interaction = db.prepare("SELECT public_id FROM interactions WHERE id = ?1");
  interaction.bind(1, i);
  REQUIRE(interaction.step());
  CHECK(is_public_id(interaction.column<std::string>(0), "i_"));
}

TEST_CASE("UNIQUE(source, external_id) makes redelivery idempotent", "[store][schema]") {
  TempDir dir;
  Database db = migrated(dir);
  const auto customer = new_customer(db);
  const auto first = ingest(db, customer, "twilio", "SM123", 10);
  const auto again = ingest(db, customer, "twilio", "SM123", 10);
  const auto other_source = ingest(db, customer, "kannel", "SM123", 10);
  CHECK(first.inserted);
  CHECK_FALSE(again.inserted);
  CHECK(again.id == first.id);
  CHECK(other_source.inserted);
  CHECK(scalar(db, "SELECT count(*) FROM interactions") == 2);

  // A plain INSERT reports the duplicate as a constraint error.
  try {
    db.exec(
        "INSERT INTO interactions(channel, direction, kind, occurred_at, source, external_id, "
        "created_at) VALUES ('sms', 'inbound', 'sms.received', 1, 'twilio', 'SM123', 1)");
    FAIL("expected a UNIQUE violation");
  } catch (const StoreError& error) {
    CHECK(error.status().code() == StatusCode::constraint);
  }
}

TEST_CASE("One identity per (kind, key)", "[store][schema]") {
  TempDir dir;
  Database db = migrated(dir);
  const auto a = new_customer(db);
  const auto b = new_customer(db);
  Statement insert = db.prepare(
      "INSERT INTO identities(customer_id, kind, key, raw, trust, source, first_seen, last_seen) "
      "VALUES (?1, 'phone', '+442079460123', ?2, 'claimed', 'ami', 1, 1)");
  insert.bind_all(a, "02079460123").run();
  insert.bind_all(b, "+44 20 7946 0123");
  CHECK_THROWS_AS(insert.run(), StoreError);
  CHECK(scalar(db, "SELECT customer_id FROM identities WHERE kind='phone' AND key='+442079460123'") ==
        a);
}

TEST_CASE("Checks reject bad values", "[store][schema]") {
  TempDir dir;
  Database db = migrated(dir);
  const auto a = new_customer(db);
  const auto b = new_customer(db);
  CHECK_THROWS_AS(db.exec("INSERT INTO customers(attributes, created_at, updated_at) "
                          "VALUES ('{not json', 1, 1)"),
                  StoreError);
  CHECK_THROWS_AS(db.exec("INSERT INTO interactions(channel, direction, kind, occurred_at, source, "
                          "external_id, created_at) VALUES ('fax', 'inbound', 'x', 1, 's', 'e', 1)"),
                  StoreError);
  CHECK_THROWS_AS(db.exec("INSERT INTO identities(customer_id, kind, key, raw, trust, source, "
                          "first_seen, last_seen) VALUES (1, 'email', 'a@b', 'a@b', 'maybe', 's', 1, "
                          "1)"),
                  StoreError);
  // do_not_merge stores each pair once, smaller id first.
  db.prepare("INSERT INTO do_not_merge(a, b, created_at) VALUES (?1, ?2, 1)").bind_all(a, b).run();
  CHECK_THROWS_AS(
      db.prepare("INSERT INTO do_not_merge(a, b, created_at) VALUES (?1, ?2, 1)").bind_all(b, a).run(),
      StoreError);
  // One pending suggestion per unordered pair; decided ones do not count.
  Statement suggest = db.prepare(
      "INSERT INTO suggestions(customer_a, customer_b, reason, created_at) VALUES (?1, ?2, "
      "'phone', 1)");
  suggest.bind_all(a, b).run();
  suggest.bind_all(b, a);
  CHECK_THROWS_AS(suggest.run(), StoreError);
  db.exec("UPDATE suggestions SET status = 'rejected'");
  suggest.run();
  // Foreign keys are enforced.
  CHECK_THROWS_AS(db.exec("INSERT INTO identities(customer_id, kind, key, raw, trust, source, "
                          "first_seen, last_seen) VALUES (999, 'email', 'a@b', 'a@b', 'claimed', "
                          "'s', 1, 1)"),
                  StoreError);
}

TEST_CASE("Erasing a customer cascades to everything personal", "[store][schema]") {
  TempDir dir;
  Database db = migrated(dir);
  const auto keep = new_customer(db);
  const auto erase = new_customer(db);
  db.prepare(
        "INSERT INTO identities(customer_id, kind, key, raw, trust, source, first_seen, "
        "last_seen) VALUES (?1, 'email', 'a@example.com', 'A@Example.com', 'claimed', 'imap', 1, "
        "1)")
      .bind(1, erase)
      .run();
  ingest(db, erase, "imap", "<m1@example.com>", 1);
  ingest(db, keep, "imap", "<m2@example.com>", 1);
  db.prepare("INSERT INTO conversations(key, channel, customer_id, source, started_at, last_at) "
             "VALUES ('t1', 'email', ?1, 'imap', 1, 1)")
      .bind(1, erase)
      .run();
  db.prepare("INSERT INTO merges(survivor_id, merged_id, rule, actor, created_at) VALUES (?1, ?2, "
             "'manual', 'agent:7', 1)")
      .bind_all(keep, erase)
      .run();
  db.prepare("INSERT INTO outbox(kind, idempotency_key, payload, customer_id, next_attempt_at, "
             "created_at, updated_at) VALUES ('email.send', 'k1', '{}', ?1, 1, 1, 1)")
      .bind(1, erase)
      .run();

  db.prepare("DELETE FROM customers WHERE id = ?1").bind(1, erase).run();
  CHECK(scalar(db, "SELECT count(*) FROM identities") == 0);
  CHECK(scalar(db, "SELECT count(*) FROM interactions") == 1);
  CHECK(scalar(db, "SELECT count(*) FROM conversations") == 0);
  CHECK(scalar(db, "SELECT count(*) FROM merges") == 0);
  CHECK(scalar(db, "SELECT count(*) FROM outbox") == 0);
  CHECK(scalar(db, "SELECT count(*) FROM pragma_foreign_key_check") == 0);
}

TEST_CASE("Hot lookups use indexes", "[store][schema]") {
  TempDir dir;
  Database db = migrated(dir);
  db.exec("ANALYZE");

  const std::string timeline = plan(
      db, "SELECT * FROM interactions WHERE customer_id = 1 ORDER BY occurred_at DESC, id DESC "
          "LIMIT 50");
  CHECK_THAT(timeline, Catch::Contains("interactions_customer_time"));
  CHECK_THAT(timeline, !Catch::Contains("TEMP B-TREE"));

  CHECK_THAT(plan(db, "SELECT customer_id FROM identities WHERE kind = 'phone' AND key = 'x'"),
             Catch::Contains("INDEX"));
  CHECK_THAT(plan(db, "SELECT id FROM interactions WHERE source = 's' AND external_id = 'e'"),
             Catch::Contains("INDEX"));
  CHECK_THAT(plan(db, "SELECT id FROM conversations WHERE source = 's' AND key = 'k'"),
             Catch::Contains("INDEX"));
  CHECK_THAT(plan(db, "SELECT id FROM customers WHERE public_id = 'c_0'"), Catch::Contains("INDEX"));
  CHECK_THAT(plan(db, "SELECT * FROM identities WHERE customer_id = 1"),
             Catch::Contains("identities_customer"));
  CHECK_THAT(plan(db, "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= 5 "
                      "ORDER BY next_attempt_at LIMIT 10"),
             Catch::Contains("outbox_due"));
  CHECK_THAT(plan(db, "SELECT * FROM conversations WHERE customer_id = 1 AND ended_at IS NULL "
                      "ORDER BY last_at DESC"),
             Catch::Contains("conversations_"));
  CHECK_THAT(plan(db, "SELECT id FROM customers WHERE merged_into = 1"),
             Catch::Contains("customers_merged_into"));
}
