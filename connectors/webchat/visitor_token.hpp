// The signed visitor token: what a returning visitor's widget presents (from localStorage) to
// resume its conversation. It names the visitor and its current chat and is signed with the
// connector's token secret, so a visitor cannot make up another visitor's id or chat.
// Format: <visitor_id>.<chat_key or "-">.<issued unix seconds>.<64 hex HMAC-SHA256>, the HMAC
// over "omnitrail-webchat-token|<connector>|<first three parts>". Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace omnitrail::connectors::webchat {

struct VisitorToken {
  std::string visitor_id;  ///< "vis_" + 16..32 lower-case hex
  std::string chat_key;    ///< "chat_" + 16..32 lower-case hex, or empty (no chat yet)
  std::int64_t issued_at_s = 0;
};

/// True for ids of our own making: `prefix` followed by 16..32 lower-case hex digits.
bool valid_generated_id(std::string_view id, std::string_view prefix) noexcept;

/// Builds the token text. `secret` must be non-empty; `token` must hold valid ids.
std::string sign_token(std::string_view secret, std::string_view connector, const VisitorToken& token);

/// Why a token was not accepted.
enum class TokenCheck { ok, malformed, bad_signature, expired };

/// Checks `text`: well-formed, signed by `secret` for `connector` (constant-time comparison),
/// issued no later than now + 5 minutes (clock skew) and no earlier than now - ttl_s.
TokenCheck verify_token(std::string_view secret, std::string_view connector, std::string_view text,
                        std::int64_t now_s, std::int64_t ttl_s, VisitorToken& out) noexcept;

}  // namespace omnitrail::connectors::webchat
