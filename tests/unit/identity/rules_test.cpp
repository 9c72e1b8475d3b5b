// Merge decision specification (reference/identity.md, "Matching an inbound interaction").
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "daemon/identity/normalizer.hpp"
#include "daemon/identity/rules.hpp"

using namespace omnitrail::identity;

namespace {

Identifier id(IdentifierKind kind, std::string key) {
  Identifier out;
  out.kind = kind;
  out.raw = key;
  out.key = std::move(key);
  return out;
}

ContactIdentifier contact(IdentifierKind kind, std::string key, Trust trust,
                          std::optional<CustomerId> owner = std::nullopt) {
  ContactIdentifier c;
  c.identifier = id(kind, std::move(key));
  c.trust = trust;
  c.owner = owner;
  return c;
}

ContactIdentifier contact(const NormalizeResult& normalized, Trust trust,
                          std::optional<CustomerId> owner = std::nullopt) {
  REQUIRE(normalized.ok());
  ContactIdentifier c;
  c.identifier = normalized.identifier();
  c.trust = trust;
  c.owner = owner;
  return c;
}

CustomerFacts customer(CustomerId customer_id, std::int64_t created, std::vector<IdentityKey> tier_a = {},
                       int emails = 0, int phones = 0) {
  return {customer_id, created, std::move(tier_a), emails, phones};
}

IdentityKey ik(IdentifierKind kind, std::string key) { return {kind, std::move(key)}; }

constexpr auto external = IdentifierKind::external;
constexpr auto chat_user = IdentifierKind::chat_user;
constexpr auto email = IdentifierKind::email;
constexpr auto phone = IdentifierKind::phone;
constexpr auto visitor = IdentifierKind::visitor;
constexpr auto verified = Trust::verified;
constexpr auto claimed = Trust::claimed;

bool attaches(const Decision& d, IdentifierKind kind, const std::string& key) {
  return std::any_of(d.attach.begin(), d.attach.end(), [&](const TrustedIdentifier& t) {
    return t.identifier.kind == kind && t.identifier.key == key;
  });
}

const Normalizer& gb() {
  static const Normalizer normalizer{NormalizeOptions{.default_region = "GB"}};
  return normalizer;
}

}  // namespace

TEST_CASE("nothing known: a new customer holding every identifier", "[identity][rules]") {
  ResolveInput in;
  in.identifiers = {contact(phone, "+442079460123", claimed),
                    contact(email, "alice@example.com", claimed)};
  const auto d = resolve(in);
  CHECK(d.kind == DecisionKind::create_new);
  CHECK(d.customer == new_customer);
  REQUIRE(d.attach.size() == 2);
  // Strongest tier first.
  CHECK(d.attach[0].identifier.kind == email);
  CHECK(d.attach[1].identifier.kind == phone);
  CHECK(d.merges.empty());
  CHECK(d.suggestions.empty());
}

TEST_CASE("scenario: a call then an SMS from the same number is one customer",
          "[identity][rules][scenario]") {
  // First contact: the call creates the customer.
  ResolveInput call;
  call.identifiers = {contact(gb().phone("02079460123"), claimed)};
  const auto first = resolve(call);
  CHECK(first.kind == DecisionKind::create_new);
  REQUIRE(first.attach.size() == 1);

  // The store now holds that key for customer 7; the SMS key is looked up and found.
  ResolveInput sms;
  sms.identifiers = {contact(gb().phone("+44 20 7946 0123"), claimed)};
  REQUIRE(sms.identifiers[0].identifier.key == first.attach[0].identifier.key);
  sms.identifiers[0].owner = 7;
  sms.customers = {customer(7, 100, {}, 0, 1)};
  const auto second = resolve(sms);
  CHECK(second.kind == DecisionKind::attach);
  CHECK(second.customer == 7);
  CHECK(second.attach.empty());
}

