// Baseline for the ingest benchmark: the rows POST /api/v1/interactions writes for a known caller,
// inserted with the raw sqlite3 C API into the same schema and indexes (a copy of the preloaded
// store), with the pragmas the daemon's writer uses (daemon/store/database.cpp configure_writer):
// bench/ingest.py reads them from that source and passes them as --pragma NAME=VALUE (applied in
// order after open); without any --pragma the tool applies journal_mode=WAL, synchronous=NORMAL,
// foreign_keys=ON, secure_delete=ON.
// Per row, like the daemon's ingest for an existing identity: duplicate check by (source,
// external_id), phone-key lookup of the customer, refresh of the identity's last_seen, INSERT of
// the interaction (RETURNING public_id). Rows are committed in batches of --batch (one
// transaction each, prepared statements reused).
//
//   insert_baseline DB --rows N --customers C [--batch B] [--pragma NAME=VALUE]...
// Prints one JSON line: rows, seconds, rows_per_s.
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench_sqlite.hpp"

namespace {

using namespace bench;


std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: insert_baseline DB --rows N --customers C [--batch B] [--pragma NAME=VALUE]...\n");
    return 2;
  }
  const char* path = argv[1];
  std::int64_t rows = 20000, customers = 1000, batch = 1000;
  std::vector<std::string> pragmas;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rows")) rows = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--customers")) customers = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--pragma")) pragmas.emplace_back(argv[i + 1]);
    else { std::fprintf(stderr, "insert_baseline: unknown option %s\n", argv[i]); return 2; }
  }
  if (rows < 1 || customers < 1 || batch < 1) return 2;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) die(db, "open");
  if (pragmas.empty()) pragmas = {"journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "secure_delete=ON"};
  std::string applied;
  for (const auto& p : pragmas) {
    exec(db, ("PRAGMA " + p).c_str());
    applied += (applied.empty() ? "" : ";") + p;
  }

  sqlite3_stmt* dup = prepare(db, "SELECT public_id FROM interactions WHERE source = ?1 AND external_id = ?2");
  sqlite3_stmt* find = prepare(db, "SELECT customer_id FROM identities WHERE kind = 'phone' AND key = ?1");
  sqlite3_stmt* refresh = prepare(db,
      "UPDATE identities SET last_seen = max(last_seen, ?2), first_seen = min(first_seen, ?2) "
      "WHERE kind = 'phone' AND key = ?1");
  sqlite3_stmt* ins = prepare(db,
      "INSERT INTO interactions(customer_id, conversation_id, channel, direction, kind, occurred_at, source, "
      "external_id, from_raw, from_key, text, metadata, created_at) "
      "VALUES (?1, NULL, 'api', 'inbound', 'api.event', ?2, 'api', ?3, ?4, ?4, ?5, '{}', ?2) RETURNING public_id");

  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::int64_t> pick(0, customers - 1);
  const std::int64_t run = now_ms();
  std::int64_t missing = 0;
  const auto t0 = std::chrono::steady_clock::now();
  exec(db, "BEGIN IMMEDIATE");
  for (std::int64_t n = 0; n < rows; ++n) {
    char ext[64];
    std::snprintf(ext, sizeof ext, "raw-%lld-%lld", static_cast<long long>(run), static_cast<long long>(n));
    const std::string phone = bench_phone(pick(rng));
    const std::int64_t now = now_ms();
    bind_text(dup, 1, "api");
    bind_text(dup, 2, ext);
    if (sqlite3_step(dup) == SQLITE_ROW) die(db, "duplicate external_id");
    sqlite3_reset(dup);
    bind_text(find, 1, phone);
    std::int64_t customer = 0;
    if (sqlite3_step(find) == SQLITE_ROW) customer = sqlite3_column_int64(find, 0);
    else ++missing;
    sqlite3_reset(find);
    bind_text(refresh, 1, phone);
    sqlite3_bind_int64(refresh, 2, now);
    if (sqlite3_step(refresh) != SQLITE_DONE) die(db, "refresh");
    sqlite3_reset(refresh);
    if (customer) sqlite3_bind_int64(ins, 1, customer);
    else sqlite3_bind_null(ins, 1);
    sqlite3_bind_int64(ins, 2, now);
    bind_text(ins, 3, ext);
    bind_text(ins, 4, phone);
    bind_text(ins, 5, "bench ingest");
    if (sqlite3_step(ins) != SQLITE_ROW) die(db, "insert");
    sqlite3_reset(ins);
    if ((n + 1) % batch == 0) {
      exec(db, "COMMIT");
      exec(db, "BEGIN IMMEDIATE");
    }
  }
  exec(db, "COMMIT");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sqlite3_finalize(dup);
  sqlite3_finalize(find);
  sqlite3_finalize(refresh);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  std::printf("{\"rows\":%lld,\"batch\":%lld,\"pragmas\":\"%s\",\"unknown_callers\":%lld,\"seconds\":%.4f,"
              "\"rows_per_s\":%.1f}\n",
              static_cast<long long>(rows), static_cast<long long>(batch), applied.c_str(),
              static_cast<long long>(missing), secs, rows / secs);
  return 0;
}
