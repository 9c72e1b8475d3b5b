// Read-side queries over the timeline store: identifier lookup, customer search, a customer's
// timeline page by page, merge suggestions for the admin API and single interactions. The JSON
// they return is a public interface (REST API, agent console, webhooks): docs/customer-view.md.
//
// Thread contract: every function runs synchronous SQL on `db` and must be called by the thread
// that owns that connection -- in the daemon, inside a Store read job (`ReadContext::db()`),
// never on an io thread. Each call reads one consistent snapshot: it opens a deferred read
// transaction unless the caller already has one open on `db`.
//
// Errors: every function throws store::StoreError. `not_found` (REST: 404) when the customer or
// interaction does not exist or was erased; `invalid_argument` (REST: 400) for bad input (the
// message names the field and the problem, never echoes customer data beyond the field value);
// `internal` for an inconsistent database (a merge cycle); SQLite errors as the store reports them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/identity/normalizer.hpp"
#include "daemon/store/database.hpp"

namespace omnitrail::timeline {

/// The customer (public id, resolved to the surviving customer when it was merged) that owns the
/// identifier (kind, key), where `key` is already normalised (E.164, lower-cased email...).
/// nullopt when no customer owns it, or when its owner was erased.
std::optional<std::string> find_customer_by_key(store::Database& db, identity::IdentifierKind kind,
                                                const std::string& key);

/// Finds the customer for an identifier as a user typed it. With `kind`, `raw` is normalised as
/// that kind (phone: with `region`, or the normaliser's default region when empty). Without it:
/// input containing '@' is tried as an email, anything else as a phone number, and in both cases
/// then as an `external` (CRM) id; the first candidate that a customer owns wins.
/// Returns {"customer_id": "c_...", "matched": {"kind": "...", "key": "..."}}.
/// Throws invalid_argument (with the normaliser's explanation) when no candidate normalises,
/// not_found when none is owned by a live customer.
nlohmann::json lookup(store::Database& db, const identity::Normalizer& normalizer,
                      const std::string& raw, std::optional<identity::IdentifierKind> kind,
                      const std::string& region);

/// Prefix search over live customers (merged and erased ones are excluded): display_name
/// (ASCII case-insensitive), identity keys and raw values, and for phone-like input the digits
/// as an E.164 prefix or national number prefix. `q` is trimmed, must be 1..256 bytes; LIKE
/// wildcards in it match literally. `limit` is clamped to 1..100. `cursor` is "" for the first
/// page or a `next_cursor` of a previous page (anything else: invalid_argument).
/// Order: named customers by lower-cased name, then unnamed ones; ties by creation order.
/// Returns {"items": [{"id", "display_name", "identities": [{"kind", "value", "key"}]}],
///          "next_cursor": "..." | null}.
nlohmann::json search(store::Database& db, const std::string& q, int limit,
                      const std::string& cursor);

/// Which part of a customer's timeline to read.
struct TimelineFilter {
  std::vector<std::string> channels;     // empty: every channel; else each one of channels()
  std::optional<std::int64_t> since_ms;  // inclusive lower bound on occurred_at (ms, UTC)
  std::optional<std::int64_t> until_ms;  // exclusive upper bound on occurred_at
  int limit = 50;                        // page size, clamped to 1..200
  std::string cursor;                    // "" or a next_cursor from the previous page
};

/// One page of a customer's interactions, newest first (ties: newest id first). A merged id
/// reads its survivor's timeline. Returns {"customer_id": survivor, "items": [interaction JSON],
/// "next_cursor": "..." | null}. invalid_argument: unknown channel, since >= until, bad cursor.
nlohmann::json timeline(store::Database& db, const std::string& customer_id,
                        const TimelineFilter& filter);

/// Merge suggestions for the admin API, oldest first. `status` is "pending", "accepted",
/// "rejected", or "" for all; `limit` is clamped to 1..100; `cursor` as for search().
/// Returns {"items": [{"id", "status", "customer_a", "customer_b", "reason", "evidence",
/// "created_at", "decided_at", "decided_by"}], "next_cursor"}; customer ids are resolved to
/// their current survivors.
nlohmann::json list_suggestions(store::Database& db, std::string status, int limit,
                                const std::string& cursor);

/// One interaction by its public id ("i_..."), as interaction JSON. not_found when unknown.
nlohmann::json get_interaction(store::Database& db, const std::string& public_id);

/// RFC 3339 UTC with milliseconds ("2026-11-24T13:00:00.000Z"), the format of every time in the
/// read-side JSON. Pure; any thread.
std::string format_time(std::int64_t unix_ms);

/// Building blocks shared by the read side (queries.cpp, customer_view.cpp, export.cpp). Not a
/// stable interface for other modules.
namespace read_detail {

/// Opens a deferred read transaction on `db` unless one is already open; rolls it back (reads
/// only) on destruction. Declare it BEFORE any statement guard so statements reset first.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(store::Database& db);
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  ~ReadSnapshot();

