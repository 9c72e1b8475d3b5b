// Lookup, search, timeline, suggestions and single interactions, against a real SQLite file.
#include <catch2/catch.hpp>

#include <set>

#include "daemon/identity/normalizer.hpp"
#include "daemon/timeline/queries.hpp"
#include "read_fixture.hpp"

// No `using namespace omnitrail`: its namespace `timeline` would clash with the function.
namespace store = omnitrail::store;
namespace identity = omnitrail::identity;
using namespace omnitrail::timeline;
using namespace omnitrail::timeline::testing;
using identity::IdentifierKind;
using nlohmann::json;

namespace {

std::vector<std::string> ids_of(const json& page) {
  std::vector<std::string> ids;
  for (const auto& item : page["items"]) ids.push_back(item["id"].get<std::string>());
  return ids;
}

std::string next_cursor(const json& page) {
  return page["next_cursor"].is_null() ? std::string() : page["next_cursor"].get<std::string>();
}

}  // namespace

TEST_CASE("find_customer_by_key resolves the owner to its survivor", "[timeline_read][lookup]") {
  ReadFixture f;
  const auto survivor = f.customer("S");
  const auto merged = f.customer("M");
  f.identity(merged, "phone", "+442079460123", "020 7946 0123", fixed_now);
  f.identity(survivor, "email", "s@example.com", "s@example.com", fixed_now);
  CHECK(find_customer_by_key(f.db, IdentifierKind::phone, "+442079460123") == merged.id);
  f.merge(merged, survivor);
  CHECK(find_customer_by_key(f.db, IdentifierKind::phone, "+442079460123") == survivor.id);
  CHECK(find_customer_by_key(f.db, IdentifierKind::email, "s@example.com") == survivor.id);
  CHECK_FALSE(find_customer_by_key(f.db, IdentifierKind::email, "+442079460123"));
  CHECK_FALSE(find_customer_by_key(f.db, IdentifierKind::phone, "+15550000000"));
}

TEST_CASE("lookup normalises raw input and reports what matched", "[timeline_read][lookup]") {
  ReadFixture f;
  identity::NormalizeOptions normalize_options;
  normalize_options.default_region = "GB";
  const identity::Normalizer normalizer(normalize_options);
  const auto alice = f.customer("Alice");
  f.identity(alice, "phone", "+442079460123", "020 7946 0123", fixed_now);
  f.identity(alice, "email", "alice@example.com", "Alice@Example.com", fixed_now);
  const auto crm = f.customer("Crm");
  f.identity(crm, "external", "CRM-42", "CRM-42", fixed_now);

  CHECK(lookup(f.db, normalizer, "02079460123", std::nullopt, "") ==
        json{{"customer_id", alice.id}, {"matched", {{"kind", "phone"}, {"key", "+442079460123"}}}});
  CHECK(lookup(f.db, normalizer, "+44 20 7946 0123", std::nullopt, "")["customer_id"] == alice.id);
  CHECK(lookup(f.db, normalizer, "Alice <ALICE@Example.COM>", std::nullopt, "") ==
        json{{"customer_id", alice.id},
             {"matched", {{"kind", "email"}, {"key", "alice@example.com"}}}});
  CHECK(lookup(f.db, normalizer, "CRM-42", std::nullopt, "") ==
        json{{"customer_id", crm.id}, {"matched", {{"kind", "external"}, {"key", "CRM-42"}}}});
  CHECK(lookup(f.db, normalizer, "CRM-42", IdentifierKind::external, "")["customer_id"] == crm.id);
  // The region override: read as a US number, the same digits are someone else's.
  CHECK(lookup(f.db, normalizer, "2079460123", IdentifierKind::phone, "GB")["customer_id"] == alice.id);
  CHECK(error_code_of([&] { lookup(f.db, normalizer, "2079460123", IdentifierKind::phone, "US"); }) ==
        store::StatusCode::not_found);
  CHECK(error_code_of([&] { lookup(f.db, normalizer, "020 7946 9999", std::nullopt, ""); }) ==
        store::StatusCode::not_found);
  CHECK(error_code_of([&] { lookup(f.db, normalizer, "anonymous", std::nullopt, ""); }) ==
        store::StatusCode::invalid_argument);
  CHECK(error_code_of([&] { lookup(f.db, normalizer, "not an email", IdentifierKind::email, ""); }) ==
        store::StatusCode::invalid_argument);
  try {
    lookup(f.db, normalizer, "   ", std::nullopt, "");
    FAIL("blank input accepted");
  } catch (const store::StoreError& error) {
    CHECK(error.status().code() == store::StatusCode::invalid_argument);
    CHECK_THAT(error.status().message(), Catch::Contains("not an identifier"));
  }
}

