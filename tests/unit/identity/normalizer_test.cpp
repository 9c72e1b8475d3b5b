// Normaliser specification: the identity.md scenarios that are decidable on one value, the
// phone and email rules, and hostile input.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "daemon/identity/normalizer.hpp"

using namespace omnitrail::identity;
using namespace std::string_literals;

namespace {

Normalizer make_gb() {
  NormalizeOptions options;
  options.default_region = "GB";
  options.blocked_values = {"+44 20 7946 0999", "switchboard@example.org", "Bogus"};
  options.own_numbers = {"+44 20 7946 0000", "020 7946 0001"};
  options.own_addresses = {"Help@Acme.com", "@omnitrail.test"};
  options.internal_extensions = {"6001", "6002"};
  return Normalizer(options);
}

const Normalizer& gb() {
  static const Normalizer normalizer = make_gb();
  return normalizer;
}

std::string key(const NormalizeResult& r) { return r.ok() ? r.identifier().key : "<rejected>"; }

}  // namespace

TEST_CASE("kind, tier and trust names", "[identity][normalizer]") {
  CHECK(tier_of(IdentifierKind::external) == Tier::A);
  CHECK(tier_of(IdentifierKind::chat_user) == Tier::A);
  CHECK(tier_of(IdentifierKind::email) == Tier::B);
  CHECK(tier_of(IdentifierKind::phone) == Tier::C);
  CHECK(tier_of(IdentifierKind::visitor) == Tier::D);
  CHECK(Tier::A < Tier::B);
  CHECK(Tier::C < Tier::D);
  for (auto [kind, name] : {std::pair{IdentifierKind::external, "external"},
                            std::pair{IdentifierKind::chat_user, "chat_user"},
                            std::pair{IdentifierKind::email, "email"},
                            std::pair{IdentifierKind::phone, "phone"},
                            std::pair{IdentifierKind::visitor, "visitor"}}) {
    CHECK(to_string(kind) == name);
    CHECK(parse_identifier_kind(name) == kind);
  }
  CHECK_FALSE(parse_identifier_kind("Email"));
  CHECK_FALSE(parse_identifier_kind(""));
  CHECK_FALSE(parse_identifier_kind("phone "));
  CHECK(parse_trust("verified") == Trust::verified);
  CHECK(parse_trust("claimed") == Trust::claimed);
  CHECK_FALSE(parse_trust("trusted"));
  CHECK(to_string(Trust::verified) == "verified");
  CHECK(to_string(RejectReason::internal_extension) == "internal_extension");
}

TEST_CASE("scenario: a national and an international spelling are one phone key",
          "[identity][normalizer][scenario]") {
  const auto call = gb().phone("02079460123");
  const auto sms = gb().phone("+44 20 7946 0123");
  REQUIRE(call.ok());
  REQUIRE(sms.ok());
  CHECK(call.identifier().key == "+442079460123");
  CHECK(sms.identifier().key == call.identifier().key);
  CHECK(call.identifier().kind == IdentifierKind::phone);
  // Raw input is kept as received; the suggestion key is the national significant number.
  CHECK(call.identifier().raw == "02079460123");
  CHECK(sms.identifier().raw == "+44 20 7946 0123");
  CHECK(call.identifier().suggestion_key == "2079460123");
}

