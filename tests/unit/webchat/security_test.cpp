// Visitor tokens, identity verification and origins as specifications: what is accepted, and
// that every forgery is refused (connectors/webchat/README.md "Identity verification").
#include <catch2/catch.hpp>

#include "connectors/webchat/identity_verification.hpp"
#include "connectors/webchat/origin_policy.hpp"
#include "connectors/webchat/visitor_token.hpp"
#include "daemon/util/hmac.hpp"

#include <vector>

using namespace omnitrail::connectors::webchat;

namespace {
constexpr std::int64_t now_s = 1795525200;
const std::string secret = "token-secret-0123456789";
const std::string visitor = "vis_0123456789abcdef0123456789abcdef";
const std::string chat = "chat_fedcba9876543210fedcba9876543210";
}  // namespace

TEST_CASE("a signed visitor token round-trips and names its visitor and chat", "[webchat][token]") {
  const auto text = sign_token(secret, "site", VisitorToken{visitor, chat, now_s});
  VisitorToken out;
  REQUIRE(verify_token(secret, "site", text, now_s + 60, 3600, out) == TokenCheck::ok);
  CHECK(out.visitor_id == visitor);
  CHECK(out.chat_key == chat);
  CHECK(out.issued_at_s == now_s);
  const auto no_chat = sign_token(secret, "site", VisitorToken{visitor, "", now_s});
  REQUIRE(verify_token(secret, "site", no_chat, now_s, 3600, out) == TokenCheck::ok);
  CHECK(out.chat_key.empty());
}

TEST_CASE("tampered, foreign and expired tokens are refused", "[webchat][token]") {
  const auto text = sign_token(secret, "site", VisitorToken{visitor, chat, now_s});
  VisitorToken out;
  CHECK(verify_token("another-secret-0123456", "site", text, now_s, 3600, out) == TokenCheck::bad_signature);
  CHECK(verify_token(secret, "other-connector", text, now_s, 3600, out) == TokenCheck::bad_signature);
  // Another visitor's id with our signature.
  std::string swapped = text;
  swapped.replace(4, 1, swapped[4] == '0' ? "1" : "0");
  CHECK(verify_token(secret, "site", swapped, now_s, 3600, out) == TokenCheck::bad_signature);
  // A flipped signature digit.
  std::string flipped = text;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  CHECK(verify_token(secret, "site", flipped, now_s, 3600, out) == TokenCheck::bad_signature);
  CHECK(verify_token(secret, "site", text, now_s + 3601, 3600, out) == TokenCheck::expired);
  CHECK(verify_token(secret, "site", text, now_s - 301, 3600, out) == TokenCheck::expired);  // from the future
  for (const std::string& bad : std::vector<std::string>{"", "garbage", "a.b.c.d", visitor + ".-.1.", visitor + ".-.01." + std::string(64, 'a'),
                                "vis_XYZ.-.1." + std::string(64, 'a'), visitor + ".chat_1.1." + std::string(64, 'a'),
                                visitor + ".-.1." + std::string(64, 'A'), text + ".extra", std::string(300, 'a')}) {
    INFO(bad);
    CHECK(verify_token(secret, "site", bad, now_s, 3600, out) == TokenCheck::malformed);
  }
  CHECK(verify_token("", "site", text, now_s, 3600, out) == TokenCheck::malformed);
}

