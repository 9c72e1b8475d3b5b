// Numbered schema migrations (1, 2, ...) and the code that applies them at open.
// Thread contract: migrate() runs on whichever thread owns the write connection (the Store calls
// it from Store::open() before its threads start); the migration list is immutable (any thread).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "daemon/store/database.hpp"

namespace omnitrail::store {

/// One schema change. `sql` may hold several statements; it must not BEGIN/COMMIT itself.
struct Migration {
  int version;                   // 1, 2, ... contiguous
  std::string_view description;  // one line, for logs
  std::string_view sql;
};

/// PRAGMA application_id written into every Omnitrail database ("OmTr").
inline constexpr std::int32_t application_id = 0x4f6d5472;

/// The migrations this binary knows, in order.
std::span<const Migration> migrations() noexcept;

/// The highest version this binary knows.
int latest_schema_version() noexcept;

/// The version recorded in schema_migrations; 0 for a fresh (empty) database.
/// Throws StoreError.
int current_schema_version(Database& db);

/// Brings the database to the newest version of `list` (default: migrations()) in ONE immediate
/// transaction, recording each applied version with its time in schema_migrations; a failure
/// rolls everything back. Idempotent: an up-to-date database is left untouched.
/// Returns the version after migrating. Throws StoreError: schema_too_new when the database is
/// newer than `list` (it was written by a newer omnitraild), not_our_database when the file
/// belongs to another application, and whatever SQLite reports.
int migrate(Database& db, std::span<const Migration> list = migrations());

}  // namespace omnitrail::store
