// The customer view as a specification: shape, stats on a handcrafted dataset with a fixed
// clock, merged-id resolution, determinism of the customer part, CRM links.
#include <catch2/catch.hpp>

#include <limits>

#include "daemon/timeline/customer_view.hpp"
#include "daemon/timeline/queries.hpp"
#include "read_fixture.hpp"

using namespace omnitrail;
using namespace omnitrail::timeline;
using namespace omnitrail::timeline::testing;
using nlohmann::json;

namespace {

ViewOptions fixed_options() {
  ViewOptions options;
  options.now_ms = fixed_now;
  return options;
}

}  // namespace

TEST_CASE("Times are RFC 3339 UTC with milliseconds", "[timeline_read][view]") {
  CHECK(format_time(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_time(fixed_now) == "2026-11-24T13:00:00.000Z");
  CHECK(format_time(1709251199123) == "2024-02-29T23:59:59.123Z");
  CHECK(format_time(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(format_time(std::numeric_limits<std::int64_t>::max()) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("The view has the documented shape and values", "[timeline_read][view]") {
  ReadFixture f;
  const auto alice = f.customer("Alice Smith", fixed_now - 10 * day_ms, R"({"vip":true,"tier":2})");
  const auto phone = f.identity(alice, "phone", "+442079460123", "020 7946 0123", fixed_now - 9 * day_ms);
  const auto email = f.identity(alice, "email", "alice@example.com", "Alice@Example.com", fixed_now - 8 * day_ms, "verified");
  const auto crm = f.identity(alice, "external", "CRM-42", "CRM-42", fixed_now - 1 * day_ms, "verified");
  const auto visitor = f.identity(alice, "visitor", "vis-1", "vis-1", fixed_now - 20 * day_ms);
  const auto call = f.conversation(alice, "phone", fixed_now - hour_ms, std::nullopt);
  const auto first = f.interaction(alice, "phone", "inbound", fixed_now - hour_ms, call.row, "call.ringing");

  const json view = customer_view(f.db, alice.id, fixed_options());

  CHECK(view["requested_id"] == alice.id);
  CHECK(view["merged"] == false);
  const json& customer = view["customer"];
  CHECK(customer["id"] == alice.id);
  CHECK(customer["display_name"] == "Alice Smith");
  CHECK(customer["attributes"] == json{{"vip", true}, {"tier", 2}});
  CHECK(customer["created_at"] == "2026-11-14T13:00:00.000Z");
  CHECK(customer["merged_from"] == json::array());
  CHECK(customer.size() == 5);

  // Tier first (external A, email B, phone C, visitor D), then first_seen.
  const json& identities = view["identities"];
  REQUIRE(identities.size() == 4);
  CHECK(identities[0]["id"] == crm);
  CHECK(identities[1]["id"] == email);
  CHECK(identities[2]["id"] == phone);
  CHECK(identities[3]["id"] == visitor);
  CHECK(identities[1] == json{{"id", email},
                              {"kind", "email"},
                              {"value", "Alice@Example.com"},
                              {"key", "alice@example.com"},
                              {"trust", "verified"},
                              {"source", "test"},
                              {"first_seen", "2026-11-16T13:00:00.000Z"},
                              {"last_seen", "2026-11-16T13:00:00.000Z"}});

  REQUIRE(view["recent_interactions"].size() == 1);
  const json& item = view["recent_interactions"][0];
  CHECK(item == json{{"id", first},
                     {"customer_id", alice.id},
                     {"conversation_id", call.id},
                     {"channel", "phone"},
                     {"direction", "inbound"},
                     {"kind", "call.ringing"},
                     {"occurred_at", "2026-11-24T12:00:00.000Z"},
                     {"source", "test"},
                     {"external_id", item["external_id"]},
                     {"from", {{"raw", "020 7946 0123"}, {"key", "+442079460123"}}},
                     {"to", {{"raw", "6001"}, {"key", nullptr}}},
                     {"agent", "agent-7"},
                     {"subject", nullptr},
                     {"text", "hello"},
                     {"text_truncated", false},
                     {"metadata", {{"n", 1}}}});
  CHECK(item["external_id"].is_string());

  REQUIRE(view["open_conversations"].size() == 1);
  CHECK(view["open_conversations"][0] == json{{"id", call.id},
                                              {"channel", "phone"},
                                              {"key", view["open_conversations"][0]["key"]},
                                              {"source", "test"},
                                              {"started_at", "2026-11-24T12:00:00.000Z"},
                                              {"last_at", "2026-11-24T12:00:00.000Z"}});
  CHECK(view["suggestions"] == json::array());
  CHECK(view["links"] == json::object());
  for (const char* key : {"requested_id", "merged", "customer", "identities", "stats",
                          "recent_interactions", "open_conversations", "suggestions", "links"}) {
    CHECK(view.contains(key));
  }
  CHECK(view.size() == 9);
}

TEST_CASE("Stats count contacts per channel and in 7 and 30 day windows", "[timeline_read][view]") {
  ReadFixture f;
  const auto c = f.customer("Stats");
  // Phone conversation P1: two inbound interactions, still open -> ONE phone contact.
  const auto p1 = f.conversation(c, "phone", fixed_now - hour_ms, std::nullopt);
  f.interaction(c, "phone", "inbound", fixed_now - hour_ms, p1.row);
  f.interaction(c, "phone", "inbound", fixed_now - 59 * minute_ms, p1.row);
  // Phone conversation P2 exactly 7 days ago: inside the 7-day window (inclusive boundary).
  const auto p2 = f.conversation(c, "phone", fixed_now - 7 * day_ms, fixed_now - 7 * day_ms + 1);
  f.interaction(c, "phone", "inbound", fixed_now - 7 * day_ms, p2.row);
  // Lone inbound SMS 1 ms before the 7-day window: counts for 30 days only.
  f.interaction(c, "sms", "inbound", fixed_now - 7 * day_ms - 1);
  // Lone outbound SMS: not a contact (no conversation, not inbound).
  f.interaction(c, "sms", "outbound", fixed_now - 2 * day_ms);
  // Email conversations exactly at and 1 ms before the 30-day boundary; one is outbound only
  // (a conversation counts whatever its direction).
  const auto e1 = f.conversation(c, "email", fixed_now - 30 * day_ms, fixed_now - 30 * day_ms);
  f.interaction(c, "email", "outbound", fixed_now - 30 * day_ms, e1.row);
  const auto e2 = f.conversation(c, "email", fixed_now - 30 * day_ms - 1, fixed_now - 30 * day_ms);
  f.interaction(c, "email", "inbound", fixed_now - 30 * day_ms - 1, e2.row);
  // An old chat: all-time only.
  const auto chat = f.conversation(c, "chat", fixed_now - 100 * day_ms, fixed_now - 100 * day_ms);
  f.interaction(c, "chat", "inbound", fixed_now - 100 * day_ms, chat.row);

  const json stats = customer_view(f.db, c.id, fixed_options())["stats"];
  CHECK(stats["contacts_by_channel"] ==
        json{{"phone", 2}, {"email", 2}, {"sms", 1}, {"chat", 1}, {"api", 0}});
  CHECK(stats["contacts_7d"] == 2);
  CHECK(stats["contacts_30d"] == 4);
  CHECK(stats["first_seen"] == format_time(fixed_now - 100 * day_ms));
  CHECK(stats["last_contact"] == format_time(fixed_now - 59 * minute_ms));
  CHECK(stats["open_conversations"] == 1);
  // 90 days: phone 2, email 2, sms 1 -> phone and email tie; phone was used most recently.
  CHECK(stats["preferred_channel"] == "phone");
  // Last two inbound contacts: P1 (now - 1h) and P2 (now - 7d) are more than 72 h apart.
  CHECK(stats["repeat_contact"] == false);
  CHECK(stats.size() == 8);

  SECTION("one millisecond later the boundary items leave their windows") {
    ViewOptions later = fixed_options();
    later.now_ms = fixed_now + 1;
    const json moved = customer_view(f.db, c.id, later)["stats"];
    CHECK(moved["contacts_7d"] == 1);
    CHECK(moved["contacts_30d"] == 3);
  }
  SECTION("a window wide enough makes the last two inbound contacts a repeat") {
    ViewOptions wide = fixed_options();
    wide.repeat_contact_window = std::chrono::milliseconds(7 * day_ms - hour_ms);
    CHECK(customer_view(f.db, c.id, wide)["stats"]["repeat_contact"] == true);
    wide.repeat_contact_window = std::chrono::milliseconds(7 * day_ms - hour_ms - 1);
    CHECK(customer_view(f.db, c.id, wide)["stats"]["repeat_contact"] == false);
  }
}

TEST_CASE("Preferred channel ties go to the most recent channel", "[timeline_read][view]") {
  ReadFixture f;
  const auto c = f.customer("Tie");
  f.interaction(c, "phone", "inbound", fixed_now - 10 * day_ms);
  f.interaction(c, "email", "inbound", fixed_now - 9 * day_ms);
  CHECK(customer_view(f.db, c.id, fixed_options())["stats"]["preferred_channel"] == "email");

  // A third phone contact, older than 90 days, does not count.
  f.interaction(c, "phone", "inbound", fixed_now - 91 * day_ms);
  CHECK(customer_view(f.db, c.id, fixed_options())["stats"]["preferred_channel"] == "email");

  // A second phone contact inside 90 days wins on count, though older than the email.
  f.interaction(c, "phone", "inbound", fixed_now - 80 * day_ms);
  CHECK(customer_view(f.db, c.id, fixed_options())["stats"]["preferred_channel"] == "phone");
}

TEST_CASE("A customer without contacts has empty stats", "[timeline_read][view]") {
  ReadFixture f;
  const auto c = f.customer(std::nullopt);
  f.interaction(c, "phone", "inbound", fixed_now - 200 * day_ms);
  const json view = customer_view(f.db, c.id, fixed_options());
  CHECK(view["customer"]["display_name"].is_null());
  CHECK(view["stats"]["preferred_channel"].is_null());
  CHECK(view["stats"]["contacts_7d"] == 0);
  CHECK(view["stats"]["repeat_contact"] == false);

  const auto empty = f.customer("Nobody");
  const json none = customer_view(f.db, empty.id, fixed_options());
  CHECK(none["stats"]["first_seen"].is_null());
  CHECK(none["stats"]["last_contact"].is_null());
  CHECK(none["recent_interactions"] == json::array());
}

TEST_CASE("Repeat contact compares the starts of the last two inbound contacts", "[timeline_read][view]") {
  ReadFixture f;
  const auto c = f.customer("Repeat");
  const auto conv = f.conversation(c, "chat", fixed_now - 72 * hour_ms, std::nullopt);
  // A long chat: its later messages do not make it a second contact.
  f.interaction(c, "chat", "inbound", fixed_now - 72 * hour_ms, conv.row);
  f.interaction(c, "chat", "inbound", fixed_now - 2 * hour_ms, conv.row);
  CHECK(customer_view(f.db, c.id, fixed_options())["stats"]["repeat_contact"] == false);

  // An outbound call back is not an inbound contact.
  f.interaction(c, "phone", "outbound", fixed_now - hour_ms);
  CHECK(customer_view(f.db, c.id, fixed_options())["stats"]["repeat_contact"] == false);

  // An inbound SMS exactly 72 h after the chat started: within the window (inclusive).
  f.interaction(c, "sms", "inbound", fixed_now);
  CHECK(customer_view(f.db, c.id, fixed_options())["stats"]["repeat_contact"] == true);

  ViewOptions narrow = fixed_options();
  narrow.repeat_contact_window = std::chrono::hours(71);
  CHECK(customer_view(f.db, c.id, narrow)["stats"]["repeat_contact"] == false);
}

TEST_CASE("Recent interactions are the newest N across channels", "[timeline_read][view]") {
  ReadFixture f;
  const auto c = f.customer("Recent");
  const auto other = f.customer("Other");
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    ids.push_back(f.interaction(c, i % 2 ? "email" : "sms", "inbound", fixed_now - (30 - i) * minute_ms));
  }
  const auto tie_a = f.interaction(c, "chat", "inbound", fixed_now);
  const auto tie_b = f.interaction(c, "phone", "inbound", fixed_now);
  f.interaction(other, "phone", "inbound", fixed_now + 1);

  ViewOptions options = fixed_options();
  options.recent_interactions = 5;
  const json recent = customer_view(f.db, c.id, options)["recent_interactions"];
  REQUIRE(recent.size() == 5);
  CHECK(recent[0]["id"] == tie_b);  // same time: the later row first
  CHECK(recent[1]["id"] == tie_a);
  CHECK(recent[2]["id"] == ids[29]);
  CHECK(recent[4]["id"] == ids[27]);

  options.recent_interactions = 0;
  CHECK(customer_view(f.db, c.id, options)["recent_interactions"].empty());
  options.recent_interactions = 20;
  CHECK(customer_view(f.db, c.id, options)["recent_interactions"].size() == 20);
}

TEST_CASE("A merged id resolves to its survivor and yields the identical customer part", "[timeline_read][view][merge]") {
  ReadFixture f;
  const auto survivor = f.customer("Survivor", fixed_now - 50 * day_ms);
  const auto middle = f.customer("Middle", fixed_now - 40 * day_ms);
  const auto last = f.customer("Last", fixed_now - 30 * day_ms);
  f.merge(middle, survivor);
  f.merge(last, middle);  // a chain: last -> middle -> survivor
  f.identity(survivor, "phone", "+442079460123", "020 7946 0123", fixed_now - 50 * day_ms);
  f.interaction(survivor, "phone", "inbound", fixed_now - hour_ms);

  const ResolvedId direct = resolve_customer_id(f.db, survivor.id);
  CHECK(direct.customer_id == survivor.id);
  CHECK_FALSE(direct.merged);
  const ResolvedId chained = resolve_customer_id(f.db, last.id);
  CHECK(chained.requested == last.id);
  CHECK(chained.customer_id == survivor.id);
  CHECK(chained.merged);

  const json by_survivor = customer_view(f.db, survivor.id, fixed_options());
  const json by_old = customer_view(f.db, last.id, fixed_options());
  CHECK(by_old["requested_id"] == last.id);
  CHECK(by_old["merged"] == true);
  CHECK(by_survivor["merged"] == false);
  CHECK(by_old["customer"]["merged_from"] == json{middle.id, last.id});
  CHECK(by_old["customer"].dump() == by_survivor["customer"].dump());
  // Everything but the two request fields is the same document, byte for byte.
  json a = by_survivor, b = by_old;
  for (json* view : {&a, &b}) {
    view->erase("requested_id");
    view->erase("merged");
  }
  CHECK(a.dump() == b.dump());
  // And a second build of the same view is byte-identical (deterministic ordering).
  CHECK(customer_view(f.db, last.id, fixed_options()).dump() == by_old.dump());
}

TEST_CASE("Unknown, erased and cyclic customers are rejected", "[timeline_read][view][merge]") {
  ReadFixture f;
  const auto erased = f.customer("Gone");
  f.db.exec("UPDATE customers SET erased_at = 5 WHERE id = " + std::to_string(erased.row));
  const auto via_erased = f.customer("Via");
  f.merge(via_erased, erased);
  const ViewOptions options = fixed_options();
  CHECK(error_code_of([&] { customer_view(f.db, "c_0000000000000000", options); }) ==
        store::StatusCode::not_found);
  CHECK(error_code_of([&] { customer_view(f.db, "", options); }) == store::StatusCode::not_found);
  CHECK(error_code_of([&] { customer_view(f.db, "' OR 1=1 --", options); }) ==
        store::StatusCode::not_found);
  CHECK(error_code_of([&] { customer_view(f.db, erased.id, options); }) ==
        store::StatusCode::not_found);
  CHECK(error_code_of([&] { resolve_customer_id(f.db, via_erased.id); }) ==
        store::StatusCode::not_found);

  const auto a = f.customer("A");
  const auto b = f.customer("B");
  f.merge(a, b);
  f.merge(b, a);
  CHECK(error_code_of([&] { resolve_customer_id(f.db, a.id); }) == store::StatusCode::internal);
}

TEST_CASE("Pending suggestions name the other customer's survivor", "[timeline_read][view]") {
  ReadFixture f;
  const auto me = f.customer("Me");
  const auto other = f.customer("Other");
  const auto merged_other = f.customer("Merged other");
  const auto third = f.customer("Third");
  f.merge(merged_other, third);
  const auto pending = f.suggestion(me, other, "pending", fixed_now - 3 * day_ms);
  f.suggestion(third, me, "rejected", fixed_now - 2 * day_ms);
  const auto via_merged = f.suggestion(merged_other, me, "pending", fixed_now - day_ms, "email_plus");

  const json suggestions = customer_view(f.db, me.id, fixed_options())["suggestions"];
  REQUIRE(suggestions.size() == 2);
  CHECK(suggestions[0] == json{{"id", pending},
                               {"other_customer_id", other.id},
                               {"reason", "phone_nsn"},
                               {"evidence", {"+442079460123"}},
                               {"created_at", format_time(fixed_now - 3 * day_ms)}});
  CHECK(suggestions[1]["id"] == via_merged);
  CHECK(suggestions[1]["other_customer_id"] == third.id);

  // Once `other` is merged into me, the suggestion about it no longer shows.
  f.merge(other, me);
  const json after = customer_view(f.db, me.id, fixed_options())["suggestions"];
  REQUIRE(after.size() == 1);
  CHECK(after[0]["id"] == via_merged);
}

TEST_CASE("The CRM link URL-encodes its values", "[timeline_read][view][crm]") {
  ReadFixture f;
  const auto c = f.customer("Crm");
  f.identity(c, "email", "j.smith@acme.com", "J.Smith+promo@Acme.com", fixed_now - 9 * day_ms);
  f.identity(c, "email", "later@acme.com", "later@acme.com", fixed_now - 1 * day_ms);
  f.identity(c, "phone", "+442079460123;ext=12", "020 7946 0123 x12", fixed_now - 9 * day_ms);

  ViewOptions options = fixed_options();
  options.crm_url_template =
      "https://crm.example/c?id={customer_id}&tel={phone}&mail={email}&x={unknown}&{email";
  const json links = customer_view(f.db, c.id, options)["links"];
  CHECK(links == json{{"crm", "https://crm.example/c?id=" + c.id +
                                  "&tel=%2B442079460123%3Bext%3D12"
                                  "&mail=J.Smith%2Bpromo%40Acme.com&x={unknown}&{email"}});

  CHECK(url_encode("a b/ü&=?#%") == "a%20b%2F%C3%BC%26%3D%3F%23%25");
  CHECK(url_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(expand_crm_url("{phone}{email}", "c_1", "", "x y") == "x%20y");
}

TEST_CASE("A suggestion about an identifier only has no other customer", "[timeline_read][view]") {
  ReadFixture f;
  const auto me = f.customer("Me");
  const bool nullable = f.count("SELECT \"notnull\" FROM pragma_table_info('suggestions') "
                                "WHERE name = 'customer_b'") == 0;
  if (!nullable) {
    WARN("schema v1: suggestions.customer_b is NOT NULL, nothing to check");
    return;
  }
  f.db.exec("INSERT INTO suggestions(customer_a, customer_b, reason, evidence, created_at) "
            "VALUES (" + std::to_string(me.row) + ", NULL, 'phone_limit', '[\"+15550001\"]', 9)");
  const json suggestions = customer_view(f.db, me.id, fixed_options())["suggestions"];
  REQUIRE(suggestions.size() == 1);
  CHECK(suggestions[0]["other_customer_id"].is_null());
  CHECK(suggestions[0]["reason"] == "phone_limit");
  const json listed = list_suggestions(f.db, "pending", 10, "");
  REQUIRE(listed["items"].size() == 1);
  CHECK(listed["items"][0]["customer_a"] == me.id);
  CHECK(listed["items"][0]["customer_b"].is_null());
}

TEST_CASE("Agents' notes are not contacts in the stats", "[timeline_read][view]") {
  ReadFixture f;
  const auto c = f.customer("Noted");
  const auto p = f.conversation(c, "phone", fixed_now - 2 * day_ms, fixed_now - 2 * day_ms + 1);
  f.interaction(c, "phone", "inbound", fixed_now - 2 * day_ms, p.row);
  // Two notes after the call: without the rule they would win "preferred_channel", raise the
  // 7-day count and make the call look like a repeat contact.
  f.interaction(c, "note", "inbound", fixed_now - day_ms);
  f.interaction(c, "note", "inbound", fixed_now - hour_ms);
  auto options = fixed_options();
  options.repeat_contact_window = std::chrono::hours(72);
  const auto view = customer_view(f.db, c.id, options);
  const auto& stats = view["stats"];
  CHECK(stats["contacts_7d"] == 1);
  CHECK(stats["preferred_channel"] == "phone");
  CHECK(stats["repeat_contact"] == false);
  CHECK_FALSE(stats["contacts_by_channel"].contains("note"));
  CHECK(stats["last_contact"] == format_time(fixed_now - 2 * day_ms));
  // The notes are still on the timeline.
  int notes = 0;
  for (const auto& i : view["recent_interactions"]) notes += i["channel"] == "note";
  CHECK(notes == 2);
}