TEST_CASE("search matches name and identity prefixes case-insensitively", "[timeline_read][search]") {
  ReadFixture f;
  const auto alice = f.customer("Alice Smith");
  const auto alicia = f.customer("alicia Jones");
  const auto bob = f.customer("Bob");
  f.identity(bob, "email", "bob@alitalia.it", "Bob@Alitalia.IT", fixed_now);
  f.identity(bob, "phone", "+442079460123", "020 7946 0123", fixed_now, "claimed", "2079460123");
  f.identity(alice, "email", "alice@example.com", "alice@example.com", fixed_now);
  const auto merged = f.customer("Alien (merged)");
  f.merge(merged, alice);
  const auto erased = f.customer("Alibi (erased)");
  f.db.exec("UPDATE customers SET erased_at = 1 WHERE id = " + std::to_string(erased.row));

  // Alice matches by name and by email: listed once. Merged and erased customers never show.
  CHECK(ids_of(search(f.db, "ALI", 10, "")) == std::vector<std::string>{alice.id, alicia.id});
  CHECK(ids_of(search(f.db, "  alic ", 10, "")) == std::vector<std::string>{alice.id, alicia.id});
  CHECK(ids_of(search(f.db, "bob@ALIT", 10, "")) == std::vector<std::string>{bob.id});
  CHECK(ids_of(search(f.db, "Smith", 10, "")).empty());  // prefix, not substring
  // Phone: raw prefix, E.164 prefix, national form with the trunk 0, and 00 international.
  CHECK(ids_of(search(f.db, "020 79", 10, "")) == std::vector<std::string>{bob.id});
  CHECK(ids_of(search(f.db, "+44 20 7946", 10, "")) == std::vector<std::string>{bob.id});
  CHECK(ids_of(search(f.db, "(020) 7946-01", 10, "")) == std::vector<std::string>{bob.id});
  CHECK(ids_of(search(f.db, "0044 207", 10, "")) == std::vector<std::string>{bob.id});
  CHECK(ids_of(search(f.db, "+1 207", 10, "")).empty());

  const json page = search(f.db, "bob", 10, "");
  REQUIRE(page["items"].size() == 1);
  CHECK(page["items"][0]["display_name"] == "Bob");
  CHECK(page["items"][0]["identities"] ==
        json::array({{{"kind", "email"}, {"value", "Bob@Alitalia.IT"}, {"key", "bob@alitalia.it"}},
                     {{"kind", "phone"}, {"value", "020 7946 0123"}, {"key", "+442079460123"}}}));
  CHECK(page["next_cursor"].is_null());
}