TEST_CASE("scenario: an email then a verified chat with the same address is one customer",
          "[identity][rules][scenario]") {
  ResolveInput chat;
  chat.identifiers = {contact(gb().email("alice@example.com"), verified, 3),
                      contact(chat_user, "chat-alice", verified)};
  REQUIRE(chat.identifiers[0].identifier.key == gb().email("Alice <ALICE@Example.COM>").identifier().key);
  chat.customers = {customer(3, 100, {}, 1, 0)};
  const auto d = resolve(chat);
  CHECK(d.kind == DecisionKind::attach);
  CHECK(d.customer == 3);
  REQUIRE(d.attach.size() == 1);
  CHECK(d.attach[0].identifier.key == "chat-alice");
  CHECK(d.attach[0].trust == verified);
}

TEST_CASE("scenario: two anonymous calls are two customers without identities",
          "[identity][rules][scenario]") {
  const auto normalized = gb().phone("anonymous");
  REQUIRE_FALSE(normalized.ok());
  CHECK_FALSE(is_internal_party(normalized.reason()));
  ResolveInput anonymous;  // nothing accepted, so nothing to look up
  const auto first = resolve(anonymous);
  const auto second = resolve(anonymous);
  for (const auto& d : {first, second}) {
    CHECK(d.kind == DecisionKind::create_new);
    CHECK(d.customer == new_customer);
    CHECK(d.attach.empty());
    CHECK(d.suggestions.empty());
  }
}

TEST_CASE("scenario: internal extension calling the queue creates no customer",
          "[identity][rules][scenario]") {
  const Normalizer pbx{NormalizeOptions{.default_region = "GB", .internal_extensions = {"6001"}}};
  const auto from = pbx.phone("6001");
  REQUIRE_FALSE(from.ok());
  CHECK(is_internal_party(from.reason()));
  CHECK(is_internal_party(RejectReason::own_value));
  CHECK_FALSE(is_internal_party(RejectReason::short_code));
  CHECK_FALSE(is_internal_party(RejectReason::alphanumeric_sender));
  CHECK_FALSE(is_internal_party(RejectReason::blocked));
}

TEST_CASE("scenario: a pre-chat form claiming another customer's phone is a suggestion",
          "[identity][rules][scenario]") {
  SECTION("the chat belongs to a known customer") {
    ResolveInput in;
    in.identifiers = {contact(chat_user, "u-17", verified, 1),
                      contact(phone, "+442079460123", claimed, 2)};
    in.customers = {customer(1, 200, {ik(chat_user, "u-17")}), customer(2, 100, {}, 0, 1)};
    const auto d = resolve(in);
    CHECK(d.kind == DecisionKind::attach_with_suggestions);
    CHECK(d.customer == 1);  // the tier-A owner, although customer 2 is older
    CHECK(d.merges.empty());
    CHECK(d.attach.empty());
    REQUIRE(d.suggestions.size() == 1);
    CHECK(d.suggestions[0].a == 1);
    CHECK(d.suggestions[0].b == 2);
    CHECK(d.suggestions[0].reason == SuggestionReason::phone_match);
    CHECK(d.suggestions[0].evidence == std::vector{ik(phone, "+442079460123")});
  }
  SECTION("a first chat login does not join the phone's owner") {
    ResolveInput in;
    in.identifiers = {contact(chat_user, "u-18", verified),
                      contact(phone, "+442079460123", claimed, 2)};
    in.customers = {customer(2, 100, {}, 0, 1)};
    const auto d = resolve(in);
    CHECK(d.kind == DecisionKind::create_new);
    CHECK(d.customer == new_customer);
    CHECK(attaches(d, chat_user, "u-18"));
    CHECK_FALSE(attaches(d, phone, "+442079460123"));  // it stays with customer 2
    REQUIRE(d.suggestions.size() == 1);
    CHECK(d.suggestions[0].a == new_customer);
    CHECK(d.suggestions[0].b == 2);
    CHECK(d.suggestions[0].reason == SuggestionReason::phone_match);
  }
}

