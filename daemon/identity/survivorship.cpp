// Survivorship of single-valued fields (see survivorship.hpp).
#include "daemon/identity/survivorship.hpp"

#include <algorithm>
#include <tuple>

namespace omnitrail::identity {

namespace {

bool is_blank(const std::string& value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
  });
}

}  // namespace

std::optional<FieldValue> surviving_value(std::span<const FieldValue> values) {
  const FieldValue* best = nullptr;
  for (const auto& candidate : values) {
    if (is_blank(candidate.value)) continue;
    // Strictly better only, so the earliest of equals stays.
    if (best == nullptr || std::make_tuple(candidate.source, candidate.updated_at_ms) >
                               std::make_tuple(best->source, best->updated_at_ms)) {
      best = &candidate;
    }
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

Consent merged_consent(Consent a, Consent b) noexcept { return std::max(a, b); }

std::optional<std::int64_t> merged_created_at(std::span<const std::int64_t> created_at_ms) noexcept {
  if (created_at_ms.empty()) return std::nullopt;
  return *std::min_element(created_at_ms.begin(), created_at_ms.end());
}

}  // namespace omnitrail::identity
