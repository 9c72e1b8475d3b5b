// Fuzzes what the webchat connector reads from visitors: a frame (any bytes) through the visitor
// protocol parser, the same bytes as a visitor token and as an Origin header, and a parsed hello's
// identity through the HMAC check. Crashes, sanitizer reports, uncaught exceptions and broken
// invariants (__builtin_trap) are findings.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "connectors/webchat/chat_transcript.hpp"
#include "connectors/webchat/identity_verification.hpp"
#include "connectors/webchat/origin_policy.hpp"
#include "connectors/webchat/visitor_protocol.hpp"
#include "connectors/webchat/visitor_token.hpp"
#include "daemon/timeline/interaction.hpp"

namespace webchat = omnitrail::connectors::webchat;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  webchat::ProtocolLimits limits;
  limits.max_text_bytes = 200;
  std::string error;
  if (auto m = webchat::parse_visitor_message(text, limits, error)) {
    using Type = webchat::VisitorMessage::Type;
    for (const auto* field : {&m->text, &m->token, &m->page, &m->form.name, &m->form.email, &m->form.phone,
                              &m->identity.user_id, &m->identity.email, &m->identity.user_hash}) {
      if (!omnitrail::timeline::is_valid_utf8(*field)) __builtin_trap();
    }
    if (m->type == Type::message) {
      if (m->text.empty() || m->text.size() > limits.max_text_bytes || !webchat::valid_message_id(m->id)) __builtin_trap();
      webchat::ChatTranscript transcript(4);
      transcript.add({m->id, "visitor", {}, {}, m->text, 1});
      if (transcript.add({m->id, "visitor", {}, {}, m->text, 2})) __builtin_trap();  // never twice
      (void)webchat::dump(webchat::visitor_json(transcript.lines().front()));
    }
    if (m->type == Type::received) {
      for (const auto& id : m->ids) {
        if (!webchat::valid_message_id(id)) __builtin_trap();
      }
    }
    if (m->type == Type::hello) {
      auto check = webchat::verify_identity("fuzz-identity-secret", m->identity);
      if (check == webchat::IdentityCheck::verified && m->identity.user_hash.size() != 64) __builtin_trap();
      (void)webchat::verify_identity("", m->identity);
    }
  } else if (error.empty()) {
    __builtin_trap();  // a refusal always says why
  }

  webchat::VisitorToken token;
  if (webchat::verify_token("fuzz-token-secret-0123", "site", text, 1795525200, 86400, token) ==
      webchat::TokenCheck::ok) {
    __builtin_trap();  // forging a signature by chance is not a thing
  }
  static const webchat::OriginPolicy policy({"https://shop.example.com", "https://*.example.org", "http://localhost:8080"});
  if (auto canonical = webchat::canonical_origin(text)) {
    if (policy.allows(text) != policy.allows(*canonical)) __builtin_trap();  // canonical form is the same origin
  }
  return 0;
}