TEST_CASE("scenario: gmail variants join, other dotted variants stay apart",
          "[identity][rules][scenario]") {
  ResolveInput same;
  same.identifiers = {contact(gb().email("jsmith@googlemail.com"), claimed, 4)};
  REQUIRE(same.identifiers[0].identifier.key == gb().email("j.smith+promo@gmail.com").identifier().key);
  same.customers = {customer(4, 1, {}, 1)};
  CHECK(resolve(same).customer == 4);

  // jsmith@acme.com's key is not found (customer 5 holds j.smith@acme.com): a new customer.
  ResolveInput other;
  other.identifiers = {contact(gb().email("jsmith@acme.com"), claimed)};
  REQUIRE(other.identifiers[0].identifier.key != gb().email("j.smith@acme.com").identifier().key);
  const auto d = resolve(other);
  CHECK(d.kind == DecisionKind::create_new);
  CHECK(d.suggestions.empty());
}

TEST_CASE("verified email and tier-A link merge, survivor the oldest", "[identity][rules][merge]") {
  ResolveInput in;
  in.identifiers = {contact(chat_user, "u-1", verified, 10),
                    contact(email, "alice@example.com", verified, 20)};
  in.customers = {customer(10, 500, {ik(chat_user, "u-1")}, 0, 1),
                  customer(20, 100, {}, 1, 0)};
  const auto d = resolve(in);
  CHECK(d.kind == DecisionKind::merge);
  CHECK(d.customer == 20);
  REQUIRE(d.merges.size() == 1);
  CHECK(d.merges[0].survivor == 20);
  CHECK(d.merges[0].merged == 10);
  CHECK(d.merges[0].rule == MergeRule::verified_email);
  CHECK(d.merges[0].evidence ==
        std::vector{ik(chat_user, "u-1"), ik(email, "alice@example.com")});
  CHECK(d.suggestions.empty());

  SECTION("an agent's survivor choice wins") {
    in.preferred_survivor = 10;
    const auto chosen = resolve(in);
    CHECK(chosen.customer == 10);
    REQUIRE(chosen.merges.size() == 1);
    CHECK(chosen.merges[0].merged == 20);
  }
  SECTION("a preferred survivor outside the merge is ignored") {
    in.preferred_survivor = 99;
    CHECK(resolve(in).customer == 20);
  }
}

TEST_CASE("two tier-A links merge under tier_a_link", "[identity][rules][merge]") {
  ResolveInput in;
  in.identifiers = {contact(external, "CRM-1", verified, 1),
                    contact(chat_user, "u-1", verified, 2)};
  in.customers = {customer(1, 100, {ik(external, "CRM-1")}), customer(2, 200, {ik(chat_user, "u-1")})};
  const auto d = resolve(in);
  REQUIRE(d.merges.size() == 1);
  CHECK(d.merges[0].rule == MergeRule::tier_a_link);
  CHECK(d.merges[0].survivor == 1);
  CHECK(d.merges[0].merged == 2);
}

TEST_CASE("claimed email never merges", "[identity][rules][merge]") {
  ResolveInput in;
  in.identifiers = {contact(chat_user, "u-1", verified, 1),
                    contact(email, "alice@example.com", claimed, 2)};
  in.customers = {customer(1, 100, {ik(chat_user, "u-1")}), customer(2, 50, {}, 1)};
  const auto d = resolve(in);
  CHECK(d.kind == DecisionKind::attach_with_suggestions);
  CHECK(d.customer == 1);
  CHECK(d.merges.empty());
  REQUIRE(d.suggestions.size() == 1);
  CHECK(d.suggestions[0].reason == SuggestionReason::unverified_email);
}

TEST_CASE("claimed tier-A ids do not merge either", "[identity][rules][merge]") {
  ResolveInput in;
  in.identifiers = {contact(external, "CRM-9", claimed, 1),
                    contact(email, "bob@example.com", verified, 2)};
  in.customers = {customer(1, 10, {ik(external, "CRM-9")}), customer(2, 20, {}, 1)};
  const auto d = resolve(in);
  CHECK(d.customer == 2);  // the strong link decides
  CHECK(d.merges.empty());
  REQUIRE(d.suggestions.size() == 1);
  CHECK(d.suggestions[0].b == 1);
  CHECK(d.suggestions[0].reason == SuggestionReason::unverified_tier_a);
}

