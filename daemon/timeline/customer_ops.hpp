// Agent / admin operations on customers: merge, unmerge, identifiers, attributes, suggestions and
// GDPR erasure. Each runs inside one store write job, writes one non-personal `audit` line and
// throws store::StoreError on refusal: not_found (unknown or erased id; REST 404),
// invalid_argument (bad input; 400), constraint (refused by a rule; 409). A throw leaves nothing
// behind (the job's savepoint rolls back). Ids in and out are PUBLIC ids (c_...), except merge,
// suggestion and identity row ids, which are integers.
//
// Thread contract: writer thread only (inside a store write job).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/store/store.hpp"
#include "daemon/timeline/ingest.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::timeline {

/// Folds `merged_id` into `survivor_id` (the agent's choice of survivor), journaled like an
/// automatic merge with rule "agent" and empty evidence (so unmerging it blocks every later
/// automatic merge of the pair). Ids of already merged customers stand for their survivors.
/// Returns the merge id. Throws not_found (unknown / erased id), invalid_argument (the same
/// customer twice, also after following merges), constraint (two different tier-A values of
/// one kind, e.g. two CRM ids; or a customer marked erased).
std::int64_t merge_customers(store::WriteContext& w, const std::string& survivor_id,
                             const std::string& merged_id, const Actor& actor, std::int64_t now_ms);

/// Reverts merge `merge_id` exactly: the identities, interactions, conversations and pending
/// suggestions that moved go back to the merged customer (which keeps its public id),
/// overwritten fields are restored when unchanged since, merged_into is cleared, the entry is
/// marked reverted and a do-not-merge pair with the merge's evidence stops that evidence from
/// merging them again. Throws not_found (unknown id), constraint (already reverted, or a later
/// merge folded the survivor into another customer: revert that one first).
void unmerge(store::WriteContext& w, std::int64_t merge_id, const Actor& actor, std::int64_t now_ms);

/// Result of add_identifier().
struct AddedIdentifier {
  std::int64_t identity_id = 0;  ///< identities row id (0 when `conflict` is set)
  std::string kind;              ///< "phone", "email", ...
  std::string key;               ///< the normalised key
  bool created = false;          ///< false: the customer already held it (trust may have risen)
  /// Set when the identifier belongs to ANOTHER customer: a constraint Status
  /// ("already belongs to customer c_...") for the REST layer to answer 409 with, and a merge
  /// suggestion between the two was recorded (`suggestion_id`). Reported instead of thrown
  /// because a throw would roll the suggestion back with the job.
  std::optional<store::Status> conflict;
  std::optional<std::int64_t> suggestion_id;
};

/// Adds an identifier (admin API, CRM import, agent) to customer `customer_id` (a merged id
/// reaches its survivor), with the claim's trust and source "api". Throws not_found (unknown
/// customer), invalid_argument (the value is blocked / invalid / internal: the normaliser's
/// reason), constraint (configured shared value; or the per-kind limit, tier A included, is
/// reached). An identifier of another customer gives `conflict` (see AddedIdentifier).
AddedIdentifier add_identifier(store::WriteContext& w, const IngestSettings& settings,
                               const std::string& customer_id, const IdentifierClaim& claim,
                               const Actor& actor, std::int64_t now_ms);

/// Removes identities row `identity_row_id` from customer `customer_id` (e.g. a recycled
/// number); history (interactions, journal) is untouched and a later contact from the value
/// starts afresh. `now_ms` stamps the audit line. Throws not_found when the customer is unknown
/// or does not hold that row.
void remove_identifier(store::WriteContext& w, const std::string& customer_id, std::int64_t identity_row_id,
                       const Actor& actor, std::int64_t now_ms = store::unix_millis_now());

/// Applies `patch` to the customer's attributes with JSON merge-patch semantics (RFC 7386: a
/// null member removes the key) and, when given, sets display_name (empty: clears it; the
/// source is "agent" for agents, "crm" for admin / system callers). Result limits: at most 100
/// keys, 4 KiB per serialised value, 64 KiB in total. Returns
/// {"customer_id", "display_name", "attributes"}. Throws not_found, invalid_argument (patch not
/// an object, a limit exceeded, display_name over 256 bytes or not UTF-8).
nlohmann::json set_attributes(store::WriteContext& w, const std::string& customer_id,
                              const nlohmann::json& patch, std::optional<std::string> display_name,
                              const Actor& actor, std::int64_t now_ms);

/// Answers pending suggestion `suggestion_id`. accept: merges the two customers (the oldest
/// survives) and returns the merge id; for an identifier suggestion (no second customer) adds
/// the identifier(s) to the customer instead and returns nullopt; when both sides have become
/// one customer since, just marks it accepted (nullopt). reject: marks it rejected and records
/// a do-not-merge pair with its evidence (nullopt). Throws not_found (unknown id), constraint
/// (already decided; accept refused by a tier-A conflict; identifier now owned by another).
std::optional<std::int64_t> decide_suggestion(store::WriteContext& w, std::int64_t suggestion_id, bool accept,
                                              const Actor& actor, std::int64_t now_ms);

/// Counts of what erase_customer() deleted.
struct ErasureReport {
  std::string customer_id;  ///< the survivor's public id (the one erased)
  std::int64_t customers = 0;      ///< the customer and every customer merged into it
  std::int64_t identities = 0;
  std::int64_t interactions = 0;
  std::int64_t conversations = 0;
  std::int64_t suggestions = 0;
  std::int64_t merges = 0;         ///< journal entries deleted (their customers are gone)
  std::int64_t scrubbed = 0;       ///< other rows whose evidence named an erased identifier
};

/// GDPR erasure of customer `customer_id` (a merged id erases its survivor's whole group): deletes
/// the customers, their identities, identity links, interactions, conversations, suggestions,
/// do-not-merge pairs, outbox rows and merge journal entries; removes the erased identifiers
/// from the evidence of any other journal / suggestion / do-not-merge row; writes only the
/// audit line "customer.erased" with the public id and counts. Deleted content is zeroed in
/// place (secure_delete for this job); the caller should still run VACUUM and a TRUNCATE
/// checkpoint afterwards, outside the transaction, so no free page or WAL frame keeps it.
/// A later contact from the same values creates a new customer. Throws not_found.
ErasureReport erase_customer(store::WriteContext& w, const std::string& customer_id, const Actor& actor,
                             std::int64_t now_ms);

}  // namespace omnitrail::timeline
