// Fuzzes the REST body parsers: bytes -> bounded JSON object -> Interaction -> validate(), and
// the RFC 3339 time parser. Any crash, sanitizer report or uncaught exception is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/api/json_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)omnitrail::api::parse_time_text(text);
  std::string error;
  auto body = omnitrail::api::parse_object(text, error);
  if (!body) return 0;
  auto interaction = omnitrail::api::interaction_from_json(*body, error);
  if (interaction) {
    interaction->source = "api";
    (void)omnitrail::timeline::validate(*interaction);
    std::string copy = interaction->text;
    (void)omnitrail::timeline::truncate_utf8(copy, size / 2);
    if (!omnitrail::timeline::is_valid_utf8(interaction->text)) return 0;
    if (!omnitrail::timeline::is_valid_utf8(copy)) __builtin_trap();  // truncation must keep UTF-8 valid
  }
  return 0;
}