TEST_CASE("phone: region rules", "[identity][normalizer][phone]") {
  SECTION("without '+' the override region wins over the default region") {
    CHECK(key(gb().phone("(201) 555-0123", "US")) == "+12015550123");
    CHECK(key(gb().phone("(201) 555-0123", "us")) == "+12015550123");
  }
  SECTION("with '+' the region is ignored") {
    CHECK(key(gb().phone("+1 201 555 0123", "GB")) == "+12015550123");
    CHECK(key(gb().phone("+44 20 7946 0123", "US")) == "+442079460123");
  }
  SECTION("no default region: numbers without country code are invalid, '+' numbers fine") {
    const Normalizer bare{NormalizeOptions{}};
    const auto r = bare.phone("02079460123");
    REQUIRE_FALSE(r.ok());
    CHECK(r.reason() == RejectReason::invalid);
    CHECK(key(bare.phone("+44 20 7946 0123")) == "+442079460123");
  }
  SECTION("00 international prefix is the region's, interpreted by libphonenumber") {
    CHECK(key(gb().phone("0044 20 7946 0123")) == "+442079460123");
    CHECK(key(gb().phone("011 44 20 7946 0123", "US")) == "+442079460123");
  }
  SECTION("a number that is not valid for its region is rejected") {
    const auto r = gb().phone("+44 20 7946 012");  // one digit short
    REQUIRE_FALSE(r.ok());
    CHECK(r.reason() == RejectReason::invalid);
    CHECK_FALSE(gb().phone("+4420794601234567890").ok());
  }
}

TEST_CASE("phone: extensions are part of the key", "[identity][normalizer][phone]") {
  const auto with_ext = gb().phone("+44 20 7946 0123 ext. 12");
  REQUIRE(with_ext.ok());
  CHECK(with_ext.identifier().key == "+442079460123;ext=12");
  CHECK(with_ext.identifier().suggestion_key == "2079460123");
  CHECK(key(gb().phone("tel:+44-20-7946-0123;ext=12")) == "+442079460123;ext=12");
  CHECK(key(gb().phone("+44 20 7946 0123 x13")) == "+442079460123;ext=13");
  CHECK(key(gb().phone("+44 20 7946 0123")) == "+442079460123");
}

TEST_CASE("scenario: short codes and alphanumeric senders are not identifiers",
          "[identity][normalizer][scenario]") {
  const auto short_code = gb().phone("72345");
  REQUIRE_FALSE(short_code.ok());
  CHECK(short_code.reason() == RejectReason::short_code);
  const auto sender = gb().phone("BANK");
  REQUIRE_FALSE(sender.ok());
  CHECK(sender.reason() == RejectReason::alphanumeric_sender);
  CHECK(gb().phone("Amazon").reason() == RejectReason::alphanumeric_sender);
  CHECK(gb().phone("HSBC UK").reason() == RejectReason::alphanumeric_sender);
  // Known short numbers of the region.
  CHECK(gb().phone("112").reason() == RejectReason::short_code);
  CHECK(gb().phone("911", "US").reason() == RejectReason::short_code);
  CHECK_FALSE(gb().phone("12 chars name").ok());  // longer than 11: not a sender id either
  CHECK(gb().phone("12 chars name").reason() == RejectReason::invalid);
}

TEST_CASE("scenario: blocked caller ids", "[identity][normalizer][scenario]") {
  for (std::string_view value : {"anonymous", "Anonymous", "ANONYMOUS", "unknown", "restricted",
                                 "private", "unavailable", "withheld", "null", "NULL", "-1",
                                 " anonymous ", "0000000", "0", "00", "1111111", "999 999",
                                 "000-000-0000"}) {
    INFO(value);
    const auto r = gb().phone(value);
    REQUIRE_FALSE(r.ok());
    CHECK(r.reason() == RejectReason::blocked);
  }
  const auto empty = gb().phone("   ");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.reason() == RejectReason::empty);
  CHECK(gb().phone("").reason() == RejectReason::empty);
}

TEST_CASE("phone: configured blocked values match every spelling", "[identity][normalizer][phone]") {
  CHECK(gb().phone("+44 20 7946 0999").reason() == RejectReason::blocked);
  CHECK(gb().phone("020 7946 0999").reason() == RejectReason::blocked);
  CHECK(gb().phone("bogus").reason() == RejectReason::blocked);
  CHECK(gb().phone("+44 20 7946 0998").ok());
}

