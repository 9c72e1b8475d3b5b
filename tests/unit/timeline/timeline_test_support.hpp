// Test support for the timeline write side: a real Store on a temp file, a GB normaliser, a
// synchronous write() helper, interaction builders and row dumps for before/after comparisons.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <catch2/catch.hpp>

#include "daemon/identity/normalizer.hpp"
#include "daemon/store/store.hpp"
#include "daemon/timeline/ingest.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::timeline::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "omnitrail-timeline-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline identity::NormalizeOptions gb_options() {
  identity::NormalizeOptions options;
  options.default_region = "GB";
  options.internal_extensions = {"6001", "6002"};
  options.own_numbers = {"+44 20 7946 0999"};
  options.own_addresses = {"@omnitrail-company.example"};
  return options;
}

inline IdentifierClaim phone(std::string raw, identity::Trust trust = identity::Trust::claimed) {
  return {identity::IdentifierKind::phone, std::move(raw), trust};
}
inline IdentifierClaim email(std::string raw, identity::Trust trust = identity::Trust::claimed) {
  return {identity::IdentifierKind::email, std::move(raw), trust};
}
inline IdentifierClaim chat_user(std::string raw) {
  return {identity::IdentifierKind::chat_user, std::move(raw), identity::Trust::verified};
}
inline IdentifierClaim external(std::string raw) {
  return {identity::IdentifierKind::external, std::move(raw), identity::Trust::verified};
}

/// One Store per test case, plus a separate read connection for assertions.
class Fixture {
 public:
  Fixture() : normalizer_(gb_options()) {
    store::Options options;
    options.path = dir_.file("omnitrail.db");
    options.reader_threads = 1;
    auto opened = store::Store::open(options);
    INFO(opened.status().to_string());
    REQUIRE(opened.ok());
    store_ = std::move(opened).value();
    settings.normalizer = &normalizer_;
    reader_ = store::Database::open(options.path);
  }

  /// Runs `job` as one write job and waits for its commit; a failed job rethrows its Status as
  /// StoreError (after the savepoint rolled it back).
  template <class F>
  auto write(F job) -> std::invoke_result_t<F, store::WriteContext&> {
    using T = std::invoke_result_t<F, store::WriteContext&>;
    auto done = std::make_shared<std::promise<store::Status>>();
    auto future = done->get_future();
    if constexpr (std::is_void_v<T>) {
      REQUIRE(store_->submit_write([job](store::WriteContext& w) { job(w); },
                                   [done](store::Status s) { done->set_value(std::move(s)); }));
      const store::Status status = future.get();
      if (!status.ok()) throw store::StoreError(status);
    } else {
      auto slot = std::make_shared<std::optional<T>>();
      REQUIRE(store_->submit_write([job, slot](store::WriteContext& w) { slot->emplace(job(w)); },
                                   [done](store::Status s) { done->set_value(std::move(s)); }));
      const store::Status status = future.get();
      if (!status.ok()) throw store::StoreError(status);
      return std::move(**slot);
    }
  }

  /// The StatusCode a write job fails with (ok when it succeeds), and its message.
  template <class F>
  store::Status write_status(F job) {
    try {
      write(job);
      return {};
    } catch (const store::StoreError& error) {
      return error.status();
    }
  }

  IngestOutcome ingest(const Interaction& in) {
    return write([this, in](store::WriteContext& w) { return timeline::ingest(w, settings, in, tick()); });
  }

  /// An inbound interaction with a fresh external id.
  Interaction inbound(std::string channel, std::string kind, std::vector<IdentifierClaim> claims) {
    Interaction in;
    in.channel = std::move(channel);
    in.direction = "inbound";
    in.kind = std::move(kind);
    in.occurred_at_ms = tick();
    in.source = "test";
    in.external_id = "ext-" + std::to_string(++external_counter_);
    in.customer_identifiers = std::move(claims);
    if (!in.customer_identifiers.empty()) in.from = in.customer_identifiers.front().raw;
    return in;
  }
  Interaction call(const std::string& from) {
    return inbound("phone", "call.ringing", {phone(from)});
  }

  std::int64_t scalar(const std::string& sql) {
    auto value = reader_.query_value<std::int64_t>(sql);
    return value.value_or(-1);
  }
  std::string text(const std::string& sql) {
    auto value = reader_.query_value<std::string>(sql);
    return value.value_or("<no row>");
  }
  /// Every row of `table` (all columns, NULL shown as \N), ordered by `order`.
  std::vector<std::string> dump(const std::string& table, const std::string& order = "id") {
    store::Statement s = reader_.prepare("SELECT * FROM " + table + " ORDER BY " + order);
    std::vector<std::string> rows;
    while (s.step()) {
      std::string row;
      for (int i = 0; i < s.column_count(); ++i) {
        row += (i ? "|" : "") + (s.is_null(i) ? std::string("\\N") : s.column<std::string>(i));
      }
      rows.push_back(row);
    }
    return rows;
  }
  std::int64_t customer_row(const std::string& public_id) {
    return scalar("SELECT id FROM customers WHERE public_id = '" + public_id + "'");
  }

  std::int64_t tick() { return now_ += 1000; }
  store::Store& store() { return *store_; }
  store::Database& reader() { return reader_; }
  const TempDir& dir() const { return dir_; }

  IngestSettings settings;

 private:
  TempDir dir_;
  identity::Normalizer normalizer_;
  std::unique_ptr<store::Store> store_;
  store::Database reader_;
  std::int64_t now_ = 1'700'000'000'000;
  int external_counter_ = 0;
};

}  // namespace omnitrail::timeline::testing
