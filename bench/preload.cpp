// Bulk preload of an omnitraild store for the benchmarks (issue #10): N customers, each with one
// phone identity (E.164 key, national-number suggestion key, as the daemon's normaliser writes
// them) and every 4th with an email identity, M interactions (phone calls: call.ringing /
// call.ended pairs, two per conversation) spread round-robin over the customers.
//
// The database must already carry the daemon's schema: bench/benchlib.py starts omnitraild once
// on an empty path (the daemon applies its own migrations, daemon/store/migrations.cpp), stops
// it, then runs this tool on the file. Rows go in with the sqlite3 C API: prepared statements,
// one transaction per batch. Phone numbers are bench_phone(i) in bench_sqlite.hpp; bench/benchlib.py has the
// same function (keep them identical).
//
//   preload DB --customers N --interactions M [--batch B]
// Prints one JSON line with the counts and the elapsed time.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_sqlite.hpp"

namespace {

using namespace bench;

void step_reset(sqlite3* db, sqlite3_stmt* s) {
  if (sqlite3_step(s) != SQLITE_DONE) die(db, sqlite3_sql(s));
  sqlite3_reset(s);
}

// Bijective 64-bit mixer (splitmix64 finaliser): unique, random-looking public ids.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string public_id(char prefix, std::uint64_t n, std::uint64_t salt) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%c_%016llx", prefix, static_cast<unsigned long long>(mix(n ^ salt)));
  return buf;
}


}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: preload DB --customers N --interactions M [--batch B]\n");
    return 2;
  }
  const char* path = argv[1];
  std::int64_t customers = 1000000, interactions = 10000000, batch = 100000;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--customers")) customers = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--interactions")) interactions = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[i + 1]);
    else { std::fprintf(stderr, "preload: unknown option %s\n", argv[i]); return 2; }
  }
  if (customers < 1 || customers > max_customers || interactions < 0 || batch < 1) {
    std::fprintf(stderr, "preload: customers must be 1..%lld\n", static_cast<long long>(max_customers));
    return 2;
  }
  const auto t_start = std::chrono::steady_clock::now();
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) die(db, "open");
  {
    sqlite3_stmt* v = prepare(db, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (sqlite3_step(v) != SQLITE_ROW || sqlite3_column_int(v, 0) < 2) {
      std::fprintf(stderr, "preload: %s has no omnitraild schema (v2+); start the daemon on it first\n", path);
      return 1;
    }
    sqlite3_finalize(v);
    sqlite3_stmt* c = prepare(db, "SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM interactions)");
    if (sqlite3_step(c) != SQLITE_ROW || sqlite3_column_int64(c, 0) != 0) {
      std::fprintf(stderr, "preload: %s is not empty\n", path);
      return 1;
    }
    sqlite3_finalize(c);
  }
  // Bulk-load settings for this tool only; the daemon sets its own (WAL, synchronous=NORMAL) on open.
  exec(db, "PRAGMA journal_mode=OFF");
  exec(db, "PRAGMA synchronous=OFF");
  exec(db, "PRAGMA cache_size=-4000000");  // 4 GB: random-order index inserts stay in memory
  exec(db, "PRAGMA temp_store=MEMORY");
  exec(db, "PRAGMA foreign_keys=OFF");  // rows are generated consistent; checked below

  // Secondary (non-unique) indexes are dropped for the load and rebuilt from their own SQL after
  // it (a sorted build is far faster than 10M random-order inserts); the unique ones stay.
  std::vector<std::string> index_sql;
  {
    sqlite3_stmt* q = prepare(db,
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL "
        "AND tbl_name IN ('customers', 'identities', 'conversations', 'interactions') "
        "AND sql NOT LIKE 'CREATE UNIQUE%'");
    std::vector<std::string> names;
    while (sqlite3_step(q) == SQLITE_ROW) {
      names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)));
      index_sql.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(q, 1)));
    }
    sqlite3_finalize(q);
    for (const auto& n : names) exec(db, ("DROP INDEX \"" + n + "\"").c_str());
  }

  sqlite3_stmt* ins_customer = prepare(db,
      "INSERT INTO customers(id, public_id, display_name, display_name_source, display_name_at, attributes, "
      "created_at, updated_at) VALUES (?1, ?2, ?3, 'channel', ?4, '{}', ?4, ?5)");
  sqlite3_stmt* ins_identity = prepare(db,
      "INSERT INTO identities(customer_id, kind, key, raw, trust, source, suggestion_key, first_seen, last_seen) "
      "VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8)");
  sqlite3_stmt* ins_conversation = prepare(db,
      "INSERT INTO conversations(id, public_id, key, channel, customer_id, source, started_at, last_at, ended_at) "
      "VALUES (?1, ?2, ?3, 'phone', ?4, 'pbx', ?5, ?6, ?6)");
  sqlite3_stmt* ins_interaction = prepare(db,
      "INSERT INTO interactions(id, public_id, customer_id, conversation_id, channel, direction, kind, occurred_at, "
      "source, external_id, from_raw, from_key, to_raw, agent, metadata, created_at) "
      "VALUES (?1, ?2, ?3, ?4, 'phone', 'inbound', ?5, ?6, 'pbx', ?7, ?8, ?8, '6001', ?9, ?10, ?6)");

  // Time line: the interactions cover the two years before a fixed instant (reproducible files).
  const std::int64_t now_ms = 1795000000000LL;
  const std::int64_t span_ms = 2LL * 365 * 24 * 3600 * 1000;
  const std::int64_t conversations = (interactions + 1) / 2;
  const std::int64_t step_ms = conversations > 0 ? std::max<std::int64_t>(1, span_ms / conversations) : 1;
  auto conv_start = [&](std::int64_t c) { return now_ms - span_ms + c * step_ms; };

  std::int64_t in_batch = 0;
  auto tick = [&] {
    if (++in_batch >= batch) {
      exec(db, "COMMIT");
      exec(db, "BEGIN");
      in_batch = 0;
    }
  };
  exec(db, "BEGIN");
  std::int64_t identities = 0;
  for (std::int64_t i = 0; i < customers; ++i) {
    const std::int64_t id = i + 1;
    const std::int64_t created = now_ms - span_ms - 86400000LL + i;
    char name[48];
    std::snprintf(name, sizeof name, "Bench Customer %lld", static_cast<long long>(i));
    sqlite3_bind_int64(ins_customer, 1, id);
    bind_text(ins_customer, 2, public_id('c', static_cast<std::uint64_t>(i), 0x1111));
    bind_text(ins_customer, 3, name);
    sqlite3_bind_int64(ins_customer, 4, created);
    sqlite3_bind_int64(ins_customer, 5, now_ms);
    step_reset(db, ins_customer);

    const std::string phone = bench_phone(i);
    sqlite3_bind_int64(ins_identity, 1, id);
    bind_text(ins_identity, 2, "phone");
    bind_text(ins_identity, 3, phone);
    bind_text(ins_identity, 4, "claimed");
    bind_text(ins_identity, 5, "pbx");
    bind_text(ins_identity, 6, phone.substr(2));  // national significant number (NANP: drop +1)
    sqlite3_bind_int64(ins_identity, 7, created);
    sqlite3_bind_int64(ins_identity, 8, now_ms);
    step_reset(db, ins_identity);
    ++identities;
    if (i % 4 == 0) {
      char email[64];
      std::snprintf(email, sizeof email, "customer%lld@example.com", static_cast<long long>(i));
      sqlite3_bind_int64(ins_identity, 1, id);
      bind_text(ins_identity, 2, "email");
      bind_text(ins_identity, 3, email);
      bind_text(ins_identity, 4, "claimed");
      bind_text(ins_identity, 5, "api");
      bind_text(ins_identity, 6, email);
      sqlite3_bind_int64(ins_identity, 7, created);
      sqlite3_bind_int64(ins_identity, 8, now_ms);
      step_reset(db, ins_identity);
      ++identities;
    }
    tick();
  }
  for (std::int64_t c = 0; c < conversations; ++c) {
    const std::int64_t customer = c % customers;
    const std::int64_t start = conv_start(c);
    char key[40];
    std::snprintf(key, sizeof key, "pre-%012lld", static_cast<long long>(c));
    sqlite3_bind_int64(ins_conversation, 1, c + 1);
    bind_text(ins_conversation, 2, public_id('v', static_cast<std::uint64_t>(c), 0x2222));
    bind_text(ins_conversation, 3, key);
    sqlite3_bind_int64(ins_conversation, 4, customer + 1);
    sqlite3_bind_int64(ins_conversation, 5, start);
    sqlite3_bind_int64(ins_conversation, 6, start + 60000 + (c % 600) * 1000);
    step_reset(db, ins_conversation);
    tick();
  }
  for (std::int64_t k = 0; k < interactions; ++k) {
    const std::int64_t c = k / 2;
    const bool ended = (k % 2) == 1;
    const std::int64_t customer = c % customers;
    const std::int64_t at = ended ? conv_start(c) + 60000 + (c % 600) * 1000 : conv_start(c);
    char ext[48], agent[16], meta[64];
    std::snprintf(ext, sizeof ext, "pre-%012lld:%s", static_cast<long long>(c), ended ? "call.ended" : "call.ringing");
    std::snprintf(agent, sizeof agent, "a%04lld", static_cast<long long>(c % 1000));
    if (ended) std::snprintf(meta, sizeof meta, "{\"duration_seconds\":%lld}", static_cast<long long>(60 + c % 600));
    else std::snprintf(meta, sizeof meta, "{\"queue\":\"support\"}");
    sqlite3_bind_int64(ins_interaction, 1, k + 1);
    bind_text(ins_interaction, 2, public_id('i', static_cast<std::uint64_t>(k), 0x3333));
    sqlite3_bind_int64(ins_interaction, 3, customer + 1);
    sqlite3_bind_int64(ins_interaction, 4, c + 1);
    bind_text(ins_interaction, 5, ended ? "call.ended" : "call.ringing");
    sqlite3_bind_int64(ins_interaction, 6, at);
    bind_text(ins_interaction, 7, ext);
    bind_text(ins_interaction, 8, bench_phone(customer));
    bind_text(ins_interaction, 9, agent);
    bind_text(ins_interaction, 10, meta);
    step_reset(db, ins_interaction);
    tick();
  }
  exec(db, "COMMIT");
  exec(db, "BEGIN");
  for (const auto& sql : index_sql) exec(db, sql.c_str());
  exec(db, "COMMIT");
  sqlite3_finalize(ins_customer);
  sqlite3_finalize(ins_identity);
  sqlite3_finalize(ins_conversation);
  sqlite3_finalize(ins_interaction);
  {  // Referential check (foreign_keys was off while loading).
    sqlite3_stmt* fk = prepare(db, "PRAGMA foreign_key_check");
    if (sqlite3_step(fk) == SQLITE_ROW) {
      std::fprintf(stderr, "preload: foreign key violation in %s\n", sqlite3_column_text(fk, 0));
      return 1;
    }
    sqlite3_finalize(fk);
  }
  // Hand the file over in the daemon's journal mode.
  exec(db, "PRAGMA journal_mode=WAL");
  sqlite3_close(db);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  std::printf("{\"rebuilt_indexes\":%zu,\"customers\":%lld,\"identities\":%lld,\"conversations\":%lld,\"interactions\":%lld,\"seconds\":%.3f}\n",
              index_sql.size(), static_cast<long long>(customers), static_cast<long long>(identities),
              static_cast<long long>(conversations), static_cast<long long>(interactions), secs);
  return 0;
}