TEST_CASE("different tier-A values of one kind block a merge", "[identity][rules][merge]") {
  ResolveInput in;
  in.identifiers = {contact(chat_user, "u-1", verified, 1),
                    contact(email, "alice@example.com", verified, 2)};
  in.customers = {customer(1, 100, {ik(chat_user, "u-1"), ik(external, "CRM-1")}),
                  customer(2, 50, {ik(external, "CRM-2")}, 1)};
  const auto d = resolve(in);
  CHECK(d.merges.empty());
  CHECK(d.customer == 1);  // owner of the highest-tier identifier
  CHECK(d.kind == DecisionKind::attach_with_suggestions);
  REQUIRE(d.suggestions.size() == 1);
  CHECK(d.suggestions[0].a == 1);
  CHECK(d.suggestions[0].b == 2);
  CHECK(d.suggestions[0].reason == SuggestionReason::tier_a_conflict);
  CHECK(d.suggestions[0].evidence == std::vector{ik(email, "alice@example.com")});

  SECTION("tier-A values of different kinds do not conflict") {
    in.customers[0].tier_a = {ik(chat_user, "u-1")};
    in.customers[1].tier_a = {ik(external, "CRM-2")};
    CHECK(resolve(in).merges.size() == 1);
    in.customers[1].tier_a = {ik(chat_user, "u-2")};
    CHECK(resolve(in).merges.empty());
  }
}

TEST_CASE("phone-only overlap is only a suggestion", "[identity][rules]") {
  ResolveInput in;
  in.identifiers = {contact(phone, "+441111111111", claimed, 1),
                    contact(phone, "+442222222222", claimed, 2)};
  in.customers = {customer(1, 300, {}, 0, 1), customer(2, 100, {}, 0, 1)};
  const auto d = resolve(in);
  CHECK(d.merges.empty());
  CHECK(d.customer == 2);  // same tier: the oldest
  REQUIRE(d.suggestions.size() == 1);
  CHECK(d.suggestions[0].b == 1);
  CHECK(d.suggestions[0].reason == SuggestionReason::phone_match);

  SECTION("even a verified phone") {
    in.identifiers[0].trust = verified;
    in.identifiers[1].trust = verified;
    CHECK(resolve(in).merges.empty());
  }
}

TEST_CASE("without strong links the highest tier chooses, before age", "[identity][rules]") {
  ResolveInput in;
  in.identifiers = {contact(phone, "+441111111111", claimed, 2),
                    contact(email, "carol@example.com", claimed, 1)};
  in.customers = {customer(1, 900, {}, 1), customer(2, 100, {}, 0, 1)};
  const auto d = resolve(in);
  CHECK(d.customer == 1);
  REQUIRE(d.suggestions.size() == 1);
  CHECK(d.suggestions[0].b == 2);
}

TEST_CASE("shared values link to nothing and list their customers", "[identity][rules][shared]") {
  ResolveInput in;
  auto line = contact(phone, "+442079460000", claimed, 5);
  line.shared = true;
  line.sharing_customers = {7, 6, 5, 6};
  in.identifiers = {line};
  in.customers = {customer(5, 1, {}, 0, 1), customer(6, 2, {}, 0, 1), customer(7, 3, {}, 0, 1)};
  const auto d = resolve(in);
  CHECK(d.kind == DecisionKind::create_new);
  CHECK(d.attach.empty());
  CHECK(d.suggestions.empty());
  REQUIRE(d.shared.size() == 1);
  CHECK(d.shared[0].identifier == ik(phone, "+442079460000"));
  CHECK(d.shared[0].customers == std::vector<CustomerId>{5, 6, 7});

  SECTION("with a real link the contact goes there and the shared value stays unattached") {
    in.identifiers.push_back(contact(email, "dan@example.com", verified, 6));
    const auto linked = resolve(in);
    CHECK(linked.kind == DecisionKind::attach);
    CHECK(linked.customer == 6);
    CHECK(linked.attach.empty());
    CHECK(linked.shared.size() == 1);
  }
  SECTION("a shared value never merges, even verified") {
    in.identifiers[0].trust = verified;
    in.identifiers[0].identifier = id(email, "family@example.com");
    in.identifiers.push_back(contact(chat_user, "u-5", verified, 7));
    in.customers[2].tier_a = {ik(chat_user, "u-5")};
    const auto linked = resolve(in);
    CHECK(linked.merges.empty());
    CHECK(linked.customer == 7);
    CHECK(linked.suggestions.empty());
  }
}

