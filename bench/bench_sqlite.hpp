// Shared by the bench tools that write SQLite directly (preload.cpp, insert_baseline.cpp):
// fail-fast sqlite3 helpers and the preloaded customers' phone numbers. Header-only: run.sh
// compiles each tool from its one .cpp.
#pragma once

#include <errno.h>  // program_invocation_short_name (glibc)
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace bench {

[[noreturn]] inline void die(sqlite3* db, const char* what) {
  std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, db ? sqlite3_errmsg(db) : "?");
  std::exit(1);
}

inline void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, sql, err ? err : "?");
    std::exit(1);
  }
}

inline sqlite3_stmt* prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) die(db, sql);
  return s;
}

inline void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

// Phone of preloaded customer i: +1 <area> <exchange 230..299> <line 0000..9999>; the same as
// bench/benchlib.py bench_phone and bench/wrk/common.lua (keep them identical).
constexpr int areas[] = {212, 312, 415, 617, 702, 713, 808, 919};
constexpr std::int64_t max_customers = 8LL * 70 * 10000;

inline std::string bench_phone(std::int64_t i) {
  const int area = areas[i % 8];
  const std::int64_t j = i / 8;
  char buf[24];
  std::snprintf(buf, sizeof buf, "+1%03d%03d%04d", area, static_cast<int>(230 + (j / 10000) % 70),
                static_cast<int>(j % 10000));
  return buf;
}

}  // namespace bench
