// The customer view: the one document every channel's screen-pop, the REST API and webhooks
// show for a customer (identity, stats, recent history, open conversations, suggestions, links).
// Its JSON shape is a public interface, specified field by field in docs/customer-view.md.
//
// Thread contract: synchronous SQL on `db`; call from the thread that owns the connection, in
// the daemon inside a Store read job (`ReadContext::db()`), never on an io thread. Each call
// reads one consistent snapshot (a deferred read transaction, unless one is already open).
// Errors: store::StoreError -- not_found (REST 404) for an unknown or erased customer,
// internal for a cyclic merge chain, SQLite errors as the store reports them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/store/database.hpp"

namespace omnitrail::timeline {

/// How a customer view is built. The same options give the same document for every channel.
struct ViewOptions {
  /// The N most recent interactions across all channels, clamped to 0..200.
  int recent_interactions = 20;
  /// CRM deep link; placeholders {customer_id}, {phone} (E.164 key of the first phone
  /// identity), {email} (address of the first email identity), each replaced URL-encoded
  /// (RFC 3986 unreserved characters kept); a missing value becomes "". Empty: no link.
  std::string crm_url_template;
  /// stats.repeat_contact is true when the last two inbound contacts began at most this far apart.
  std::chrono::milliseconds repeat_contact_window{std::chrono::hours(72)};
  /// "Now" for the 7/30/90-day windows, ms since the epoch; 0 means the current time.
  std::int64_t now_ms = 0;
};

/// A customer id as requested, and the surviving customer it stands for.
struct ResolvedId {
  std::string requested;    // the id asked for
  std::string customer_id;  // the live survivor (== requested unless merged)
  bool merged = false;      // requested was merged into customer_id (directly or via a chain)
};

/// Follows merged_into from `public_id` to the live survivor (at most 64 hops, cycle-safe).
/// not_found when unknown or erased; internal when the merge chain is cyclic or too long.
ResolvedId resolve_customer_id(store::Database& db, const std::string& public_id);

/// The customer view of `public_id` (a merged id gives its survivor's view, with
/// "merged": true and "requested_id" at the top level, outside "customer"). Deterministic:
/// the same database state and options give the same bytes when dumped.
nlohmann::json customer_view(store::Database& db, const std::string& public_id,
                             const ViewOptions& options);

/// Expands a CRM URL template (see ViewOptions::crm_url_template). Pure; any thread.
std::string expand_crm_url(const std::string& url_template, const std::string& customer_id,
                           const std::string& phone, const std::string& email);

/// Percent-encodes everything except RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string url_encode(const std::string& value);

}  // namespace omnitrail::timeline