TEST_CASE("search treats LIKE wildcards, quotes and SQL as literal text", "[timeline_read][search]") {
  ReadFixture f;
  const auto percent = f.customer("100% Real");
  f.customer("100 Real");
  f.customer("1000 Real");
  const auto underscore = f.customer("a_b");
  f.customer("axb");
  const auto quote = f.customer("O'Brien");
  const auto backslash = f.customer("back\\slash");
  f.customer("backXslash");

  CHECK(ids_of(search(f.db, "100%", 10, "")) == std::vector<std::string>{percent.id});
  CHECK(ids_of(search(f.db, "%", 10, "")).empty());
  CHECK(ids_of(search(f.db, "a_", 10, "")) == std::vector<std::string>{underscore.id});
  CHECK(ids_of(search(f.db, "_", 10, "")).empty());
  CHECK(ids_of(search(f.db, "o'b", 10, "")) == std::vector<std::string>{quote.id});
  CHECK(ids_of(search(f.db, "back\\", 10, "")) == std::vector<std::string>{backslash.id});
  for (const char* attack : {"' OR '1'='1", "'; DROP TABLE customers; --", "\" OR 1=1 --",
                             "x' UNION SELECT id, public_id, 1, 1, 1 FROM customers --", "\\"}) {
    INFO(attack);
    CHECK(ids_of(search(f.db, attack, 10, "")).empty());
  }
  CHECK(f.count("SELECT count(*) FROM customers") == 8);
  CHECK(error_code_of([&] { search(f.db, "   ", 10, ""); }) == store::StatusCode::invalid_argument);
  CHECK(error_code_of([&] { search(f.db, std::string(300, 'a'), 10, ""); }) ==
        store::StatusCode::invalid_argument);
}

TEST_CASE("search pagination returns every match exactly once", "[timeline_read][search][pagination]") {
  ReadFixture f;
  std::set<std::string> expected;
  for (int i = 0; i < 23; ++i) {
    // Names with equal sort keys (case only differs) exercise the row-id tie-break.
    const auto c = f.customer(i % 3 == 0 ? "Page" : (i % 3 == 1 ? "page" : "Page " + std::to_string(i % 5)));
    expected.insert(c.id);
  }
  for (int i = 0; i < 4; ++i) {  // unnamed customers found by an identity: listed last
    const auto c = f.customer(std::nullopt);
    f.identity(c, "external", "page-" + std::to_string(i), "page-" + std::to_string(i), fixed_now);
    expected.insert(c.id);
  }
  f.customer("Other");

  for (int limit : {1, 4, 7, 27, 100}) {
    INFO("limit " << limit);
    std::vector<std::string> seen;
    std::string cursor;
    int pages = 0;
    do {
      const json page = search(f.db, "page", limit, cursor);
      CHECK(page["items"].size() <= static_cast<std::size_t>(limit));
      for (const auto& id : ids_of(page)) seen.push_back(id);
      cursor = next_cursor(page);
      REQUIRE(++pages <= 40);
    } while (!cursor.empty());
    CHECK(seen.size() == expected.size());
    CHECK(std::set<std::string>(seen.begin(), seen.end()) == expected);
    CHECK(ids_of(search(f.db, "page", 100, "")) == seen);  // pages concatenate to one order
  }
  // Unnamed customers come last.
  const json all = search(f.db, "page", 100, "");
  CHECK(all["items"].back()["display_name"].is_null());
  CHECK(all["items"].front()["display_name"].is_string());
  // Limit is clamped to 1..100.
  CHECK(search(f.db, "page", 0, "")["items"].size() == 1);
  CHECK(search(f.db, "page", -5, "")["items"].size() == 1);
}

