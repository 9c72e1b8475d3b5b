// Pure parsers and helpers behind the config loader: durations, sizes, quoting, did-you-mean,
// `${ENV}` references and the keyed digest that stands for a secret. No I/O; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.hpp"

namespace omnitrail::config {

/// Parses "500ms", "30s", "5m", "1h", "1d" (one integer and one unit, optional space between).
/// Returns nullopt and sets `error` to a user-facing message that quotes `text` otherwise
/// (garbage, missing unit, negative, overflow).
std::optional<Duration> parse_duration(std::string_view text, std::string& error);

/// Parses a byte size: "512", "512B", "64KiB", "1MiB", "1GiB", "1TiB" (binary) or "64KB", "1MB",
/// "1GB", "1TB" (decimal); units are case-insensitive. Nullopt + `error` on garbage or overflow.
std::optional<std::uint64_t> parse_size(std::string_view text, std::string& error);

/// The shortest exact spelling of `d` in the duration grammar ("90s", "5m", "0s").
std::string format_duration(Duration d);

/// `text` in double quotes with control characters and quotes escaped, cut to 64 characters.
std::string quote(std::string_view text);

/// Optimal-string-alignment (Damerau-Levenshtein) distance, case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` when it is close enough to be a plausible typo.
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates);

/// " (did you mean \"x\"?)" when a close candidate exists, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

/// "a, b, c": the items joined with ", ".
std::string join(const std::vector<std::string>& items, std::string_view separator = ", ");

/// True when `text` is exactly `${NAME}` with NAME = [A-Za-z_][A-Za-z0-9_]*; sets `name`.
bool parse_env_reference(std::string_view text, std::string& name);

/// A hex HMAC-SHA256 of `secret` under a random key drawn once per process. Stable within one
/// process (so reload can compare fingerprints) but useless for offline guessing if leaked.
std::string secret_digest(std::string_view secret);

}  // namespace omnitrail::config