 private:
  std::optional<store::Transaction> transaction_;
};

/// Resets a (cached) statement when the scope ends, so no read stays pending.
class StatementScope {
 public:
  explicit StatementScope(store::Statement& statement) : statement_(statement) {}
  StatementScope(const StatementScope&) = delete;
  StatementScope& operator=(const StatementScope&) = delete;
  ~StatementScope() { statement_.reset(); }
  store::Statement* operator->() { return &statement_; }
  store::Statement& operator*() { return statement_; }

 private:
  store::Statement& statement_;
};

/// A customer id resolved to its live survivor.
struct ResolvedCustomer {
  std::int64_t row_id = 0;  // customers.id of the survivor
  std::string public_id;    // the survivor's public id
  bool merged = false;      // the requested id was a merged customer
};

/// Follows merged_into from `public_id` (at most 64 hops). not_found when unknown or erased
/// anywhere on the chain; internal when the chain is cyclic or too long.
ResolvedCustomer resolve(store::Database& db, const std::string& public_id);

/// The public id of the live survivor of customers row `row_id`; nullopt when erased / missing.
std::optional<std::string> survivor_of_row(store::Database& db, std::int64_t row_id);

/// One customer of a survivor's family.
struct FamilyMember {
  std::int64_t row_id = 0;
  std::string public_id;
};

/// `survivor` and every non-erased customer merged into it, directly or transitively, by
/// ascending row id (creation order). Cycle-safe.
std::vector<FamilyMember> family_of(store::Database& db, std::int64_t survivor);

/// A JSON array text of the members' row ids, for `IN (SELECT value FROM json_each(?))`.
std::string row_ids_json(const std::vector<FamilyMember>& family);

/// The identities of customer row `customer_row`, ordered by tier (A first), then first_seen,
/// then id. Full form: {"id", "kind", "value", "key", "trust", "source", "first_seen",
/// "last_seen"}; short form (search results): {"kind", "value", "key"}.
nlohmann::json identities_json(store::Database& db, std::int64_t customer_row, bool short_form);

/// SELECT list + FROM clause producing the columns interaction_from_row() reads; append a
/// WHERE / ORDER BY / LIMIT. Table aliases: i (interactions), c (customers), v (conversations).
extern const std::string_view interaction_select;
/// The interaction JSON of the current row of a statement built on interaction_select.
nlohmann::json interaction_from_row(const store::Statement& row);

/// Text column -> JSON string (invalid UTF-8 replaced by U+FFFD) or null for NULL.
nlohmann::json text_or_null(const store::Statement& row, int column);
/// A column holding JSON text -> parsed JSON (null when NULL or unparsable).
nlohmann::json json_column(const store::Statement& row, int column);
/// Integer time column -> format_time() string, or null for NULL.
nlohmann::json time_or_null(const store::Statement& row, int column);
/// `text` with invalid UTF-8 sequences replaced by U+FFFD.
std::string sanitize_utf8(std::string_view text);

/// Opaque page cursors: base64url (no padding) of a small JSON array tagged with `tag`.
std::string encode_cursor(std::string_view tag, nlohmann::json values);
/// Inverse of encode_cursor(); invalid_argument ("cursor: ...") when malformed or of another tag.
/// Returns the values (without the tag).
nlohmann::json decode_cursor(std::string_view tag, const std::string& cursor);

/// The exact SQL of the screen-pop hot paths, exposed so tests can check their query plans.
struct HotQueries {
  std::string_view recent_interactions;  // ?1 customer row id, ?2 limit
  std::string_view channel_stats;        // ?1 customer row id, ?2..?4 window starts (7/30/90 d)
  std::string_view timeline_page;        // see queries.cpp
  std::string_view identities;           // ?1 customer row id
  std::string_view open_conversations;   // ?1 customer row id, ?2 limit
};
const HotQueries& hot_queries() noexcept;

}  // namespace read_detail
}  // namespace omnitrail::timeline