TEST_CASE("Invalid cursors are rejected", "[timeline_read][pagination]") {
  ReadFixture f;
  const auto c = f.customer("Cursor");
  for (int i = 0; i < 3; ++i) f.interaction(c, "sms", "inbound", fixed_now - i);
  f.suggestion(c, f.customer("Other"), "pending", fixed_now);
  f.suggestion(c, f.customer("Third"), "pending", fixed_now);
  TimelineFilter filter;
  filter.limit = 1;
  const std::string timeline_cursor = next_cursor(timeline(f.db, c.id, filter));
  REQUIRE_FALSE(timeline_cursor.empty());
  const std::string suggestion_cursor = next_cursor(list_suggestions(f.db, "", 1, ""));
  REQUIRE_FALSE(suggestion_cursor.empty());

  for (const std::string& bad :
       std::vector<std::string>{"!!!", "not-a-cursor", "e30", "WyJzIl0", "A", "////",
                                "WyJzIiwxLCJ4Il0=", std::string(3000, 'A')}) {
    INFO(bad);
    CHECK(error_code_of([&] { search(f.db, "cur", 10, bad); }) ==
          store::StatusCode::invalid_argument);
    TimelineFilter with_bad;
    with_bad.cursor = bad;
    CHECK(error_code_of([&] { timeline(f.db, c.id, with_bad); }) ==
          store::StatusCode::invalid_argument);
    CHECK(error_code_of([&] { list_suggestions(f.db, "", 10, bad); }) ==
          store::StatusCode::invalid_argument);
  }
  // A cursor from one endpoint is not accepted by another.
  CHECK(error_code_of([&] { search(f.db, "cur", 10, timeline_cursor); }) ==
        store::StatusCode::invalid_argument);
  CHECK(error_code_of([&] { list_suggestions(f.db, "", 10, timeline_cursor); }) ==
        store::StatusCode::invalid_argument);
  TimelineFilter foreign;
  foreign.cursor = suggestion_cursor;
  CHECK(error_code_of([&] { timeline(f.db, c.id, foreign); }) == store::StatusCode::invalid_argument);
}

TEST_CASE("timeline filters by channel and time and pages through ties", "[timeline_read][timeline]") {
  ReadFixture f;
  const auto c = f.customer("Timeline");
  const auto other = f.customer("Other");
  std::vector<std::string> all;  // newest first after the reverse below
  for (int i = 0; i < 12; ++i) {
    // Pairs share a timestamp, so ordering and paging rely on the id tie-break.
    const std::string channel = i % 3 == 0 ? "phone" : (i % 3 == 1 ? "email" : "chat");
    all.push_back(f.interaction(c, channel, "inbound", fixed_now - (12 - i) / 2 * hour_ms));
  }
  f.interaction(other, "phone", "inbound", fixed_now);
  std::reverse(all.begin(), all.end());

  TimelineFilter filter;
  const json everything = timeline(f.db, c.id, filter);
  CHECK(everything["customer_id"] == c.id);
  CHECK(ids_of(everything) == all);
  CHECK(everything["next_cursor"].is_null());

  SECTION("pages of 5 walk every item once") {
    filter.limit = 5;
    std::vector<std::string> seen;
    int pages = 0;
    do {
      const json page = timeline(f.db, c.id, filter);
      for (const auto& id : ids_of(page)) seen.push_back(id);
      filter.cursor = next_cursor(page);
      REQUIRE(++pages <= 10);
    } while (!filter.cursor.empty());
    CHECK(seen == all);
    CHECK(pages == 3);
  }
  SECTION("channel filter") {
    filter.channels = {"phone", "chat"};
    const json page = timeline(f.db, c.id, filter);
    CHECK(page["items"].size() == 8);
    for (const auto& item : page["items"]) CHECK(item["channel"] != "email");
    filter.channels = {"fax"};
    CHECK(error_code_of([&] { timeline(f.db, c.id, filter); }) ==
          store::StatusCode::invalid_argument);
  }
  SECTION("since is inclusive, until exclusive") {
    filter.since_ms = fixed_now - 5 * hour_ms;
    filter.until_ms = fixed_now - 2 * hour_ms;
    const json page = timeline(f.db, c.id, filter);
    REQUIRE(page["items"].size() == 6);  // the pairs at -5h, -4h, -3h
    CHECK(page["items"][0]["occurred_at"] == format_time(fixed_now - 3 * hour_ms));
    CHECK(page["items"][5]["occurred_at"] == format_time(fixed_now - 5 * hour_ms));
    filter.until_ms = filter.since_ms;
    CHECK(error_code_of([&] { timeline(f.db, c.id, filter); }) ==
          store::StatusCode::invalid_argument);
  }
  SECTION("a merged id reads the survivor's timeline") {
    const auto old = f.customer("Old");
    f.merge(old, c);
    const json page = timeline(f.db, old.id, filter);
    CHECK(page["customer_id"] == c.id);
    CHECK(ids_of(page) == all);
    CHECK(error_code_of([&] { timeline(f.db, "c_missing", filter); }) ==
          store::StatusCode::not_found);
  }
  SECTION("limit is clamped to 1..200") {
    filter.limit = 0;
    CHECK(timeline(f.db, c.id, filter)["items"].size() == 1);
    filter.limit = 100000;
    CHECK(timeline(f.db, c.id, filter)["items"].size() == 12);
  }
}

