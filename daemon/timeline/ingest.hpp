// Ingest: stores one normalised Interaction on the timeline, resolving (or creating) the customer
// it belongs to under reference/identity.md, in the caller's write job (one commit with the
// connector's checkpoint).
//
// Thread contract: writer thread only (inside a store write job). IngestSettings is a plain value
// whose normalizer must outlive the call; Normalizer's const methods are any-thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/identity/normalizer.hpp"
#include "daemon/identity/rules.hpp"
#include "daemon/store/store.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::timeline {

/// Site settings of identity resolution at ingest.
struct IngestSettings {
  const identity::Normalizer* normalizer = nullptr;  ///< from identity config + agents' extensions
  identity::Limits limits;                  ///< max_emails, max_phones
  int shared_threshold = 3;                 ///< a value attached to more than N customers is shared
  std::vector<std::string> shared_values;   ///< configured shared values (raw; normalised here)
  std::size_t max_text_bytes = 64 * 1024;   ///< longer texts are cut at a UTF-8 boundary
};

/// What ingest() did. Ids are public ids.
struct IngestOutcome {
  std::string interaction_id;   ///< public id (i_...)
  std::string customer_id;      ///< public id (c_...); empty only for internal-party interactions
  std::string conversation_id;  ///< public id (v_...); empty when no conversation_key
  bool duplicate = false;       ///< (source, external_id) existed: ids are the FIRST ingest's
                                ///< (customer_id is that customer's current survivor)
  bool customer_created = false;
  std::vector<std::string> merged_customer_ids;  ///< customers merged into customer_id by this ingest
  std::vector<std::int64_t> suggestion_ids;      ///< merge suggestions recorded (or widened)
  std::vector<std::string> shared_candidate_customer_ids;  ///< for the pop when a shared value matched
  bool internal = false;        ///< the contact was an internal extension / own number: no customer
  bool text_truncated = false;
};

/// Stores `in` and resolves its customer, all inside the caller's write job:
/// - validate(in) first: an invalid interaction throws StoreError invalid_argument naming the field;
/// - idempotent: when (source, external_id) exists, returns the first ingest's ids with
///   duplicate = true and changes nothing;
/// - normalises in.customer_identifiers (phones with in.region, else the default region), drops
///   blocked values; an internal party (own number, extension) with no customer identifier
///   gives an interaction without customer (internal = true);
/// - in.customer_id set (notes, agent replies): attaches to that customer (a merged id reaches
///   its survivor; not_found when unknown or erased), adds only identifiers nobody owns (within
///   the limits, never shared values), resolves nothing;
/// - otherwise looks each identifier up, detects shared values (configured, or linked to more
///   than shared_threshold customers), calls identity::resolve() and applies its Decision:
///   creates / attaches / merges (journaled, reversible) / records suggestions;
/// - upserts the conversation (source, conversation_key) and inserts the interaction with its
///   text cut to max_text_bytes.
/// Throws StoreError (invalid_argument, not_found, or what SQLite reports); the job's savepoint
/// then undoes everything. Writes no audit line. Writer thread only.
IngestOutcome ingest(store::WriteContext& w, const IngestSettings& settings, const Interaction& in,
                     std::int64_t now_ms);

/// Normalises one claimed identifier the way ingest does (phone: `region`, else the default
/// region; email; other kinds). Any thread.
identity::NormalizeResult normalize_claim(const identity::Normalizer& normalizer,
                                          const IdentifierClaim& claim, std::string_view region = {});

/// True when `identifier` is one of settings.shared_values (compared on the normalised key, so
/// any spelling of a configured number matches). Any thread.
bool is_configured_shared(const IngestSettings& settings, const identity::Identifier& identifier);

}  // namespace omnitrail::timeline
