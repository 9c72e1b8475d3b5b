#include "connectors/webchat/identity_verification.hpp"

#include "daemon/util/hmac.hpp"

namespace omnitrail::connectors::webchat {

std::string identity_payload(const IdentityClaim& claim) { return claim.user_id + "\n" + claim.email + "\n" + claim.phone; }

std::string identity_hash(std::string_view secret, const IdentityClaim& claim) {
  return util::hmac_sha256_hex(secret, identity_payload(claim));
}

std::string_view to_string(IdentityCheck check) noexcept {
  switch (check) {
    case IdentityCheck::anonymous: return "anonymous";
    case IdentityCheck::claimed: return "claimed";
    case IdentityCheck::verified: return "verified";
    case IdentityCheck::forged: return "forged";
    case IdentityCheck::not_configured: return "not_configured";
  }
  return "forged";
}

IdentityCheck verify_identity(std::string_view secret, const IdentityClaim& claim) noexcept {
  try {
    const bool has_values = !claim.user_id.empty() || !claim.email.empty() || !claim.phone.empty();
    if (claim.user_hash.empty()) {
      if (!has_values) return claim.name.empty() ? IdentityCheck::anonymous : IdentityCheck::claimed;
      // With a secret configured the site promised to sign: unsigned values are a forgery attempt
      // (or a bug on the site), not something to believe a little.
      return secret.empty() ? IdentityCheck::claimed : IdentityCheck::forged;
    }
    if (secret.empty()) return IdentityCheck::not_configured;
    if (!has_values) return IdentityCheck::forged;  // a hash over nothing proves nothing
    const auto expected = identity_hash(secret, claim);
    if (expected.empty()) return IdentityCheck::forged;
    return util::constant_time_equal(expected, claim.user_hash) ? IdentityCheck::verified : IdentityCheck::forged;
  } catch (...) {
    return IdentityCheck::forged;
  }
}

}  // namespace omnitrail::connectors::webchat
