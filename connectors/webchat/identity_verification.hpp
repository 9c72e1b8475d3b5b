// Identity verification of a signed-in user of the embedding site (the Intercom / Chatwoot
// "identity verification" scheme): the site's server computes
//   user_hash = hex(HMAC-SHA256(identity_secret, user_id + "\n" + email + "\n" + phone))
// (absent fields as empty strings) and hands it to the widget with the values. A hash that
// matches makes those values `verified` identifiers; one that does not is refused outright
// (never downgraded to claimed, which could merge a forger into someone else's record).
// Pure; any thread.
#pragma once

#include <string>
#include <string_view>

#include "connectors/webchat/visitor_protocol.hpp"

namespace omnitrail::connectors::webchat {

/// The exact bytes the site signs for `claim`.
std::string identity_payload(const IdentityClaim& claim);

/// The user_hash the site should send (lower-case hex). For tests and documentation.
std::string identity_hash(std::string_view secret, const IdentityClaim& claim);

enum class IdentityCheck {
  anonymous,       ///< no identity at all: an anonymous visitor
  claimed,         ///< values without a hash and no secret configured: treated like form input
  verified,        ///< the hash matches: user_id / email / phone are verified
  forged,          ///< a hash that does not match, or values without a hash while a secret is set
  not_configured,  ///< a hash was sent but the connector has no identity_secret to check it
};

/// "anonymous", "claimed", "verified", "forged", "not_configured" (logs, metrics labels).
std::string_view to_string(IdentityCheck check) noexcept;

/// Checks `claim` against `secret` (empty: not configured) in constant time. A claim holding only
/// a `name` is not an identity (names identify nobody): anonymous, or claimed when a name is set.
IdentityCheck verify_identity(std::string_view secret, const IdentityClaim& claim) noexcept;

}  // namespace omnitrail::connectors::webchat
