// The SQL side of identity resolution, shared by ingest and the customer operations: finding
// customers by public id (through merges to the survivor), loading what identity::resolve()
// needs to know, and applying merges, unmerges, suggestions and do-not-merge pairs.
//
// Thread contract: writer thread only (every function takes the write connection, inside a
// store write job); find_customer(), survivor_of() and public_id_of() also work on a reader's
// connection. Functions throw store::StoreError and leave rollback to the job's savepoint.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "daemon/identity/rules.hpp"
#include "daemon/store/database.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::timeline {

/// A customer reached by its public id.
struct CustomerRef {
  std::int64_t row_id = 0;     ///< the survivor's row id
  std::string public_id;       ///< the survivor's public id
  std::string requested_id;    ///< the public id that was asked for
  bool redirected = false;     ///< requested_id was merged; row_id / public_id are its survivor
};

/// Finds a customer by public id, following merged_into to the survivor (integrators' ids never
/// die). Throws StoreError not_found ("customer c_... not found") when the id is unknown or
/// erased.
CustomerRef find_customer(store::Database& db, std::string_view public_id);

/// The survivor of customer row `row_id` (itself when it was never merged). Throws not_found
/// when the row does not exist, internal when merged_into loops.
std::int64_t survivor_of(store::Database& db, std::int64_t row_id);

/// Public id of customer row `row_id`. Throws not_found when the row does not exist.
std::string public_id_of(store::Database& db, std::int64_t row_id);

/// `customer` and every customer merged into it, directly or through a chain.
std::vector<std::int64_t> merge_group(store::Database& db, std::int64_t customer);

/// Evidence as stored in merges / suggestions / do_not_merge: a JSON array of
/// {"kind": "...", "key": "..."}, sorted, without duplicates.
std::string evidence_to_json(std::vector<identity::IdentityKey> evidence);
/// Inverse of evidence_to_json(); entries of an unknown kind are skipped. Throws
/// invalid_argument on text that is not such an array.
std::vector<identity::IdentityKey> evidence_from_json(std::string_view json);

/// What identity::resolve() needs about customer `row_id` (a survivor): its creation time, its
/// tier-A identifiers and its email / phone counts.
identity::CustomerFacts load_facts(store::Database& db, std::int64_t row_id);

/// Do-not-merge pairs that involve any of `customers` (survivors) or a customer merged into one
/// of them, with both sides mapped to their survivors; pairs that collapse into one customer
/// are left out.
std::vector<identity::DoNotMerge> load_do_not_merge(store::Database& db,
                                                    const std::vector<std::int64_t>& customers);

/// One merge to apply.
struct MergeRequest {
  std::int64_t survivor = 0;  ///< survivor row (must not be merged itself)
  std::int64_t merged = 0;    ///< row folded into survivor (must not be merged itself)
  std::string rule;           ///< identity::MergeRule name, or "agent" / "suggestion_accepted"
  std::string actor;          ///< who: connector name, agent id, "admin"; never a token
  std::vector<identity::IdentityKey> evidence;  ///< identifiers the merge rests on
};

/// Folds `merged` into `survivor` and journals it: moves the merged customer's identities,
/// interactions, conversations and pending suggestions (a pending suggestion between the two is
/// marked accepted), applies survivorship to display_name / attributes / created_at, sets
/// merged_into, and writes a `merges` row whose `moved` lists exactly the rows that moved and
/// whose `restore` holds the overwritten fields. Deletes nothing. Returns the merge id.
/// Throws invalid_argument when survivor == merged, constraint when either is already merged.
std::int64_t apply_merge(store::Database& db, const MergeRequest& request, std::int64_t now_ms);

/// The two customers of a reverted merge.
struct RevertedMerge {
  std::int64_t survivor = 0;
  std::int64_t merged = 0;
};

/// Reverts merge `merge_id`: moves back exactly the journaled rows that are still on the
/// survivor, restores the overwritten fields when nobody changed them since, clears
/// merged_into, marks the entry reverted and records a do-not-merge pair with the merge's
/// evidence. Throws not_found (unknown id), constraint (already reverted, or a later merge
/// folded the survivor into another customer: that one must be reverted first).
RevertedMerge revert_merge(store::Database& db, std::int64_t merge_id, std::int64_t now_ms);

/// Records a pending suggestion (b == nullopt: "add `evidence` to a"). An existing pending
/// suggestion for the same pair (or the same customer and evidence) absorbs the evidence and
/// its id is returned instead of a new one.
std::int64_t record_suggestion(store::Database& db, std::int64_t a, std::optional<std::int64_t> b,
                               std::string_view reason,
                               const std::vector<identity::IdentityKey>& evidence,
                               std::int64_t now_ms);

/// Records (or widens with `evidence`) the do-not-merge pair of customers a and b.
/// Empty evidence means "never on any evidence".
void record_do_not_merge(store::Database& db, std::int64_t a, std::int64_t b,
                         const std::vector<identity::IdentityKey>& evidence, std::int64_t now_ms);

/// Appends an audit line. `detail` must be non-personal (public ids, counts, kinds).
void write_audit(store::Database& db, std::int64_t now_ms, const Actor& actor,
                 std::string_view action, const nlohmann::json& detail);

}  // namespace omnitrail::timeline
