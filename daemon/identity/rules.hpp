// The merge decision: given an inbound contact's normalised identifiers and what the store knows
// about them, decide which customer the contact belongs to, what to attach, what to merge and
// what to only suggest. Pure: the store fills ResolveInput from its lookups and applies the
// Decision in the same transaction. Rules: reference/identity.md, "Matching an inbound interaction".
// Thread contract: plain values and pure functions; any thread.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/identity/normalizer.hpp"

namespace omnitrail::identity {

/// Database id of a customer; real ids are positive.
using CustomerId = std::int64_t;

/// Stands, inside a Decision, for the customer that the decision itself creates.
inline constexpr CustomerId new_customer = 0;

/// The unique identity of an identifier row: kind + normalised key.
struct IdentityKey {
  IdentifierKind kind = IdentifierKind::external;
  std::string key;

  friend auto operator<=>(const IdentityKey&, const IdentityKey&) = default;
  friend bool operator==(const IdentityKey&, const IdentityKey&) = default;
};

/// The IdentityKey of `identifier`.
IdentityKey key_of(const Identifier& identifier);

/// An identifier with the trust it arrived with.
struct TrustedIdentifier {
  Identifier identifier;
  Trust trust = Trust::claimed;
};

/// Per-customer limits on identifiers of one kind (identity.yaml: max_emails, max_phones).
struct Limits {
  int tier_a_per_kind = 1;  ///< external ids and chat users, each
  int max_emails = 5;
  int max_phones = 10;
};

/// One identifier carried by the inbound contact, with the store's lookup result for its key.
/// Only identifiers accepted by the Normalizer belong here; rejected values are not passed.
struct ContactIdentifier {
  Identifier identifier;
  Trust trust = Trust::claimed;
  /// The customer holding this kind+key, already redirected to its survivor when that customer
  /// was merged; nullopt when the key is unknown.
  std::optional<CustomerId> owner;
  /// True when the value is on the configured shared list or attached to more than
  /// `shared_threshold` customers. A shared value links to nothing and never merges.
  bool shared = false;
  /// For a shared value: the customers carrying it (the pop lists them). Ignored otherwise.
  std::vector<CustomerId> sharing_customers;
  /// Optional: customers (other than `owner`) holding a different key with the same
  /// suggestion_key (NSN of a phone, plus-stripped email). They only ever get a suggestion.
  std::vector<CustomerId> similar_owners;
};

/// What the rules need to know about an existing customer.
struct CustomerFacts {
  CustomerId id = 0;
  std::int64_t created_at_ms = 0;  ///< survivor of a merge is the oldest customer
  std::vector<IdentityKey> tier_a;  ///< its external / chat_user identifiers
  int email_count = 0;
  int phone_count = 0;
};

/// A reverted merge (or an agent's "not the same person"): these two customers are never
/// merged, nor suggested, again on the same evidence.
struct DoNotMerge {
  CustomerId a = 0;
  CustomerId b = 0;
  /// Identifiers that were the evidence. A later merge or suggestion whose evidence is a subset
  /// of these is suppressed; new evidence is considered afresh. Empty: suppressed always.
  std::vector<IdentityKey> evidence;
};

/// Everything resolve() looks at.
struct ResolveInput {
  /// The contact's identifiers, in the order the connector gave them (earlier wins ties).
  /// Duplicates (same kind+key) are folded, keeping the strongest trust.
  std::vector<ContactIdentifier> identifiers;
  /// Facts for every customer named in owner, sharing_customers and similar_owners. A customer
  /// without facts is never merged automatically (its tier-A values are unknown).
  std::vector<CustomerFacts> customers;
  /// Do-not-merge pairs involving any of those customers (order of a/b irrelevant).
  std::vector<DoNotMerge> do_not_merge;
  Limits limits;
  /// Survivor chosen by an agent; used when it is one of the merged customers.
  std::optional<CustomerId> preferred_survivor;
};

/// The main action of a Decision.
enum class DecisionKind {
  create_new,               ///< create a customer holding `attach` (maybe none: anonymous)
  attach,                   ///< add `attach` to the existing `customer`
  merge,                    ///< apply `merges` (into `customer`), then add `attach` to it
  attach_with_suggestions,  ///< like attach, and record `suggestions` for an agent
};

/// Which rule allowed an automatic merge.
enum class MergeRule {
  tier_a_link,     ///< both customers reached through verified tier-A identifiers
  verified_email,  ///< at least one side reached only through a verified email
};

/// Why two customers (or a customer and an identifier) are only suggested, not merged.
enum class SuggestionReason {
  tier_a_conflict,    ///< different tier-A values of one kind on the two sides
  phone_match,        ///< linked through a phone only (households, recycled numbers)
  unverified_email,   ///< linked through a claimed email
  unverified_tier_a,  ///< linked through a claimed external id / chat user
  limit_exceeded,     ///< merging / attaching would exceed a per-kind limit
  similar_value,      ///< same suggestion_key, different key (NSN, +tag variant)
  unknown_customer,   ///< no CustomerFacts given for the other customer
};

/// Stable snake_case names, for the journal, API and logs.
std::string_view to_string(DecisionKind kind) noexcept;
std::string_view to_string(MergeRule rule) noexcept;
std::string_view to_string(SuggestionReason reason) noexcept;

/// One automatic merge: `merged` is folded into `survivor` (journaled, reversible).
struct Merge {
  CustomerId survivor = 0;
  CustomerId merged = 0;
  MergeRule rule = MergeRule::tier_a_link;
  std::vector<IdentityKey> evidence;  ///< the contact's identifiers owned by either side, sorted
};

/// A merge or an attachment for an agent to accept or reject.
struct Suggestion {
  CustomerId a = 0;             ///< the customer the contact went to (may be new_customer)
  std::optional<CustomerId> b;  ///< the other customer; nullopt: "add `evidence` to a"
  SuggestionReason reason = SuggestionReason::phone_match;
  std::vector<IdentityKey> evidence;  ///< sorted
};

/// A shared value the contact carried, and the customers it could be (for the pop).
struct SharedCandidates {
  IdentityKey identifier;
  std::vector<CustomerId> customers;  ///< sorted, distinct
};

/// What to do with the contact. `suggestions` and `shared` may accompany any kind.
struct Decision {
  DecisionKind kind = DecisionKind::create_new;
  /// The customer the contact belongs to: new_customer for create_new, the survivor for merge.
  CustomerId customer = new_customer;
  /// Identifiers to insert for `customer`, each with the contact's trust for it. Identifiers
  /// already held by `customer` or by a merged customer are not listed: the store refreshes
  /// their last_seen and raises their trust to verified when the contact verified them.
  std::vector<TrustedIdentifier> attach;
  std::vector<Merge> merges;  ///< in order; all into `customer`
  std::vector<Suggestion> suggestions;
  std::vector<SharedCandidates> shared;
};

/// True for the rejections that mark a party as the company itself (RejectReason::own_value,
/// RejectReason::internal_extension). A contact whose originating party is such a value is
/// internal traffic (extension 6001 calling the queue): do not call resolve(), create no
/// customer. Other rejections (blocked, short codes, sender names) still give a contact,
/// resolved without that identifier (an anonymous customer when nothing else is left).
bool is_internal_party(RejectReason reason) noexcept;

/// Decides what to do with one inbound contact. Deterministic; never throws except
/// std::bad_alloc. Any thread.
///
/// - Nothing known (or nothing at all, or only shared values): create_new; a contact whose
///   values were all blocked gets a customer with no identifier, so two anonymous callers
///   are never joined.
/// - Customers reached through strong links (verified tier-A, or verified email) are merged
///   when no tier-A conflict, do-not-merge pair or limit stands in the way; the survivor is
///   preferred_survivor or the oldest. Each one that cannot be merged becomes a suggestion.
/// - Customers reached only through weak links (phone, claimed email, claimed tier-A) are
///   suggestions. Without strong links the contact goes to the owner of its highest-tier
///   identifier, except that a new strong identifier (a verified chat login, say) is never
///   attached to a customer reached only weakly: the contact then starts a new customer.
/// - Visitor ids (tier D) choose a customer only when nothing else does and never merge.
/// - An unowned identifier that would exceed a limit on the target is not attached and
///   becomes a suggestion with b = nullopt.
Decision resolve(const ResolveInput& input);

}  // namespace omnitrail::identity
