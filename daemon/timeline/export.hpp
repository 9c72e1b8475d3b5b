// GDPR access export: everything Omnitrail holds about one customer, as one JSON document
// (shape: docs/customer-view.md, "Customer export").
//
// Thread contract: synchronous SQL on `db`; call from the thread that owns the connection, in
// the daemon inside a Store read job, never on an io thread. One consistent snapshot.
// The document is NOT bounded: it holds every interaction of the customer and may be large
// (tens of MB for a customer with a long history); callers stream or compress it as needed.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "daemon/store/database.hpp"

namespace omnitrail::timeline {

/// Everything about `customer_id` (a merged id exports its survivor): the customer rows of the
/// survivor and of every customer merged into it, all their identities, interactions (oldest
/// first), conversations, merge journal entries, suggestions, do-not-merge pairs, identifier
/// links (schema v2), outbox entries and the audit lines that name one of their ids. Throws store::StoreError: not_found for an
/// unknown or erased customer.
nlohmann::json export_customer(store::Database& db, const std::string& customer_id);

}  // namespace omnitrail::timeline