TEST_CASE("identity verification: the site's HMAC over user_id, email and phone", "[webchat][identity]") {
  const std::string key = "identity-secret-0123456789";
  IdentityClaim claim;
  claim.user_id = "u-42";
  claim.email = "ada@example.com";
  CHECK(identity_payload(claim) == "u-42\nada@example.com\n");
  // The value a site's server computes with any HMAC library.
  CHECK(identity_hash(key, claim) == omnitrail::util::hmac_sha256_hex(key, "u-42\nada@example.com\n"));
  claim.user_hash = identity_hash(key, claim);
  CHECK(verify_identity(key, claim) == IdentityCheck::verified);
  claim.name = "Ada";  // names are not signed: they never identify anyone
  CHECK(verify_identity(key, claim) == IdentityCheck::verified);

  // Every change of a signed value is a forgery, never a downgrade to claimed.
  auto forged = claim;
  forged.email = "victim@example.com";
  CHECK(verify_identity(key, forged) == IdentityCheck::forged);
  forged = claim;
  forged.phone = "+442079460123";  // adding an unsigned value
  CHECK(verify_identity(key, forged) == IdentityCheck::forged);
  forged = claim;
  forged.user_hash[0] = forged.user_hash[0] == 'a' ? 'b' : 'a';
  CHECK(verify_identity(key, forged) == IdentityCheck::forged);
  forged = claim;
  forged.user_hash.clear();  // unsigned values while the site promised to sign
  CHECK(verify_identity(key, forged) == IdentityCheck::forged);
  IdentityClaim hash_only;
  hash_only.user_hash = std::string(64, 'a');
  CHECK(verify_identity(key, hash_only) == IdentityCheck::forged);
  CHECK(verify_identity("", claim) == IdentityCheck::not_configured);

  IdentityClaim none;
  CHECK(verify_identity(key, none) == IdentityCheck::anonymous);
  CHECK(verify_identity("", none) == IdentityCheck::anonymous);
  IdentityClaim unsigned_claim;
  unsigned_claim.email = "ada@example.com";
  CHECK(verify_identity("", unsigned_claim) == IdentityCheck::claimed);  // no secret: like the form
  IdentityClaim name_only;
  name_only.name = "Ada";
  CHECK(verify_identity(key, name_only) == IdentityCheck::claimed);
}

TEST_CASE("origins: canonical forms, exact matches, subdomain wildcards", "[webchat][origin]") {
  CHECK(canonical_origin("https://Shop.Example.com") == "https://shop.example.com");
  CHECK(canonical_origin("https://shop.example.com:443/") == "https://shop.example.com");
  CHECK(canonical_origin("http://localhost:8080") == "http://localhost:8080");
  CHECK(canonical_origin("http://127.0.0.1:80") == "http://127.0.0.1");
  CHECK(canonical_origin("http://[::1]:3000") == "http://[::1]:3000");
  CHECK_FALSE(canonical_origin("https://shop.example.com/path"));
  CHECK_FALSE(canonical_origin("ftp://shop.example.com"));
  CHECK_FALSE(canonical_origin("https://"));
  CHECK_FALSE(canonical_origin("https://shop..example.com"));
  CHECK_FALSE(canonical_origin("https://shop.example.com:99999"));
  CHECK_FALSE(canonical_origin("https://shop.example.com:"));
  CHECK_FALSE(canonical_origin("https://*.example.com"));
  CHECK(canonical_origin("https://*.example.com", true) == "https://*.example.com");
  CHECK_FALSE(canonical_origin("null"));

  OriginPolicy policy({"https://shop.example.com", "http://localhost:8080", "https://*.example.org"});
  CHECK(policy.allows("https://shop.example.com"));
  CHECK(policy.allows("https://SHOP.example.com:443"));
  CHECK(policy.allows("http://localhost:8080"));
  CHECK(policy.allows("https://a.example.org"));
  CHECK(policy.allows("https://a.b.example.org"));
  CHECK_FALSE(policy.allows("https://example.org"));        // the wildcard is subdomains only
  CHECK_FALSE(policy.allows("https://evilexample.org"));
  CHECK_FALSE(policy.allows("http://a.example.org"));       // scheme matters
  CHECK_FALSE(policy.allows("https://a.example.org:8443"));  // and the port
  CHECK_FALSE(policy.allows("http://shop.example.com"));
  CHECK_FALSE(policy.allows("https://shop.example.com.evil.com"));
  CHECK_FALSE(policy.allows("http://localhost:8081"));
  CHECK_FALSE(policy.allows(""));
  CHECK_FALSE(policy.allows("null"));
  OriginPolicy any({"*"});
  CHECK(any.allows("https://anything.example"));
  CHECK_FALSE(any.allows("null"));
  CHECK_FALSE(any.allows(""));
}
