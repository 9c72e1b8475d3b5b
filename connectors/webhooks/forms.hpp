// application/x-www-form-urlencoded bodies (Twilio webhooks), parsed strictly: a body that is not
// exactly what a conforming sender produces is refused rather than guessed at.
// Pure; any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omnitrail::connectors::webhooks {

/// Splits `body` ("a=1&b=2") into decoded (name, value) pairs in body order; repeated names are
/// kept as separate pairs. Decoding is http::percent_decode's with '+' as space; in addition:
/// - a '%' not followed by two hex digits is an error (percent_decode would keep it verbatim);
/// - a name or value that does not decode to valid UTF-8 is an error;
/// - a pair with an empty name ("=x") is an error; "a" (no '=') gives ("a", "");
///   empty pairs ("a=1&&b=2", a trailing '&') are skipped, as browsers and Twilio do;
/// - more than `max_fields` pairs, or a decoded name or value longer than `max_value_bytes`, is
///   an error.
/// On error returns nullopt and sets `error` to a message naming the field (by position and,
/// when decodable, name) without echoing values.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view body, std::string& error,
                                                                          std::size_t max_fields = 256,
                                                                          std::size_t max_value_bytes = 64 * 1024);

/// The value of the first pair named `name`, or nullptr.
const std::string* form_value(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view name);

}  // namespace omnitrail::connectors::webhooks