TEST_CASE("scenario: internal extensions and own numbers are not customers",
          "[identity][normalizer][scenario]") {
  const auto extension = gb().phone("6001");
  REQUIRE_FALSE(extension.ok());
  CHECK(extension.reason() == RejectReason::internal_extension);
  // Not configured, but 2..4 bare digits: taken as an extension (documented choice).
  CHECK(gb().phone("4711").reason() == RejectReason::internal_extension);
  CHECK(gb().phone("42").reason() == RejectReason::internal_extension);
  // 5..6 bare digits: a short code.
  CHECK(gb().phone("654321").reason() == RejectReason::short_code);

  CHECK(gb().phone("+44 20 7946 0000").reason() == RejectReason::own_value);
  CHECK(gb().phone("020 7946 0000").reason() == RejectReason::own_value);
  CHECK(gb().phone("+44 20 7946 0001").reason() == RejectReason::own_value);
  CHECK(gb().phone("+44 20 7946 0000 ext 12").reason() == RejectReason::own_value);
  CHECK(gb().ignored_options().empty());
}

TEST_CASE("phone: compare_phones wraps IsNumberMatch", "[identity][normalizer][phone][scenario]") {
  const Normalizer us{NormalizeOptions{.default_region = "US"}};
  const Normalizer no_region{NormalizeOptions{}};
  // identity.md: "657 1234" vs "+1 345 657 1234" is a suggestion-level match, not exact.
  CHECK(no_region.compare_phones("657 1234", "+1 345 657 1234") == PhoneMatch::short_nsn);
  CHECK(us.compare_phones("657 1234", "+1 345 657 1234") == PhoneMatch::short_nsn);
  // Read in GB, "657 1234" is a GB number: a different country, no match.
  CHECK(gb().compare_phones("657 1234", "+1 345 657 1234") == PhoneMatch::none);

  CHECK(gb().compare_phones("02079460123", "+44 20 7946 0123") == PhoneMatch::exact);
  CHECK(gb().compare_phones("+44 20 7946 0123", "+44 20 7946 0123 ext 5") == PhoneMatch::short_nsn);
  CHECK(gb().compare_phones("+44 20 7946 0123 ext 4", "+44 20 7946 0123 ext 5") ==
        PhoneMatch::none);
  CHECK(gb().compare_phones("+44 20 7946 0123", "+33 1 23 45 67 89") == PhoneMatch::none);
  // Without a region the national form can only match by NSN.
  CHECK(no_region.compare_phones("02079460123", "+44 20 7946 0123") == PhoneMatch::nsn);
  // Blocked values match nothing, not even themselves.
  CHECK(gb().compare_phones("anonymous", "anonymous") == PhoneMatch::none);
  CHECK(gb().compare_phones("0000000", "0000000") == PhoneMatch::none);
  CHECK(gb().compare_phones("", "") == PhoneMatch::none);
}

TEST_CASE("scenario: display forms and case give one email key", "[identity][normalizer][scenario]") {
  const auto from = gb().email("Alice <ALICE@Example.COM>");
  const auto chat = gb().email("alice@example.com");
  REQUIRE(from.ok());
  REQUIRE(chat.ok());
  CHECK(from.identifier().key == "alice@example.com");
  CHECK(from.identifier().key == chat.identifier().key);
  CHECK(from.identifier().kind == IdentifierKind::email);
  CHECK(from.identifier().raw == "ALICE@Example.COM");  // display name gone, case kept
}

TEST_CASE("scenario: replies use the original address", "[identity][normalizer][scenario]") {
  const auto mixed = gb().email("John.Smith@Example.COM");
  const auto lower = gb().email("john.smith@example.com");
  REQUIRE(mixed.ok());
  REQUIRE(lower.ok());
  CHECK(mixed.identifier().key == "john.smith@example.com");
  CHECK(mixed.identifier().key == lower.identifier().key);
  CHECK(mixed.identifier().raw == "John.Smith@Example.COM");
}