TEST_CASE("do-not-merge pairs stop the same evidence", "[identity][rules][unmerge]") {
  ResolveInput in;
  in.identifiers = {contact(chat_user, "u-1", verified, 1),
                    contact(email, "alice@example.com", verified, 2)};
  in.customers = {customer(1, 100, {ik(chat_user, "u-1")}), customer(2, 200, {}, 1)};
  REQUIRE(resolve(in).merges.size() == 1);  // without the pair they merge

  SECTION("same evidence: no merge, no suggestion") {
    in.do_not_merge = {{2, 1, {ik(email, "alice@example.com"), ik(chat_user, "u-1")}}};
    const auto d = resolve(in);
    CHECK(d.merges.empty());
    CHECK(d.suggestions.empty());
    CHECK(d.customer == 1);
    CHECK(d.kind == DecisionKind::attach);
  }
  SECTION("a pair without evidence blocks any evidence") {
    in.do_not_merge = {{1, 2, {}}};
    CHECK(resolve(in).merges.empty());
  }
  SECTION("new evidence is judged afresh") {
    in.do_not_merge = {{1, 2, {ik(email, "alice@example.com"), ik(chat_user, "u-1")}}};
    in.identifiers.push_back(contact(external, "CRM-2", verified, 2));
    in.customers[1].tier_a = {ik(external, "CRM-2")};
    const auto d = resolve(in);
    REQUIRE(d.merges.size() == 1);
    CHECK(d.merges[0].survivor == 1);
    CHECK(d.merges[0].merged == 2);
  }
  SECTION("a pair with other customers changes nothing") {
    in.do_not_merge = {{1, 3, {}}};
    CHECK(resolve(in).merges.size() == 1);
  }
  SECTION("suggestions on recorded evidence are suppressed too") {
    ResolveInput weak;
    weak.identifiers = {contact(email, "x@example.com", claimed, 1),
                        contact(phone, "+441111111111", claimed, 2)};
    weak.customers = {customer(1, 1, {}, 1), customer(2, 2, {}, 0, 1)};
    REQUIRE(resolve(weak).suggestions.size() == 1);
    weak.do_not_merge = {{1, 2, {ik(phone, "+441111111111")}}};
    CHECK(resolve(weak).suggestions.empty());
  }
}