TEST_CASE("list_suggestions filters by status and pages oldest first", "[timeline_read][suggestions]") {
  ReadFixture f;
  const auto a = f.customer("A");
  const auto b = f.customer("B");
  const auto c = f.customer("C");
  const auto d = f.customer("D");
  const auto s1 = f.suggestion(a, b, "pending", fixed_now - 3 * day_ms);
  const auto s2 = f.suggestion(a, c, "rejected", fixed_now - 2 * day_ms);
  const auto s3 = f.suggestion(c, d, "pending", fixed_now - day_ms);
  f.db.exec("UPDATE suggestions SET decided_at = 5, decided_by = 'agent-7' WHERE id = " +
            std::to_string(s2));
  f.merge(d, b);  // s3's customer_b is now shown as its survivor

  const json pending = list_suggestions(f.db, "pending", 10, "");
  REQUIRE(pending["items"].size() == 2);
  CHECK(pending["items"][0] == json{{"id", s1},
                                    {"status", "pending"},
                                    {"customer_a", a.id},
                                    {"customer_b", b.id},
                                    {"reason", "phone_nsn"},
                                    {"evidence", {"+442079460123"}},
                                    {"created_at", format_time(fixed_now - 3 * day_ms)},
                                    {"decided_at", nullptr},
                                    {"decided_by", nullptr}});
  CHECK(pending["items"][1]["customer_b"] == b.id);
  CHECK(pending["items"][1]["id"] == s3);

  const json rejected = list_suggestions(f.db, "rejected", 10, "");
  REQUIRE(rejected["items"].size() == 1);
  CHECK(rejected["items"][0]["decided_by"] == "agent-7");

  const json first = list_suggestions(f.db, "", 2, "");
  CHECK(first["items"].size() == 2);
  const json second = list_suggestions(f.db, "", 2, next_cursor(first));
  REQUIRE(second["items"].size() == 1);
  CHECK(second["items"][0]["id"] == s3);
  CHECK(second["next_cursor"].is_null());
  CHECK(error_code_of([&] { list_suggestions(f.db, "PENDING", 10, ""); }) ==
        store::StatusCode::invalid_argument);
}

TEST_CASE("get_interaction returns one interaction or not_found", "[timeline_read][interaction]") {
  ReadFixture f;
  const auto c = f.customer("One");
  const auto id = f.interaction(c, "email", "outbound", fixed_now, 0, "email.sent", "bad \xff byte");
  const json item = get_interaction(f.db, id);
  CHECK(item["id"] == id);
  CHECK(item["customer_id"] == c.id);
  CHECK(item["conversation_id"].is_null());
  CHECK(item["kind"] == "email.sent");
  CHECK(item["text"] == "bad \xEF\xBF\xBD byte");  // invalid UTF-8 replaced: dump() cannot throw
  CHECK_NOTHROW(item.dump());
  CHECK(error_code_of([&] { get_interaction(f.db, "i_0000000000000000"); }) ==
        store::StatusCode::not_found);
}

TEST_CASE("Reads work inside a caller's transaction", "[timeline_read][snapshot]") {
  ReadFixture f;
  const auto c = f.customer("Txn");
  f.interaction(c, "sms", "inbound", fixed_now);
  store::Transaction transaction(f.db, store::Transaction::Kind::deferred);
  CHECK(timeline(f.db, c.id, TimelineFilter{})["items"].size() == 1);
  CHECK(f.db.in_transaction());  // the caller's transaction is left open
}
