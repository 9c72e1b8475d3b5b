// Which value survives when two customer records are merged (single-valued fields: name,
// company, consent, created date). Multi-valued identifiers are simply the union.
// Thread contract: pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace omnitrail::identity {

/// Where a field value came from, weakest first. CRM covers CRM sync and bulk imports.
enum class FieldSource { channel = 0, agent = 1, crm = 2 };

/// One candidate value of a single-valued field.
struct FieldValue {
  std::string value;
  FieldSource source = FieldSource::channel;
  std::int64_t updated_at_ms = 0;  ///< when this value was last set

  friend bool operator==(const FieldValue&, const FieldValue&) = default;
};

/// The value that survives a merge: the highest source priority (CRM/import > agent >
/// channel-derived), then the most recent update, then the earliest in `values`.
/// Blank values (empty or only ASCII whitespace) never win, so they never overwrite a value.
/// nullopt when every value is blank or `values` is empty. Any thread.
std::optional<FieldValue> surviving_value(std::span<const FieldValue> values);

/// Marketing / contact consent. `unknown` is a blank: it never overwrites a decision.
enum class Consent { unknown, granted, do_not_contact };

/// The consent of a merged customer: the most restrictive decision taken
/// (do_not_contact > granted > unknown).
Consent merged_consent(Consent a, Consent b) noexcept;

/// The created date of a merged customer: the earliest. nullopt when `created_at_ms` is empty.
std::optional<std::int64_t> merged_created_at(std::span<const std::int64_t> created_at_ms) noexcept;

}  // namespace omnitrail::identity