TEST_CASE("limits: an identifier over the limit is a suggestion", "[identity][rules][limits]") {
  ResolveInput in;
  in.identifiers = {contact(phone, "+441111111111", claimed, 1),
                    contact(email, "new@example.com", claimed)};
  in.customers = {customer(1, 1, {}, 5, 1)};  // already at max_emails (5)
  auto d = resolve(in);
  CHECK(d.customer == 1);
  CHECK(d.attach.empty());
  CHECK(d.kind == DecisionKind::attach_with_suggestions);
  REQUIRE(d.suggestions.size() == 1);
  CHECK(d.suggestions[0].a == 1);
  CHECK_FALSE(d.suggestions[0].b);
  CHECK(d.suggestions[0].reason == SuggestionReason::limit_exceeded);
  CHECK(d.suggestions[0].evidence == std::vector{ik(email, "new@example.com")});

  in.customers[0].email_count = 4;  // one slot left
  d = resolve(in);
  CHECK(d.kind == DecisionKind::attach);
  CHECK(attaches(d, email, "new@example.com"));

  SECTION("phones, with a configured limit") {
    in.limits.max_phones = 2;
    in.identifiers = {contact(email, "x@example.com", claimed, 1),
                      contact(phone, "+441111111112", claimed),
                      contact(phone, "+441111111113", claimed)};
    in.customers = {customer(1, 1, {}, 1, 1)};
    d = resolve(in);
    CHECK(attaches(d, phone, "+441111111112"));  // input order breaks the tie
    CHECK_FALSE(attaches(d, phone, "+441111111113"));
    REQUIRE(d.suggestions.size() == 1);
    CHECK(d.suggestions[0].reason == SuggestionReason::limit_exceeded);
  }
  SECTION("a second tier-A value of one kind is never attached") {
    in.identifiers = {contact(email, "x@example.com", verified, 1),
                      contact(external, "CRM-NEW", verified)};
    in.customers = {customer(1, 1, {ik(external, "CRM-OLD")}, 1)};
    d = resolve(in);
    CHECK(d.attach.empty());
    REQUIRE(d.suggestions.size() == 1);
    CHECK(d.suggestions[0].reason == SuggestionReason::tier_a_conflict);
    CHECK_FALSE(d.suggestions[0].b);
  }
  SECTION("a new customer gets one tier-A value per kind, verified first") {
    in.identifiers = {contact(external, "CRM-A", claimed), contact(external, "CRM-B", verified),
                      contact(chat_user, "u-1", verified)};
    in.customers = {};
    d = resolve(in);
    CHECK(d.kind == DecisionKind::create_new);
    CHECK(attaches(d, external, "CRM-B"));
    CHECK(attaches(d, chat_user, "u-1"));
    CHECK_FALSE(attaches(d, external, "CRM-A"));
    REQUIRE(d.suggestions.size() == 1);
    CHECK(d.suggestions[0].a == new_customer);
  }
  SECTION("a merge that would exceed a limit becomes a suggestion") {
    in.identifiers = {contact(email, "a@example.com", verified, 1),
                      contact(email, "b@example.com", verified, 2)};
    in.customers = {customer(1, 1, {}, 3), customer(2, 2, {}, 3)};
    d = resolve(in);
    CHECK(d.merges.empty());
    REQUIRE(d.suggestions.size() == 1);
    CHECK(d.suggestions[0].reason == SuggestionReason::limit_exceeded);
    CHECK(d.suggestions[0].b == 2);
    in.customers[1].email_count = 2;  // 3 + 2 = 5 fits
    CHECK(resolve(in).merges.size() == 1);
  }
}

TEST_CASE("three customers: merge what may merge, suggest the rest", "[identity][rules][merge]") {
  ResolveInput in;
  in.identifiers = {contact(chat_user, "u-1", verified, 1),
                    contact(email, "e@example.com", verified, 2),
                    contact(external, "CRM-3", verified, 3),
                    contact(phone, "+441111111111", claimed, 4)};
  in.customers = {customer(1, 400, {ik(chat_user, "u-1")}),
                  customer(2, 300, {}, 1),
                  customer(3, 200, {ik(external, "CRM-3")}),
                  customer(4, 100, {}, 0, 1)};
  auto d = resolve(in);
  CHECK(d.kind == DecisionKind::merge);
  CHECK(d.customer == 3);  // oldest of the merged group {1, 2, 3}; 4 is weak
  REQUIRE(d.merges.size() == 2);
  for (const auto& m : d.merges) CHECK(m.survivor == 3);
  CHECK(std::count_if(d.merges.begin(), d.merges.end(), [](const Merge& m) { return m.merged == 1; }) == 1);
  CHECK(std::count_if(d.merges.begin(), d.merges.end(), [](const Merge& m) { return m.merged == 2; }) == 1);
  REQUIRE(d.suggestions.size() == 1);
  CHECK(d.suggestions[0].a == 3);
  CHECK(d.suggestions[0].b == 4);

  SECTION("a conflicting third one stays out") {
    in.customers[2].tier_a = {ik(external, "CRM-3"), ik(chat_user, "u-3")};
    d = resolve(in);
    // Primary is 3 (tier-A link, older than 1); 1's chat user u-1 conflicts with u-3.
    REQUIRE(d.merges.size() == 1);
    CHECK(d.customer == 3);
    CHECK(d.merges[0].merged == 2);
    CHECK(std::any_of(d.suggestions.begin(), d.suggestions.end(), [](const Suggestion& s) {
      return s.a == 3 && s.b == 1 && s.reason == SuggestionReason::tier_a_conflict;
    }));
  }
  SECTION("the result does not depend on the order of the identifiers") {
    auto reversed = in;
    std::reverse(reversed.identifiers.begin(), reversed.identifiers.end());
    std::reverse(reversed.customers.begin(), reversed.customers.end());
    const auto r = resolve(reversed);
    CHECK(r.customer == d.customer);
    CHECK(r.merges.size() == d.merges.size());
    CHECK(r.suggestions.size() == d.suggestions.size());
  }
}