TEST_CASE("scenario: gmail dots and tags fold; other domains do not",
          "[identity][normalizer][scenario]") {
  const auto tagged = gb().email("j.smith+promo@gmail.com");
  const auto google = gb().email("jsmith@googlemail.com");
  REQUIRE(tagged.ok());
  REQUIRE(google.ok());
  CHECK(tagged.identifier().key == google.identifier().key);
  CHECK(tagged.identifier().key == "jsmith@gmail.com");
  CHECK(tagged.identifier().raw == "j.smith+promo@gmail.com");

  const auto dotted = gb().email("j.smith@acme.com");
  const auto plain = gb().email("jsmith@acme.com");
  REQUIRE(dotted.ok());
  REQUIRE(plain.ok());
  CHECK(dotted.identifier().key != plain.identifier().key);
  CHECK(dotted.identifier().suggestion_key != plain.identifier().suggestion_key);
}

TEST_CASE("email: plus tags elsewhere are a suggestion key only", "[identity][normalizer][email]") {
  const auto tagged = gb().email("Bob <Bob+Orders@Acme.com>");
  const auto plain = gb().email("bob@acme.com");
  REQUIRE(tagged.ok());
  REQUIRE(plain.ok());
  CHECK(tagged.identifier().key == "bob+orders@acme.com");
  CHECK(tagged.identifier().key != plain.identifier().key);
  CHECK(tagged.identifier().suggestion_key == "bob@acme.com");
  CHECK(plain.identifier().suggestion_key == plain.identifier().key);
}

TEST_CASE("email: header forms", "[identity][normalizer][email]") {
  CHECK(key(gb().email("\"Smith, John\" <john@x.org>")) == "john@x.org");
  CHECK(key(gb().email("\"<evil@y.org>\" <john@x.org>")) == "john@x.org");
  CHECK(key(gb().email("john@x.org (John Smith)")) == "john@x.org");
  CHECK(key(gb().email("(comment (nested)) john@x.org")) == "john@x.org");
  CHECK(key(gb().email("<john@x.org>")) == "john@x.org");
  CHECK(key(gb().email("  \tjohn@x.org \r\n")) == "john@x.org");
  CHECK(key(gb().email("mailto:John@X.org")) == "john@x.org");
  CHECK(gb().email("mailto:John@X.org").identifier().raw == "John@X.org");
}

TEST_CASE("email: invalid addresses", "[identity][normalizer][email]") {
  for (std::string_view value :
       {"a@b", "a@@b.com", "@b.com", "a@", "a b@c.com", "a@b .com", "<a@b.com>, <c@d.com>",
        "a@b.com, c@d.com", "Alice <alice@example.com", "Alice alice@example.com>",
        "\"unterminated <a@b.com>", "\"quoted local\"@x.com", "a@1.2.3.4", "a@[1.2.3.4]",
        "a@-x.com", "a@x-.com", "a@x..com", ".a@x.com", "a.@x.com", "a..b@x.com", "a@x.com.",
        "+@gmail.com", "undisclosed-recipients:;", "no at sign", "a@b.c\x01om"}) {
    INFO(value);
    const auto r = gb().email(value);
    REQUIRE_FALSE(r.ok());
    CHECK(r.reason() == RejectReason::invalid);
    CHECK_FALSE(r.text().empty());
  }
  CHECK(gb().email("").reason() == RejectReason::empty);
  CHECK(gb().email(" \t ").reason() == RejectReason::empty);
  CHECK(gb().email("anonymous").reason() == RejectReason::blocked);
}

TEST_CASE("email: length limit is 254", "[identity][normalizer][email]") {
  const std::string local(64, 'l');
  const std::string fits =
      local + "@" + std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(57, 'c') + ".com";
  REQUIRE(fits.size() == 254);
  CHECK(gb().email(fits).ok());
  const std::string too_long =
      local + "@" + std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(58, 'c') + ".com";
  REQUIRE(too_long.size() == 255);
  CHECK(gb().email(too_long).reason() == RejectReason::invalid);
  CHECK(gb().email(std::string(65, 'l') + "@x.com").reason() == RejectReason::invalid);
  CHECK(gb().email("a@" + std::string(64, 'x') + ".com").reason() == RejectReason::invalid);
}

