// Test fixture for the read side: a fresh migrated SQLite file in a temporary directory and
// plain-SQL inserts into schema v1 (independent of the write side's ingest code).
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include <catch2/catch.hpp>

#include "daemon/store/database.hpp"
#include "daemon/store/migrations.hpp"
#include "daemon/store/status.hpp"

namespace omnitrail::timeline::testing {

constexpr std::int64_t minute_ms = 60000;
constexpr std::int64_t hour_ms = 3600000;
constexpr std::int64_t day_ms = 86400000;
/// 2026-11-24T13:00:00.000Z
constexpr std::int64_t fixed_now = 1795525200000;

/// A customer row: internal row id and public id.
struct CustomerRef {
  std::int64_t row = 0;
  std::string id;
};

class ReadFixture {
 public:
  ReadFixture() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "omnitrail-read-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    db = store::Database::open((dir_ / "read.db").string());
    db.configure_writer(store::Synchronous::normal);
    store::migrate(db);
  }
  ReadFixture(const ReadFixture&) = delete;
  ReadFixture& operator=(const ReadFixture&) = delete;
  ~ReadFixture() {
    db = store::Database();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  CustomerRef customer(std::optional<std::string> name, std::int64_t created_at = fixed_now - 400 * day_ms,
                       const std::string& attributes = "{}") {
    store::Statement insert = db.prepare(
        "INSERT INTO customers(display_name, attributes, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?3) RETURNING id, public_id");
    insert.bind_all(name, attributes, created_at);
    REQUIRE(insert.step());
    CustomerRef ref{insert.column<std::int64_t>(0), insert.column<std::string>(1)};
    insert.reset();
    return ref;
  }

  std::int64_t identity(const CustomerRef& owner, const std::string& kind, const std::string& key,
                        const std::string& raw, std::int64_t first_seen,
                        const std::string& trust = "claimed",
                        std::optional<std::string> suggestion_key = std::nullopt) {
    db.prepare(
          "INSERT INTO identities(customer_id, kind, key, raw, trust, source, suggestion_key, "
          "first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, 'test', ?6, ?7, ?7)")
        .bind_all(owner.row, kind, key, raw, trust, suggestion_key, first_seen)
        .run();
    return db.last_insert_rowid();
  }

  /// A conversation; returns (row id, public id).
  CustomerRef conversation(const CustomerRef& owner, const std::string& channel,
                           std::int64_t started_at, std::optional<std::int64_t> ended_at,
                           std::optional<std::int64_t> last_at = std::nullopt) {
    store::Statement insert = db.prepare(
        "INSERT INTO conversations(key, channel, customer_id, source, started_at, last_at, "
        "ended_at) VALUES (?1, ?2, ?3, 'test', ?4, ?5, ?6) RETURNING id, public_id");
    insert.bind_all("k" + std::to_string(++sequence_), channel, owner.row, started_at,
                    last_at.value_or(started_at), ended_at);
    REQUIRE(insert.step());
    CustomerRef ref{insert.column<std::int64_t>(0), insert.column<std::string>(1)};
    insert.reset();
    return ref;
  }

  /// An interaction; returns its public id. `conversation_row` 0: none.
  std::string interaction(const CustomerRef& owner, const std::string& channel,
                          const std::string& direction, std::int64_t at,
                          std::int64_t conversation_row = 0, const std::string& kind = "x.event",
                          const std::string& text = "hello") {
    store::Statement insert = db.prepare(
        "INSERT INTO interactions(customer_id, conversation_id, channel, direction, kind, "
        "occurred_at, source, external_id, from_raw, from_key, to_raw, agent, subject, text, "
        "metadata, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'test', ?7, '020 7946 0123', "
        "'+442079460123', '6001', 'agent-7', NULL, ?8, '{\"n\":1}', ?6) RETURNING public_id");
    std::optional<std::int64_t> conversation;
    if (conversation_row != 0) conversation = conversation_row;
    insert.bind_all(owner.row, conversation, channel, direction, kind, at,
                    "e" + std::to_string(++sequence_), text);
    REQUIRE(insert.step());
    std::string id = insert.column<std::string>(0);
    insert.reset();
    return id;
  }

  /// Marks `merged` as merged into `survivor` (the write side's merge outcome, without moves).
  void merge(const CustomerRef& merged, const CustomerRef& survivor) {
    db.prepare("UPDATE customers SET merged_into = ?1 WHERE id = ?2")
        .bind_all(survivor.row, merged.row)
        .run();
  }

  std::int64_t suggestion(const CustomerRef& a, const CustomerRef& b, const std::string& status,
                          std::int64_t created_at, const std::string& reason = "phone_nsn") {
    db.prepare(
          "INSERT INTO suggestions(customer_a, customer_b, reason, evidence, status, created_at) "
          "VALUES (?1, ?2, ?3, '[\"+442079460123\"]', ?4, ?5)")
        .bind_all(a.row, b.row, reason, status, created_at)
        .run();
    return db.last_insert_rowid();
  }

  std::int64_t count(const std::string& sql) { return *db.query_value<std::int64_t>(sql); }

  store::Database db;

 private:
  std::filesystem::path dir_;
  int sequence_ = 0;
};

/// The StatusCode a StoreError thrown by `f` carries; fails the test when nothing is thrown.
template <class F>
store::StatusCode error_code_of(F&& f) {
  try {
    f();
  } catch (const store::StoreError& error) {
    return error.status().code();
  }
  FAIL("expected a StoreError");
  return store::StatusCode::ok;
}

}  // namespace omnitrail::timeline::testing
