// Customer operations: merge / unmerge round trips, identifiers, attributes, suggestions and
// GDPR erasure, on a real SQLite store.
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/store/status.hpp"
#include "daemon/timeline/customer_ops.hpp"
#include "daemon/timeline/resolver.hpp"
#include "timeline_test_support.hpp"

using namespace omnitrail;
using namespace omnitrail::timeline;
using namespace omnitrail::timeline::testing;
using identity::Trust;
using nlohmann::json;
using store::StatusCode;

namespace {

const Actor agent{"agent-7", "agent"};
const Actor admin{"admin", "admin"};

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("Merge then unmerge leaves both customers exactly as before with the same ids",
          "[timeline][customer_ops][scenario]") {
  Fixture f;
  Interaction a1 = f.call("02079460123");
  a1.conversation_key = "call-a";
  a1.customer_display_name = "Alice Caller";
  const auto a = f.ingest(a1);
  f.ingest(f.inbound("sms", "sms.received", {phone("02079460123")}));
  Interaction b1 = f.inbound("email", "email.received", {email("Bob <bob@example.com>")});
  b1.conversation_key = "thread-b";
  const auto b = f.ingest(b1);
  f.write([&](store::WriteContext& w) {
    set_attributes(w, a.customer_id, json{{"tier", "gold"}, {"consent", "granted"}}, std::nullopt, agent, 50);
    set_attributes(w, b.customer_id, json{{"city", "Leeds"}, {"consent", "do_not_contact"}},
                   std::string("Robert (CRM)"), admin, 60);
  });
  const auto customers = f.dump("customers");
  const auto identities = f.dump("identities");
  const auto interactions = f.dump("interactions");
  const auto conversations = f.dump("conversations");

  const auto merge_id =
      f.write([&](store::WriteContext& w) { return merge_customers(w, a.customer_id, b.customer_id, agent, 1000); });
  // While merged: everything of b is on a; survivorship applied; b's row kept.
  const auto a_row = f.customer_row(a.customer_id);
  const auto b_row = f.customer_row(b.customer_id);
  CHECK(f.scalar("SELECT merged_into FROM customers WHERE id = " + std::to_string(b_row)) == a_row);
  CHECK(f.scalar("SELECT count(*) FROM identities WHERE customer_id = " + std::to_string(a_row)) == 2);
  CHECK(f.scalar("SELECT count(*) FROM interactions WHERE customer_id = " + std::to_string(a_row)) == 3);
  CHECK(f.scalar("SELECT count(*) FROM conversations WHERE customer_id = " + std::to_string(a_row)) == 2);
  CHECK(f.text("SELECT display_name FROM customers WHERE id = " + std::to_string(a_row)) == "Robert (CRM)");
  const auto attributes = json::parse(f.text("SELECT attributes FROM customers WHERE id = " + std::to_string(a_row)));
  CHECK(attributes["consent"] == "do_not_contact");  // the most restrictive
  CHECK(attributes["tier"] == "gold");
  CHECK(attributes["city"] == "Leeds");
  CHECK(f.scalar("SELECT count(*) FROM audit WHERE action = 'customer.merged'") == 1);

  f.write([&](store::WriteContext& w) { unmerge(w, merge_id, agent, 2000); });
  CHECK(f.dump("customers") == customers);
  CHECK(f.dump("identities") == identities);
  CHECK(f.dump("interactions") == interactions);
  CHECK(f.dump("conversations") == conversations);
  CHECK(f.scalar("SELECT reverted_at FROM merges") == 2000);
  CHECK(f.scalar("SELECT count(*) FROM do_not_merge") == 1);
  CHECK(f.scalar("SELECT count(*) FROM audit WHERE action = 'customer.unmerged'") == 1);
}

TEST_CASE("Unmerge refuses unknown, reverted and depended-on merges", "[timeline][customer_ops]") {
  Fixture f;
  const auto a = f.ingest(f.call("02079460123"));
  const auto b = f.ingest(f.call("07911123456"));
  const auto c = f.ingest(f.call("07911123457"));
  CHECK(f.write_status([&](store::WriteContext& w) { unmerge(w, 99, agent, 1); }).code() == StatusCode::not_found);
  const auto first = f.write([&](store::WriteContext& w) { return merge_customers(w, b.customer_id, c.customer_id, agent, 10); });
  const auto second = f.write([&](store::WriteContext& w) { return merge_customers(w, a.customer_id, b.customer_id, agent, 20); });
  const auto blocked = f.write_status([&](store::WriteContext& w) { unmerge(w, first, agent, 30); });
  CHECK(blocked.code() == StatusCode::constraint);
  CHECK(blocked.message().find("merge " + std::to_string(second)) != std::string::npos);
  f.write([&](store::WriteContext& w) { unmerge(w, second, agent, 40); });
  f.write([&](store::WriteContext& w) { unmerge(w, first, agent, 50); });
  const auto again = f.write_status([&](store::WriteContext& w) { unmerge(w, first, agent, 60); });
  CHECK(again.code() == StatusCode::constraint);
  CHECK(again.message().find("already reverted") != std::string::npos);
  CHECK(f.scalar("SELECT count(*) FROM customers WHERE merged_into IS NOT NULL") == 0);
  CHECK(f.scalar("SELECT count(DISTINCT customer_id) FROM identities") == 3);
}

TEST_CASE("Merging a customer into itself or through its survivor is refused", "[timeline][customer_ops]") {
  Fixture f;
  const auto a = f.ingest(f.call("02079460123"));
  const auto b = f.ingest(f.call("07911123456"));
  const auto c = f.ingest(f.call("07911123457"));
  CHECK(f.write_status([&](store::WriteContext& w) { merge_customers(w, a.customer_id, a.customer_id, agent, 1); })
            .code() == StatusCode::invalid_argument);
  f.write([&](store::WriteContext& w) { return merge_customers(w, a.customer_id, b.customer_id, agent, 2); });
  CHECK(f.write_status([&](store::WriteContext& w) { merge_customers(w, b.customer_id, a.customer_id, agent, 3); })
            .code() == StatusCode::invalid_argument);
  // An already merged id stands for its survivor.
  f.write([&](store::WriteContext& w) { return merge_customers(w, b.customer_id, c.customer_id, agent, 4); });
  CHECK(f.scalar("SELECT survivor_id FROM merges ORDER BY id DESC LIMIT 1") == f.customer_row(a.customer_id));
  CHECK(f.write_status([&](store::WriteContext& w) { merge_customers(w, a.customer_id, "c_nope", agent, 5); })
            .code() == StatusCode::not_found);
}

TEST_CASE("Two different tier-A values refuse a manual merge", "[timeline][customer_ops]") {
  Fixture f;
  const auto x = f.ingest(f.inbound("api", "crm.sync", {external("crm-1")}));
  const auto y = f.ingest(f.inbound("api", "crm.sync", {external("crm-2")}));
  const auto status =
      f.write_status([&](store::WriteContext& w) { merge_customers(w, x.customer_id, y.customer_id, agent, 1); });
  CHECK(status.code() == StatusCode::constraint);
  CHECK(status.message().find("external") != std::string::npos);
  CHECK(status.message().find("crm-1") == std::string::npos);  // no identifier values in messages
  CHECK(f.scalar("SELECT count(*) FROM merges") == 0);
  CHECK(f.scalar("SELECT count(*) FROM audit") == 0);
}

TEST_CASE("Erasing a customer removes every trace, and the number then starts a new customer",
          "[timeline][customer_ops][scenario]") {
  Fixture f;
  Interaction first = f.call("02079460123");
  first.text = "order number SECRET-ORDER-4711";
  first.conversation_key = "call-secret";
  first.customer_display_name = "Erin Erased";
  const auto erin = f.ingest(first);
  const auto other = f.ingest(f.inbound("email", "email.received", {email("erin.work@example.com")}));
  // A merged part and a suggestion pointing at an unrelated customer.
  f.write([&](store::WriteContext& w) { return merge_customers(w, erin.customer_id, other.customer_id, agent, 5); });
  const auto unrelated = f.ingest(f.inbound("chat", "chat.started", {chat_user("u-3")}));
  f.ingest(f.inbound("chat", "chat.message", {chat_user("u-3"), phone("02079460123")}));
  REQUIRE(f.scalar("SELECT count(*) FROM suggestions") == 1);
  REQUIRE(f.scalar("SELECT count(*) FROM identity_links") == 1);

  const auto report = f.write([&](store::WriteContext& w) { return erase_customer(w, other.customer_id, admin, 77); });
  CHECK(report.customer_id == erin.customer_id);  // the merged id erased its survivor's group
  CHECK(report.customers == 2);
  CHECK(report.identities == 2);
  CHECK(report.interactions == 2);
  CHECK(report.suggestions == 1);
  CHECK(f.scalar("SELECT count(*) FROM customers") == 1);  // only the unrelated chatter
  CHECK(f.scalar("SELECT count(*) FROM identities") == 1);
  CHECK(f.scalar("SELECT count(*) FROM identity_links") == 0);
  CHECK(f.scalar("SELECT count(*) FROM merges") == 0);
  CHECK(f.scalar("SELECT count(*) FROM suggestions") == 0);
  CHECK(f.scalar("SELECT count(*) FROM conversations") == 0);
  CHECK(f.text("SELECT action FROM audit ORDER BY id DESC LIMIT 1") == "customer.erased");
  const std::string audit = f.text("SELECT detail FROM audit ORDER BY id DESC LIMIT 1");
  CHECK(audit.find(erin.customer_id) != std::string::npos);
  CHECK(audit.find("7946") == std::string::npos);
  CHECK(f.write_status([&](store::WriteContext& w) { erase_customer(w, erin.customer_id, admin, 78); }).code() ==
        StatusCode::not_found);

  const auto fresh = f.ingest(f.call("02079460123"));
  CHECK(fresh.customer_created);
  CHECK(fresh.customer_id != erin.customer_id);
  CHECK(fresh.suggestion_ids.empty());
  CHECK(f.scalar("SELECT count(*) FROM interactions WHERE customer_id = " +
                 std::to_string(f.customer_row(fresh.customer_id))) == 1);
  CHECK(unrelated.customer_id != fresh.customer_id);

  // Erase the new one too, then compact: no byte of the number, the name or the text is left.
  f.write([&](store::WriteContext& w) { return erase_customer(w, fresh.customer_id, admin, 79); });
  f.reader().exec("VACUUM");
  f.reader().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  std::string bytes = file_bytes(f.dir().file("omnitrail.db"));
  bytes += file_bytes(f.dir().file("omnitrail.db-wal"));
  CHECK(bytes.find("02079460123") == std::string::npos);
  CHECK(bytes.find("+442079460123") == std::string::npos);
  CHECK(bytes.find("2079460123") == std::string::npos);
  CHECK(bytes.find("SECRET-ORDER-4711") == std::string::npos);
  CHECK(bytes.find("Erin Erased") == std::string::npos);
  CHECK(bytes.find("erin.work@example.com") == std::string::npos);
}

TEST_CASE("Erasure scrubs the erased identifiers from other customers' journal evidence",
          "[timeline][customer_ops]") {
  Fixture f;
  const auto keep = f.ingest(f.inbound("chat", "chat.started", {chat_user("u-1")}));
  const auto third = f.ingest(f.inbound("chat", "chat.started", {chat_user("u-2")}));
  const auto gone = f.ingest(f.call("02079460123"));
  // A suggestion and a do-not-merge pair between two other customers whose evidence names the
  // number (it was claimed in their contacts before it was erased).
  const identity::IdentityKey number{identity::IdentifierKind::phone, "+442079460123"};
  const identity::IdentityKey login{identity::IdentifierKind::chat_user, "u-1"};
  f.write([&](store::WriteContext& w) {
    const auto k = f.customer_row(keep.customer_id);
    const auto t = f.customer_row(third.customer_id);
    record_suggestion(w.db(), k, t, "phone_match", {number}, 5);
    record_do_not_merge(w.db(), k, t, {number, login}, 5);
  });
  f.write([&](store::WriteContext& w) { return erase_customer(w, gone.customer_id, admin, 9); });
  CHECK(f.scalar("SELECT count(*) FROM suggestions") == 1);
  CHECK(f.text("SELECT evidence FROM suggestions") == "[]");
  CHECK(f.text("SELECT evidence FROM do_not_merge") == R"([{"key":"u-1","kind":"chat_user"}])");
}

TEST_CASE("Adding an identifier owned by another customer reports a conflict and records a suggestion",
          "[timeline][customer_ops]") {
  Fixture f;
  const auto owner = f.ingest(f.call("02079460123"));
  const auto other = f.ingest(f.inbound("email", "email.received", {email("o@example.com")}));
  const auto added = f.write([&](store::WriteContext& w) {
    return add_identifier(w, f.settings, other.customer_id, phone("+44 20 7946 0123"), admin, 10);
  });
  REQUIRE(added.conflict);
  CHECK(added.conflict->code() == StatusCode::constraint);
  CHECK(added.conflict->message().find("already belongs to customer " + owner.customer_id) != std::string::npos);
  REQUIRE(added.suggestion_id);
  CHECK(f.scalar("SELECT count(*) FROM suggestions WHERE status = 'pending'") == 1);
  CHECK(f.scalar("SELECT count(*) FROM identities WHERE kind = 'phone'") == 1);
}

TEST_CASE("Adding identifiers: new, repeated, blocked, internal and over the limit", "[timeline][customer_ops]") {
  Fixture f;
  f.settings.limits.max_phones = 1;
  const auto c = f.ingest(f.inbound("email", "email.received", {email("c@example.com")}));
  const auto added = f.write([&](store::WriteContext& w) {
    return add_identifier(w, f.settings, c.customer_id, phone("07911123456", Trust::verified), admin, 10);
  });
  CHECK(added.created);
  CHECK_FALSE(added.conflict);
  CHECK(added.key == "+447911123456");
  CHECK(f.text("SELECT trust FROM identities WHERE id = " + std::to_string(added.identity_id)) == "verified");
  const auto again = f.write([&](store::WriteContext& w) {
    return add_identifier(w, f.settings, c.customer_id, phone("+447911123456"), admin, 11);
  });
  CHECK_FALSE(again.created);
  CHECK(again.identity_id == added.identity_id);
  CHECK(f.text("SELECT trust FROM identities WHERE id = " + std::to_string(added.identity_id)) == "verified");

  const auto blocked = f.write_status([&](store::WriteContext& w) {
    add_identifier(w, f.settings, c.customer_id, phone("anonymous"), admin, 12);
  });
  CHECK(blocked.code() == StatusCode::invalid_argument);
  CHECK(blocked.message().find("blocked") != std::string::npos);
  CHECK(f.write_status([&](store::WriteContext& w) {
          add_identifier(w, f.settings, c.customer_id, phone("6001"), admin, 13);
        }).code() == StatusCode::invalid_argument);
  const auto limit = f.write_status([&](store::WriteContext& w) {
    add_identifier(w, f.settings, c.customer_id, phone("07911123457"), admin, 14);
  });
  CHECK(limit.code() == StatusCode::constraint);
  CHECK(limit.message().find("limit") != std::string::npos);
  CHECK(f.write_status([&](store::WriteContext& w) {
          add_identifier(w, f.settings, "c_missing", phone("07911123457"), admin, 15);
        }).code() == StatusCode::not_found);
  CHECK(f.scalar("SELECT count(*) FROM audit WHERE action = 'identifier.added'") == 1);
}

TEST_CASE("Removing an identifier keeps history, and the recycled number starts a new customer",
          "[timeline][customer_ops]") {
  Fixture f;
  const auto old_owner = f.ingest(f.call("02079460123"));
  const auto identity_id = f.scalar("SELECT id FROM identities");
  CHECK(f.write_status([&](store::WriteContext& w) { remove_identifier(w, old_owner.customer_id, 999, agent, 1); })
            .code() == StatusCode::not_found);
  f.write([&](store::WriteContext& w) { remove_identifier(w, old_owner.customer_id, identity_id, agent, 2); });
  CHECK(f.scalar("SELECT count(*) FROM identities") == 0);
  CHECK(f.scalar("SELECT count(*) FROM interactions WHERE customer_id = " +
                 std::to_string(f.customer_row(old_owner.customer_id))) == 1);
  const auto next = f.ingest(f.call("02079460123"));
  CHECK(next.customer_created);
  CHECK(next.customer_id != old_owner.customer_id);
  CHECK(f.scalar("SELECT count(*) FROM audit WHERE action = 'identifier.removed'") == 1);
}

TEST_CASE("Attributes follow JSON merge-patch and their limits", "[timeline][customer_ops]") {
  Fixture f;
  const auto c = f.ingest(f.call("02079460123"));
  auto result = f.write([&](store::WriteContext& w) {
    return set_attributes(w, c.customer_id, json{{"a", 1}, {"b", {{"x", 1}, {"y", 2}}}}, std::string("Carol"), agent, 5);
  });
  result = f.write([&](store::WriteContext& w) {
    return set_attributes(w, c.customer_id, json{{"a", nullptr}, {"b", {{"y", nullptr}}}, {"c", "new"}}, std::nullopt,
                          agent, 6);
  });
  CHECK(result["attributes"] == json{{"b", {{"x", 1}}}, {"c", "new"}});
  CHECK(result["display_name"] == "Carol");
  CHECK(f.text("SELECT display_name_source FROM customers") == "agent");
  CHECK(json::parse(f.text("SELECT attributes FROM customers")) == result["attributes"]);

  json many = json::object();
  for (int i = 0; i < 101; ++i) many["k" + std::to_string(i)] = i;
  CHECK(f.write_status([&](store::WriteContext& w) { set_attributes(w, c.customer_id, many, std::nullopt, agent, 7); })
            .code() == StatusCode::invalid_argument);
  const json big{{"big", std::string(5000, 'x')}};
  CHECK(f.write_status([&](store::WriteContext& w) { set_attributes(w, c.customer_id, big, std::nullopt, agent, 8); })
            .code() == StatusCode::invalid_argument);
  json total = json::object();
  for (int i = 0; i < 20; ++i) total["k" + std::to_string(i)] = std::string(4000, 'y');
  const auto too_big =
      f.write_status([&](store::WriteContext& w) { set_attributes(w, c.customer_id, total, std::nullopt, agent, 9); });
  CHECK(too_big.code() == StatusCode::invalid_argument);
  CHECK(too_big.message().find("65536") != std::string::npos);
  CHECK(f.write_status([&](store::WriteContext& w) { set_attributes(w, c.customer_id, json::array(), std::nullopt, agent, 9); })
            .code() == StatusCode::invalid_argument);
  CHECK(json::parse(f.text("SELECT attributes FROM customers")) == result["attributes"]);  // refusals changed nothing
  CHECK(f.scalar("SELECT count(*) FROM audit WHERE action = 'customer.attributes_set'") == 2);
}

TEST_CASE("Accepting a suggestion merges into the oldest, rejecting records a do-not-merge pair",
          "[timeline][customer_ops]") {
  Fixture f;
  const auto caller = f.ingest(f.call("07911123456"));
  const auto chatter = f.ingest(f.inbound("chat", "chat.started", {chat_user("u-42")}));
  const auto form = f.ingest(f.inbound("chat", "chat.message", {chat_user("u-42"), phone("07911123456")}));
  REQUIRE(form.suggestion_ids.size() == 1);
  const auto id = form.suggestion_ids.front();

  SECTION("accept") {
    const auto merge_id = f.write([&](store::WriteContext& w) { return decide_suggestion(w, id, true, agent, 10); });
    REQUIRE(merge_id);
    CHECK(f.scalar("SELECT survivor_id FROM merges") == f.customer_row(caller.customer_id));
    CHECK(f.scalar("SELECT merged_id FROM merges") == f.customer_row(chatter.customer_id));
    CHECK(f.text("SELECT rule FROM merges") == "suggestion_accepted");
    CHECK(f.text("SELECT status FROM suggestions") == "accepted");
    CHECK(f.text("SELECT decided_by FROM suggestions") == "agent-7");
  }
  SECTION("reject") {
    CHECK_FALSE(f.write([&](store::WriteContext& w) { return decide_suggestion(w, id, false, agent, 10); }));
    CHECK(f.text("SELECT status FROM suggestions") == "rejected");
    CHECK(f.scalar("SELECT count(*) FROM do_not_merge") == 1);
    CHECK(f.scalar("SELECT count(*) FROM merges") == 0);
    // The same claim no longer suggests the pair.
    const auto again = f.ingest(f.inbound("chat", "chat.message", {chat_user("u-42"), phone("07911123456")}));
    CHECK(again.suggestion_ids.empty());
  }
  const auto twice = f.write_status([&](store::WriteContext& w) { decide_suggestion(w, id, true, agent, 11); });
  CHECK(twice.code() == StatusCode::constraint);
  CHECK(twice.message().find("already") != std::string::npos);
  CHECK(f.write_status([&](store::WriteContext& w) { decide_suggestion(w, 4242, true, agent, 11); }).code() ==
        StatusCode::not_found);
}

TEST_CASE("Accepting an identifier suggestion attaches the identifier", "[timeline][customer_ops]") {
  Fixture f;
  f.settings.limits.max_emails = 1;
  f.ingest(f.inbound("chat", "chat.started", {chat_user("u-1"), email("a@example.com", Trust::verified)}));
  const auto over =
      f.ingest(f.inbound("chat", "chat.started", {chat_user("u-1"), email("b@example.com", Trust::verified)}));
  REQUIRE(over.suggestion_ids.size() == 1);
  const auto merge = f.write(
      [&](store::WriteContext& w) { return decide_suggestion(w, over.suggestion_ids.front(), true, agent, 10); });
  CHECK_FALSE(merge);
  CHECK(f.scalar("SELECT count(*) FROM identities WHERE kind = 'email'") == 2);
  CHECK(f.scalar("SELECT customer_id FROM identities WHERE key = 'b@example.com'") ==
        f.customer_row(over.customer_id));
}