TEST_CASE("customers without facts are never merged", "[identity][rules][merge]") {
  ResolveInput in;
  in.identifiers = {contact(chat_user, "u-1", verified, 1),
                    contact(email, "alice@example.com", verified, 2)};
  in.customers = {customer(1, 100, {ik(chat_user, "u-1")})};
  const auto d = resolve(in);
  CHECK(d.merges.empty());
  CHECK(d.customer == 1);
  REQUIRE(d.suggestions.size() == 1);
  CHECK(d.suggestions[0].reason == SuggestionReason::unknown_customer);
}

TEST_CASE("visitor ids choose only when nothing else does", "[identity][rules]") {
  ResolveInput in;
  in.identifiers = {contact(visitor, "v-1", claimed, 9)};
  in.customers = {customer(9, 1)};
  auto d = resolve(in);
  CHECK(d.kind == DecisionKind::attach);
  CHECK(d.customer == 9);

  in.identifiers.push_back(contact(phone, "+441111111111", claimed, 4));
  in.customers.push_back(customer(4, 2, {}, 0, 1));
  d = resolve(in);
  CHECK(d.customer == 4);
  CHECK(d.merges.empty());
  CHECK(d.suggestions.empty());

  ResolveInput fresh;
  fresh.identifiers = {contact(visitor, "v-2", claimed)};
  d = resolve(fresh);
  CHECK(d.kind == DecisionKind::create_new);
  CHECK(attaches(d, visitor, "v-2"));
}

TEST_CASE("duplicates fold to the strongest trust", "[identity][rules]") {
  ResolveInput in;
  in.identifiers = {contact(email, "alice@example.com", claimed, 2),
                    contact(chat_user, "u-1", verified, 1),
                    contact(email, "alice@example.com", verified, 2)};
  in.customers = {customer(1, 100, {ik(chat_user, "u-1")}), customer(2, 50, {}, 1)};
  const auto d = resolve(in);
  REQUIRE(d.merges.size() == 1);  // the verified copy counts

  ResolveInput fresh;
  fresh.identifiers = {contact(email, "new@example.com", claimed),
                       contact(email, "new@example.com", verified)};
  const auto created = resolve(fresh);
  REQUIRE(created.attach.size() == 1);
  CHECK(created.attach[0].trust == verified);
}

TEST_CASE("similar values produce suggestions only", "[identity][rules]") {
  ResolveInput in;
  auto tagged = contact(gb().email("bob+shop@acme.com"), claimed);
  tagged.similar_owners = {8};
  in.identifiers = {tagged};
  in.customers = {customer(8, 1, {}, 1)};
  const auto d = resolve(in);
  CHECK(d.kind == DecisionKind::create_new);
  CHECK(attaches(d, email, "bob+shop@acme.com"));
  REQUIRE(d.suggestions.size() == 1);
  CHECK(d.suggestions[0].a == new_customer);
  CHECK(d.suggestions[0].b == 8);
  CHECK(d.suggestions[0].reason == SuggestionReason::similar_value);
}

TEST_CASE("decision names", "[identity][rules]") {
  CHECK(to_string(DecisionKind::attach_with_suggestions) == "attach_with_suggestions");
  CHECK(to_string(MergeRule::verified_email) == "verified_email");
  CHECK(to_string(SuggestionReason::phone_match) == "phone_match");
}