TEST_CASE("email: role senders and own addresses are not customers", "[identity][normalizer][email]") {
  for (std::string_view value :
       {"MAILER-DAEMON@mx.example.com", "postmaster@example.com", "no-reply@shop.com",
        "noreply@shop.com", "NoReply-12345@shop.com", "do-not-reply@bank.com",
        "donotreply@bank.com", "info@company.com", "support@company.com", "sales@company.com",
        "admin@company.com", "abuse@isp.net", "bounce@list.org", "bounces+abc=x.com@list.org",
        "notifications@github.com", "Shop <noreply+tracking@shop.com>"}) {
    INFO(value);
    const auto r = gb().email(value);
    REQUIRE_FALSE(r.ok());
    CHECK(r.reason() == RejectReason::role_address);
  }
  // People whose names merely start like a role are customers.
  CHECK(gb().email("infante@company.com").ok());
  CHECK(gb().email("salesman.bob@company.com").ok());

  CHECK(gb().email("help@acme.com").reason() == RejectReason::own_value);
  CHECK(gb().email("Acme Help <HELP@ACME.COM>").reason() == RejectReason::own_value);
  CHECK(gb().email("anyone@omnitrail.test").reason() == RejectReason::own_value);
  CHECK(gb().email("anyone@sub.omnitrail.test").ok());  // "@domain" means that domain only
  CHECK(gb().email("switchboard@example.org").reason() == RejectReason::blocked);
}

TEST_CASE("other kinds keep their case and refuse junk", "[identity][normalizer]") {
  const auto crm = gb().other(IdentifierKind::external, "  CRM-00042 ");
  REQUIRE(crm.ok());
  CHECK(crm.identifier().key == "CRM-00042");
  CHECK(crm.identifier().kind == IdentifierKind::external);
  CHECK(crm.identifier().suggestion_key.empty());
  CHECK(key(gb().other(IdentifierKind::chat_user, "User_7")) == "User_7");
  CHECK(key(gb().other(IdentifierKind::visitor, "v-1f3a")) == "v-1f3a");
  CHECK(gb().other(IdentifierKind::external, "null").reason() == RejectReason::blocked);
  CHECK(gb().other(IdentifierKind::external, "Bogus").reason() == RejectReason::blocked);
  CHECK(gb().other(IdentifierKind::external, "0").reason() == RejectReason::blocked);
  CHECK(gb().other(IdentifierKind::chat_user, "undefined").reason() == RejectReason::blocked);
  CHECK(gb().other(IdentifierKind::visitor, "").reason() == RejectReason::empty);
  CHECK(gb().other(IdentifierKind::external, std::string(257, 'x')).reason() ==
        RejectReason::invalid);
  CHECK(gb().other(IdentifierKind::external, "a\nb").reason() == RejectReason::invalid);
  // Delegation.
  CHECK(key(gb().other(IdentifierKind::phone, "02079460123")) == "+442079460123");
  CHECK(key(gb().other(IdentifierKind::email, "A@B.com")) == "a@b.com");
}

TEST_CASE("configuration entries that do not normalise are reported", "[identity][normalizer]") {
  const Normalizer n{NormalizeOptions{.default_region = "GB",
                                      .own_numbers = {"not a number", "+44 20 7946 0000"},
                                      .own_addresses = {"nobody-at-all"}}};
  CHECK(n.ignored_options().size() == 2);
  CHECK(n.phone("+44 20 7946 0000").reason() == RejectReason::own_value);
}

