// Parsing untrusted JSON request bodies: bounded nesting depth (checked before parsing, so a
// deeply nested body cannot exhaust the stack), objects only, clear error messages.
// Pure; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/timeline/interaction.hpp"

namespace omnitrail::api {

/// Parses `body` as a JSON object. On failure returns nullopt and sets `error` (no input echoed
/// beyond a short position hint). Nesting deeper than `max_depth` is refused.
std::optional<nlohmann::json> parse_object(std::string_view body, std::string& error, int max_depth = 32);

/// Parses an RFC 3339 UTC/offset timestamp ("2026-11-24T13:00:00Z", "...+01:00", fractional
/// seconds allowed) or an integer of milliseconds since the epoch into ms. nullopt when invalid.
std::optional<std::int64_t> parse_time(const nlohmann::json& value);
std::optional<std::int64_t> parse_time_text(std::string_view text);

/// Builds an Interaction from the body of POST /api/v1/interactions (see docs/api.md).
/// Returns nullopt and sets `error` ("field: problem") when a field is missing or mistyped.
/// The result still goes through timeline::validate() in ingest.
std::optional<timeline::Interaction> interaction_from_json(const nlohmann::json& body, std::string& error);

}  // namespace omnitrail::api
