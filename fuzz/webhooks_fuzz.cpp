// Fuzzes the webhook parsers on bytes: form body -> Twilio voice mapping (+ sequence guard and
// signature check), bounded JSON -> CTI event mapping, the CTI signature header on a split of the
// input, strict base64, RFC 2822 times and TwiML escaping. Crashes, sanitizer reports, uncaught
// exceptions and broken invariants (__builtin_trap) are findings.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "connectors/webhooks/events.hpp"
#include "connectors/webhooks/forms.hpp"
#include "connectors/webhooks/signatures.hpp"
#include "daemon/api/json_body.hpp"
#include "daemon/timeline/interaction.hpp"

namespace webhooks = omnitrail::connectors::webhooks;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  webhooks::MappingOptions options;
  options.received_at_ms = 1795525200000;

  // Form body -> Twilio voice.
  if (auto form = webhooks::parse_form(text, error, 64, 4096)) {
    for (const auto& [name, value] : *form) {
      if (!omnitrail::timeline::is_valid_utf8(name) || !omnitrail::timeline::is_valid_utf8(value)) __builtin_trap();
    }
    (void)webhooks::twilio_valid("token", "https://example.com/voice", *form, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    if (auto call = webhooks::twilio_voice_to_interaction(*form, "twilio", error, options)) {
      (void)omnitrail::timeline::validate(*call);
      static webhooks::SequenceGuard guard(64);
      auto sequence = webhooks::twilio_sequence_number(*form);
      const std::string* status = webhooks::form_value(*form, "CallStatus");
      (void)guard.admit(call->external_id, sequence, status != nullptr && webhooks::twilio_status_terminal(*status));
    }
  }

  // JSON body -> CTI event.
  if (auto body = omnitrail::api::parse_object(text, error)) {
    if (auto call = webhooks::cti_event_to_interaction(*body, "pbx", error, options)) {
      (void)omnitrail::timeline::validate(*call);
      if (call->external_id.empty() || call->conversation_key.empty()) __builtin_trap();
    }
  }

  // Header on the first line, body after it.
  std::size_t newline = text.find('\n');
  std::string_view header = text.substr(0, newline);
  std::string_view rest = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
  static webhooks::ReplayGuard replay(300, 32);
  auto check = replay.verify("secret", header, rest, 1700000000);
  if (check == webhooks::SignatureCheck::ok) {
    // Only a correct HMAC can get here; the fuzzer finding one would mean a broken check.
    if (webhooks::verify_cti("secret", header, rest, 1700000000, 300) != webhooks::SignatureCheck::ok) __builtin_trap();
  }
  (void)webhooks::twilio_url_variants(std::string(header));
  (void)webhooks::twilio_valid_json("token", std::string(header), rest, "x");

  // Strict base64 must round-trip exactly.
  if (auto decoded = webhooks::base64_decode(header)) {
    if (webhooks::base64_encode(*decoded) != header) __builtin_trap();
  }
  (void)webhooks::parse_rfc2822_time(header);

  // TwiML: the escaped text never carries a raw markup character from the input.
  std::string twiml = webhooks::twiml_answer(std::string(header), std::string(rest));
  if (!omnitrail::timeline::is_valid_utf8(twiml)) __builtin_trap();
  std::size_t say = twiml.find("<Say>");
  if (say != std::string::npos) {
    std::size_t end = twiml.find("</Say>", say);
    if (end == std::string::npos) __builtin_trap();
    std::string_view inner(twiml.data() + say + 5, end - say - 5);
    if (inner.find('<') != std::string_view::npos || inner.find('"') != std::string_view::npos) __builtin_trap();
  }
  return 0;
}