TEST_CASE("hostile input: phone", "[identity][normalizer][phone][nasty]") {
  SECTION("very long strings") {
    CHECK(gb().phone(std::string(100000, '1')).reason() == RejectReason::invalid);
    CHECK_FALSE(gb().phone("+44" + std::string(300, '2')).ok());
    CHECK_FALSE(gb().phone(std::string(5000, '+')).ok());
  }
  SECTION("embedded NUL is never silently cut off") {
    const auto r = gb().phone("+44 20 7946 0123\0 999"s);
    REQUIRE_FALSE(r.ok());
    CHECK(r.reason() == RejectReason::invalid);
    CHECK_FALSE(gb().phone("\0"s).ok());
  }
  SECTION("invalid UTF-8") {
    for (std::string value : {"+44 20 7946 0123\xff"s, "\xc0\xaf+44 20 7946 0123"s,
                              "+44 20 \xed\xa0\x80 7946 0123"s, "\xe2\x82"s, "\xf8\x88\x80\x80\x80"s}) {
      const auto r = gb().phone(value);
      REQUIRE_FALSE(r.ok());
      CHECK(r.reason() == RejectReason::invalid);
    }
  }
  SECTION("lone and doubled plus signs") {
    CHECK(gb().phone("+").reason() == RejectReason::invalid);
    CHECK(gb().phone("00").reason() == RejectReason::blocked);  // all zeros
    CHECK(gb().phone("+ ").reason() == RejectReason::invalid);
    // libphonenumber accepts a run of plus signs as the international prefix.
    CHECK(key(gb().phone("++44 20 7946 0123")) == "+442079460123");
  }
  SECTION("emoji, RTL marks, Unicode digits and spaces") {
    CHECK(gb().phone("\xF0\x9F\x98\x80").reason() == RejectReason::invalid);  // 😀
    // Bidi marks around a copy-pasted number are invisible and ignored.
    CHECK(key(gb().phone("\u200F+44 20 7946 0123\u200E")) == "+442079460123");
    CHECK(key(gb().phone("\u202B+44\u00A020\u00A07946\u00A00123\u202C")) == "+442079460123");
    // Arabic-Indic and full-width digits.
    CHECK(key(gb().phone("\u0660\u0662\u0660\u0667\u0669\u0664\u0666\u0660\u0661\u0662\u0663")) ==
          "+442079460123");
    CHECK(key(gb().phone("\uFF0B\uFF14\uFF14\uFF12\uFF10\uFF17\uFF19\uFF14\uFF16\uFF10\uFF11\uFF12\uFF13")) ==
          "+442079460123");
    CHECK(gb().phone("\u0660\u0660\u0660\u0660").reason() == RejectReason::blocked);
    CHECK(gb().phone("\uFF22\uFF21\uFF2E\uFF2B").reason() == RejectReason::invalid);  // full-width BANK
  }
  SECTION("tel: URIs") {
    CHECK(key(gb().phone("tel:+44-20-7946-0123")) == "+442079460123");
    CHECK(key(gb().phone("tel:+1-201-555-0123;ext=7")) == "+12015550123;ext=7");
    CHECK_FALSE(gb().phone("tel:").ok());
  }
  SECTION("tabs and newlines inside a number are separators") {
    CHECK(key(gb().phone("+44\t20 7946\n0123")) == "+442079460123");
  }
  SECTION("rejection texts stay printable ASCII") {
    const auto r = gb().phone("\xF0\x9F\x98\x80\x1b[31m");
    REQUIRE_FALSE(r.ok());
    for (char c : r.text()) {
      CHECK(static_cast<unsigned char>(c) >= 0x20);
      CHECK(static_cast<unsigned char>(c) < 0x7F);
    }
  }
}

