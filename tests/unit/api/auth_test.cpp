#include <catch2/catch.hpp>

#include "daemon/api/auth.hpp"

using omnitrail::api::TokenAuthority;

namespace {

omnitrail::config::Config config_with_tokens() {
  omnitrail::config::Config c;
  omnitrail::config::AgentConfig alice;
  alice.id = "alice";
  alice.role = "agent";
  alice.token.reference = "file:/tmp/alice";
  alice.token.value = "alice-token-0123456789";
  omnitrail::config::AgentConfig bob;
  bob.id = "bob";
  bob.role = "admin";
  bob.token.value = "bob-token-0123456789";
  omnitrail::config::AgentConfig nobody;  // no token: never authenticates
  nobody.id = "nobody";
  c.agents = {alice, bob, nobody};
  omnitrail::config::Secret admin;
  admin.value = "admin-token-0123456789";
  c.admin_tokens = {admin};
  return c;
}

}  // namespace

TEST_CASE("bearer tokens map to their agent and role", "[api][auth]") {
  TokenAuthority authority(config_with_tokens());
  CHECK(authority.size() == 3);
  auto alice = authority.authenticate("Bearer alice-token-0123456789");
  REQUIRE(alice);
  CHECK(alice->id == "alice");
  CHECK_FALSE(alice->is_admin());
  auto bob = authority.authenticate("bearer bob-token-0123456789");
  REQUIRE(bob);
  CHECK(bob->id == "bob");
  CHECK(bob->is_admin());
  auto admin = authority.authenticate("Bearer   admin-token-0123456789  ");
  REQUIRE(admin);
  CHECK(admin->id == "admin");
  CHECK(admin->is_admin());
}

TEST_CASE("wrong, partial and malformed tokens are refused", "[api][auth]") {
  TokenAuthority authority(config_with_tokens());
  for (const char* header : {"", "Bearer", "Bearer ", "Basic alice-token-0123456789", "alice-token-0123456789",
                             "Bearer alice-token-012345678", "Bearer alice-token-01234567890",
                             "Bearer ALICE-TOKEN-0123456789", "Bearerx alice-token-0123456789"}) {
    INFO(header);
    CHECK_FALSE(authority.authenticate(header));
  }
  CHECK_FALSE(authority.authenticate("Bearer " + std::string(5000, 'a')));
  CHECK_FALSE(authority.authenticate(std::string("Bearer alice-token-0123456789\0x", 31)));
}

TEST_CASE("an empty configuration authenticates nobody", "[api][auth]") {
  TokenAuthority authority(omnitrail::config::Config{});
  CHECK(authority.size() == 0);
  CHECK_FALSE(authority.authenticate("Bearer anything"));
}