TEST_CASE("hostile input: email", "[identity][normalizer][email][nasty]") {
  CHECK(gb().email(std::string(1000000, 'a') + "@x.com").reason() == RejectReason::invalid);
  CHECK(gb().email(std::string(100000, '<')).reason() == RejectReason::invalid);
  CHECK(gb().email(std::string(100000, '(')).reason() == RejectReason::invalid);
  CHECK(gb().email("alice@example.com\0evil@x.com"s).reason() == RejectReason::invalid);
  CHECK(gb().email("alice@exam\xffple.com"s).reason() == RejectReason::invalid);
  CHECK(gb().email("\xc0\xaf@example.com"s).reason() == RejectReason::invalid);
  // Bidi marks inside the address are a spoofing trick; at the edges they are trimmed.
  CHECK(gb().email("ali\u202Ece@example.com").reason() == RejectReason::invalid);
  CHECK(key(gb().email("\u200Falice@example.com\u200E")) == "alice@example.com");
  CHECK(gb().email("\xF0\x9F\x98\x80@example.com").ok());  // odd, but a valid UTF-8 atom
  CHECK(gb().email("alice@\xF0\x9F\x98\x80").reason() == RejectReason::invalid);  // no dot
  // Non-ASCII addresses (EAI): ASCII is lower-cased, the rest kept.
  CHECK(key(gb().email("J\xC3\xB6rg@Example.DE")) == "j\xC3\xB6rg@example.de");
  CHECK(gb().email("\\\"@x.com").reason() == RejectReason::invalid);
  CHECK(gb().email("\"\\").reason() == RejectReason::invalid);
  CHECK(gb().email("(\\").reason() == RejectReason::invalid);
}

TEST_CASE("one normaliser serves several threads", "[identity][normalizer][threads]") {
  const std::vector<std::string> inputs = {"02079460123", "+1 201 555 0123", "112", "BANK",
                                           "+44 20 7946 0123 ext 9", "6001", "anonymous"};
  std::vector<std::string> expected;
  for (const auto& input : inputs) expected.push_back(key(gb().phone(input)));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        for (std::size_t i = 0; i < inputs.size(); ++i) {
          if (key(gb().phone(inputs[i])) != expected[i]) ++mismatches[t];
          if (gb().compare_phones(inputs[0], "+442079460123") != PhoneMatch::exact) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int m : mismatches) CHECK(m == 0);
  CHECK(expected[0] == "+442079460123");
  CHECK(expected[4] == "+442079460123;ext=9");
}

TEST_CASE("a number whose E.164 form is one repeated digit is blocked however it was written", "[identity][phone][fuzz]") {
  omnitrail::identity::NormalizeOptions options;
  options.default_region = "GB";
  omnitrail::identity::Normalizer n(options);
  // Found by fuzz/identity_fuzz: the raw text is not "repeated digits", its key is.
  auto r = n.phone("+3333 /3333333f");
  CHECK_FALSE(r.ok());
  if (!r.ok()) CHECK(r.reason() == omnitrail::identity::RejectReason::blocked);
  CHECK(n.phone("+44 20 7946 0123").ok());
}

TEST_CASE("phone: the memo never changes an answer", "[identity][normalizer][phone]") {
  Normalizer n = make_gb();
  // The same text under different regions must not share a memo entry.
  const auto gb_first = n.phone("020 7946 0123");
  const auto us_first = n.phone("020 7946 0123", "US");
  CHECK(key(gb_first) == "+442079460123");
  CHECK_FALSE(us_first.ok());
  CHECK(key(n.phone("020 7946 0123")) == key(gb_first));
  CHECK(n.phone("020 7946 0123", "US").ok() == us_first.ok());
  CHECK(n.phone("020 7946 0123", "US").text() == us_first.text());
  // Rejections are remembered with their reason.
  CHECK(n.phone("+44 20 7946 0999").reason() == RejectReason::blocked);
  CHECK(n.phone("+44 20 7946 0999").reason() == RejectReason::blocked);
  // Past the memo's bound (it empties itself) answers stay the same.
  std::vector<std::string> before;
  for (int i = 0; i < 5000; ++i) before.push_back(key(n.phone("+1 415 555 " + std::to_string(1000 + i % 9000))));
  for (int i = 0; i < 5000; i += 97) CHECK(key(n.phone("+1 415 555 " + std::to_string(1000 + i % 9000))) == before[i]);
  // Concurrent callers (writer and reader threads share one Normalizer) agree.
  std::vector<std::thread> threads;
  std::vector<std::string> seen(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) seen[t] = key(n.phone("+44 20 7946 " + std::to_string(1000 + i)));
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& s : seen) CHECK(s == "+442079462999");
}
