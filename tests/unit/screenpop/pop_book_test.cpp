// The pop lifecycle as a specification (docs/agent-protocol.md): one pop per conversation,
// updated in place, answered elsewhere, ended, timed out, bounded, replayed on reconnect.
#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include "daemon/screenpop/pop_book.hpp"
#include "daemon/timeline/queries.hpp"

using namespace omnitrail;
using namespace omnitrail::screenpop;
using nlohmann::json;
using Names = std::vector<std::string>;

namespace {

constexpr std::int64_t t0 = 1795525200000;  // 2026-11-24T13:00:00.000Z

Trigger phone(std::string conversation, std::string kind, std::string agent = "") {
  Trigger t;
  t.channel = "phone";
  t.kind = std::move(kind);
  t.conversation_id = std::move(conversation);
  t.interaction_id = "i_" + t.kind;
  t.customer_id = "c_1";
  t.from = "+442079460123";
  t.to = "6001";
  t.at_ms = t0 - 50;
  t.agent = std::move(agent);
  return t;
}

json view(std::string customer = "c_1") {
  return json{{"customer", {{"id", customer}, {"display_name", "Alice Smith"}}},
              {"links", {{"crm", "https://crm.example.com/customers/" + customer}}}};
}

// Recipients of messages of `type`, in order.
Names to(const std::vector<Outgoing>& out, const std::string& type) {
  Names names;
  for (const auto& o : out) {
    if (o.message.at("type") == type) names.push_back(o.agent_id);
  }
  return names;
}

const json& pop_of(const std::vector<Outgoing>& out, const std::string& agent) {
  for (const auto& o : out) {
    if (o.agent_id == agent) return o.message.at("pop");
  }
  FAIL("no message for " << agent);
  static const json none;
  return none;
}

}  // namespace

TEST_CASE("classify() maps interaction kinds to their effect on pops", "[screenpop][pop_book]") {
  CHECK(classify("phone", "call.ringing") == TriggerKind::ring);
  CHECK(classify("chat", "chat.started") == TriggerKind::ring);
  CHECK(classify("chat", "chat.assigned") == TriggerKind::ring);
  CHECK(classify("email", "email.received") == TriggerKind::ring);
  CHECK(classify("sms", "sms.received") == TriggerKind::ring);
  CHECK(classify("phone", "call.answered") == TriggerKind::answer);
  CHECK(classify("phone", "call.ended") == TriggerKind::end);
  CHECK(classify("chat", "chat.ended") == TriggerKind::end);
  CHECK(classify("email", "conversation.ended") == TriggerKind::end);
  CHECK(classify("api", "conversation.ended") == TriggerKind::end);
  CHECK(classify("chat", "chat.message") == TriggerKind::update);
  CHECK(classify("email", "email.sent") == TriggerKind::update);
  CHECK(classify("sms", "sms.sent") == TriggerKind::update);
  CHECK(classify("phone", "call.hold") == TriggerKind::update);
  // A kind on the wrong channel does not ring.
  CHECK(classify("sms", "call.ringing") == TriggerKind::update);
  CHECK(classify("api", "call.ringing") == TriggerKind::none);
  CHECK(classify("note", "note") == TriggerKind::none);
  CHECK(classify("phone", "") == TriggerKind::none);
}

TEST_CASE("A new ringing conversation sends every target the documented pop", "[screenpop][pop_book]") {
  PopBook book;
  const auto out = book.on_trigger(phone("v_1", "call.ringing"), {"alice", "bob", "alice"}, view(), t0);
  CHECK(to(out, "pop.ringing") == Names{"alice", "bob"});
  CHECK(out.size() == 2);
  CHECK(book.size() == 1);
  CHECK(out[0].message == out[1].message);

  const json& pop = pop_of(out, "alice");
  std::set<std::string> keys;
  for (const auto& item : pop.items()) keys.insert(item.key());
  CHECK(keys == std::set<std::string>{"id", "state", "conversation_id", "created_at", "updated_at", "answered_by",
                                      "end_reason", "trigger", "customer_view", "links"});
  CHECK(std::regex_match(pop.at("id").get<std::string>(), std::regex("p_[0-9a-f]{16}")));
  CHECK(pop.at("state") == "ringing");
  CHECK(pop.at("conversation_id") == "v_1");
  CHECK(pop.at("created_at") == "2026-11-24T13:00:00.000Z");
  CHECK(pop.at("updated_at") == "2026-11-24T13:00:00.000Z");
  CHECK(pop.at("answered_by").is_null());
  CHECK(pop.at("end_reason").is_null());
  CHECK(pop.at("trigger") == json{{"channel", "phone"}, {"kind", "call.ringing"}, {"conversation_id", "v_1"},
                                  {"from", "+442079460123"}, {"to", "6001"}, {"at", "2026-11-24T12:59:59.950Z"},
                                  {"interaction_id", "i_call.ringing"}});
  CHECK(pop.at("customer_view") == view());
  CHECK(pop.at("links") == json{{"crm", "https://crm.example.com/customers/c_1"}});
}

TEST_CASE("A pop without customer links has empty links", "[screenpop][pop_book]") {
  PopBook book;
  const auto out = book.on_trigger(phone("v_1", "call.ringing"), {"alice"}, json{{"customer", nullptr}}, t0);
  REQUIRE(out.size() == 1);
  CHECK(out[0].message.at("pop").at("links") == json::object());
  CHECK(out[0].message.at("pop").at("customer_view") == json{{"customer", nullptr}});
}

TEST_CASE("Only a ringing kind with targets starts a pop", "[screenpop][pop_book]") {
  PopBook book;
  CHECK(book.on_trigger(phone("v_1", "call.ringing"), {}, view(), t0).empty());
  CHECK(book.on_trigger(phone("v_1", "call.hold"), {"alice"}, view(), t0).empty());
  CHECK(book.on_trigger(phone("v_1", "call.answered", "alice"), {"alice"}, view(), t0).empty());
  CHECK(book.on_ended(phone("v_1", "call.ended"), t0).empty());
  auto keyless = phone("", "call.ringing");
  keyless.interaction_id.clear();
  CHECK(book.on_trigger(keyless, {"alice"}, view(), t0).empty());
  CHECK(book.size() == 0);
}

TEST_CASE("Without a conversation the pop is keyed by the interaction", "[screenpop][pop_book]") {
  PopBook book;
  auto t = phone("", "call.ringing");
  const auto out = book.on_trigger(t, {"alice"}, view(), t0);
  REQUIRE(out.size() == 1);
  CHECK(out[0].message.at("pop").at("conversation_id").is_null());
  CHECK(out[0].message.at("pop").at("trigger").at("conversation_id").is_null());
  const auto again = book.on_trigger(t, {"alice"}, view(), t0 + 1);
  CHECK(to(again, "pop.updated") == Names{"alice"});
  CHECK(book.size() == 1);
}

TEST_CASE("A second trigger of the conversation updates the pop in place", "[screenpop][pop_book]") {
  PopBook book;
  const auto first = book.on_trigger(phone("v_1", "call.ringing"), {"alice", "bob"}, view(), t0);
  const auto id = pop_of(first, "alice").at("id");

  auto second = phone("v_1", "call.ringing");
  second.to = "6003";
  second.interaction_id = "i_2";
  const auto out = book.on_trigger(second, {"bob", "carol", "alice"}, view("c_1b"), t0 + 500);
  CHECK(to(out, "pop.updated") == Names{"alice", "bob"});
  CHECK(to(out, "pop.ringing") == Names{"carol"});
  CHECK(book.size() == 1);
  for (const auto& o : out) {
    const auto& pop = o.message.at("pop");
    CHECK(pop.at("id") == id);
    CHECK(pop.at("created_at") == "2026-11-24T13:00:00.000Z");
    CHECK(pop.at("updated_at") == "2026-11-24T13:00:00.500Z");
    CHECK(pop.at("trigger").at("interaction_id") == "i_2");
    CHECK(pop.at("trigger").at("to") == "6003");
    CHECK(pop.at("customer_view").at("customer").at("id") == "c_1b");
  }

  // A null view keeps the previous one; an update kind adds nobody.
  const auto update = book.on_trigger(phone("v_1", "call.hold"), {"dave"}, nullptr, t0 + 600);
  CHECK(to(update, "pop.updated") == Names{"alice", "bob", "carol"});
  CHECK(to(update, "pop.ringing").empty());
  CHECK(pop_of(update, "alice").at("customer_view").at("customer").at("id") == "c_1b");
  CHECK(book.pops_for("dave").empty());
}

TEST_CASE("Answering ends the pop elsewhere and keeps it for the answering agent", "[screenpop][pop_book]") {
  PopBook book;
  const auto first = book.on_trigger(phone("v_1", "call.ringing"), {"alice", "bob", "carol"}, view(), t0);
  const auto id = pop_of(first, "alice").at("id");

  const auto out = book.on_answered(phone("v_1", "call.answered", "bob"), view(), t0 + 2000);
  CHECK(to(out, "pop.updated") == Names{"bob"});
  CHECK(to(out, "pop.ended") == Names{"alice", "carol"});
  const auto& mine = pop_of(out, "bob");
  CHECK(mine.at("id") == id);
  CHECK(mine.at("state") == "answered");
  CHECK(mine.at("answered_by") == "bob");
  CHECK(mine.at("end_reason").is_null());
  const auto& theirs = pop_of(out, "alice");
  CHECK(theirs.at("id") == id);
  CHECK(theirs.at("state") == "ended");
  CHECK(theirs.at("end_reason") == "answered_elsewhere");
  CHECK(theirs.at("answered_by") == "bob");

  CHECK(book.size() == 1);
  CHECK(book.pops_for("alice").empty());
  CHECK(book.pops_for("carol").empty());
  REQUIRE(book.pops_for("bob").size() == 1);
  CHECK(book.holds("bob", id.get<std::string>()));
  CHECK_FALSE(book.holds("alice", id.get<std::string>()));
  CHECK_FALSE(book.holds("bob", "p_0000000000000000"));

  // Later events go to the answering agent only.
  const auto later = book.on_trigger(phone("v_1", "call.hold"), {"alice"}, nullptr, t0 + 3000);
  CHECK(to(later, "pop.updated") == Names{"bob"});
  CHECK(later.size() == 1);
}

TEST_CASE("An agent who was not a target answering gets the pop and all targets lose it", "[screenpop][pop_book]") {
  PopBook book;
  book.on_trigger(phone("v_1", "call.ringing"), {"alice", "bob"}, view(), t0);
  const auto out = book.on_answered(phone("v_1", "call.answered", "dave"), nullptr, t0 + 1);
  CHECK(to(out, "pop.updated") == Names{"dave"});
  CHECK(to(out, "pop.ended") == Names{"alice", "bob"});
  CHECK(pop_of(out, "dave").at("customer_view") == view());
}

TEST_CASE("An answer with no pop creates an answered pop for that agent", "[screenpop][pop_book]") {
  PopBook book;
  const auto out = book.on_answered(phone("v_9", "call.answered", "carol"), view(), t0);
  REQUIRE(out.size() == 1);
  CHECK(to(out, "pop.updated") == Names{"carol"});
  CHECK(out[0].message.at("pop").at("state") == "answered");
  CHECK(out[0].message.at("pop").at("answered_by") == "carol");
  CHECK(book.pops_for("carol").size() == 1);
  // Without an agent nothing is created.
  CHECK(book.on_answered(phone("v_10", "call.answered"), view(), t0).empty());
  CHECK(book.size() == 1);
}

TEST_CASE("An answer without an agent only updates the pop", "[screenpop][pop_book]") {
  PopBook book;
  book.on_trigger(phone("v_1", "call.ringing"), {"alice", "bob"}, view(), t0);
  const auto out = book.on_answered(phone("v_1", "call.answered"), nullptr, t0 + 1);
  CHECK(to(out, "pop.updated") == Names{"alice", "bob"});
  CHECK(to(out, "pop.ended").empty());
  CHECK(pop_of(out, "alice").at("state") == "ringing");
}

TEST_CASE("A transfer after an answer rings the new agent and the next answer ends it for the first", "[screenpop][pop_book]") {
  PopBook book;
  book.on_trigger(phone("v_1", "call.ringing"), {"bob"}, view(), t0);
  book.on_answered(phone("v_1", "call.answered", "bob"), nullptr, t0 + 1);
  const auto ring = book.on_trigger(phone("v_1", "call.ringing"), {"carol"}, nullptr, t0 + 2);
  CHECK(to(ring, "pop.updated") == Names{"bob"});
  CHECK(to(ring, "pop.ringing") == Names{"carol"});
  CHECK(pop_of(ring, "carol").at("state") == "ringing");
  CHECK(book.pops_for("carol").size() == 1);
  const auto answer = book.on_answered(phone("v_1", "call.answered", "carol"), nullptr, t0 + 3);
  CHECK(to(answer, "pop.updated") == Names{"carol"});
  CHECK(to(answer, "pop.ended") == Names{"bob"});
}

TEST_CASE("Ending the conversation ends the pop for all its agents", "[screenpop][pop_book]") {
  PopBook book;
  const auto first = book.on_trigger(phone("v_1", "call.ringing"), {"alice", "bob"}, view(), t0);
  const auto id = pop_of(first, "alice").at("id");
  const auto out = book.on_ended(phone("v_1", "call.ended"), t0 + 9000);
  CHECK(to(out, "pop.ended") == Names{"alice", "bob"});
  CHECK(out.size() == 2);
  const auto& pop = pop_of(out, "bob");
  CHECK(pop.at("id") == id);
  CHECK(pop.at("state") == "ended");
  CHECK(pop.at("end_reason") == "ended");
  CHECK(pop.at("updated_at") == "2026-11-24T13:00:09.000Z");
  CHECK(pop.at("trigger").at("kind") == "call.ended");
  CHECK(book.size() == 0);
  CHECK(book.pops_for("alice").empty());
  CHECK_FALSE(book.holds("alice", id.get<std::string>()));
  CHECK(book.on_ended(phone("v_1", "call.ended"), t0 + 9001).empty());
  // The conversation may pop again later, with a new id.
  const auto again = book.on_trigger(phone("v_1", "call.ringing"), {"alice"}, view(), t0 + 10000);
  REQUIRE(again.size() == 1);
  CHECK(again[0].message.at("pop").at("id") != id);
}

TEST_CASE("A reconnecting agent gets its ringing and answered pops, not others'", "[screenpop][pop_book]") {
  PopBook book;
  book.on_trigger(phone("v_1", "call.ringing"), {"alice", "bob"}, view(), t0);      // ringing
  book.on_trigger(phone("v_2", "call.ringing"), {"alice", "bob"}, view(), t0 + 1);  // answered by alice
  book.on_answered(phone("v_2", "call.answered", "alice"), nullptr, t0 + 2);
  book.on_trigger(phone("v_3", "call.ringing"), {"alice", "bob"}, view(), t0 + 3);  // answered by bob
  book.on_answered(phone("v_3", "call.answered", "bob"), nullptr, t0 + 4);
  book.on_trigger(phone("v_4", "call.ringing"), {"alice", "bob"}, view(), t0 + 5);  // ended
  book.on_ended(phone("v_4", "call.ended"), t0 + 6);

  const auto conversations = [&](const std::string& agent) {
    Names ids;
    for (const auto& pop : book.pops_for(agent)) ids.push_back(pop.at("conversation_id"));
    return ids;
  };
  CHECK(conversations("alice") == Names{"v_1", "v_2"});
  CHECK(conversations("bob") == Names{"v_1", "v_3"});
  CHECK(conversations("carol").empty());
  const auto alice = book.pops_for("alice");
  CHECK(alice[0].at("state") == "ringing");
  CHECK(alice[1].at("state") == "answered");
  CHECK(alice[1].at("answered_by") == "alice");
}

TEST_CASE("Pops time out: ringing after ring_timeout, answered after four times that", "[screenpop][pop_book]") {
  PopBook book(100, std::chrono::seconds(120));
  book.on_trigger(phone("v_ring", "call.ringing"), {"alice"}, view(), t0);
  book.on_trigger(phone("v_talk", "call.ringing"), {"bob"}, view(), t0);
  book.on_answered(phone("v_talk", "call.answered", "bob"), nullptr, t0);
  book.on_trigger(phone("v_fresh", "call.ringing"), {"carol"}, view(), t0);
  book.on_trigger(phone("v_fresh", "call.hold"), {}, nullptr, t0 + 60000);  // refreshed

  CHECK(book.expire(t0 + 120000).empty());
  const auto out = book.expire(t0 + 120001);
  CHECK(to(out, "pop.ended") == Names{"alice"});
  REQUIRE(out.size() == 1);
  CHECK(out[0].message.at("pop").at("end_reason") == "timeout");
  CHECK(out[0].message.at("pop").at("state") == "ended");
  CHECK(book.size() == 2);

  const auto fresh = book.expire(t0 + 180001);
  CHECK(to(fresh, "pop.ended") == Names{"carol"});
  CHECK(book.expire(t0 + 480000).empty());
  const auto talk = book.expire(t0 + 480001);
  CHECK(to(talk, "pop.ended") == Names{"bob"});
  CHECK(book.size() == 0);
}

TEST_CASE("Beyond max_pops the least recently updated pop ends to make room", "[screenpop][pop_book]") {
  PopBook book(2);
  book.on_trigger(phone("v_1", "call.ringing"), {"alice"}, view(), t0 + 1);
  book.on_trigger(phone("v_2", "call.ringing"), {"bob"}, view(), t0 + 2);
  book.on_trigger(phone("v_1", "call.hold"), {}, nullptr, t0 + 3);  // v_2 is now the oldest
  const auto out = book.on_trigger(phone("v_3", "call.ringing"), {"carol"}, view(), t0 + 4);
  REQUIRE(out.size() == 2);
  CHECK(out[0].agent_id == "bob");
  CHECK(out[0].message.at("type") == "pop.ended");
  CHECK(out[0].message.at("pop").at("conversation_id") == "v_2");
  CHECK(out[0].message.at("pop").at("end_reason") == "timeout");
  CHECK(out[1].agent_id == "carol");
  CHECK(out[1].message.at("type") == "pop.ringing");
  CHECK(book.size() == 2);
  CHECK(book.pops_for("bob").empty());
  CHECK(book.pops_for("alice").size() == 1);
  // Updating an existing pop never evicts.
  CHECK(book.on_trigger(phone("v_1", "call.ringing"), {"dave"}, nullptr, t0 + 5).size() == 2);
  CHECK(book.size() == 2);
}

TEST_CASE("Pop ids are distinct and stable for a pop's life", "[screenpop][pop_book]") {
  PopBook book;
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    const auto out = book.on_trigger(phone("v_" + std::to_string(i), "call.ringing"), {"alice"}, view(), t0 + i);
    REQUIRE(out.size() == 1);
    ids.insert(out[0].message.at("pop").at("id").get<std::string>());
  }
  CHECK(ids.size() == 200);
  const auto first = book.pops_for("alice").front().at("id").get<std::string>();
  CHECK(ids.count(first) == 1);
  const auto update = book.on_trigger(phone("v_0", "call.hold"), {}, nullptr, t0 + 1000);
  CHECK(update.at(0).message.at("pop").at("id") == first);
}

namespace {

Trigger chat(std::string kind, std::string agent = "") {
  Trigger t = phone("v_chat", std::move(kind), std::move(agent));
  t.channel = "chat";
  t.from = "visitor";
  t.to = "";
  return t;
}

}  // namespace

TEST_CASE("A chat transfer rings the new agent alone and ends the pop for the previous one", "[screenpop][pop_book]") {
  CHECK(classify("chat", "chat.transferred") == TriggerKind::transfer);
  CHECK(classify("phone", "chat.transferred") == TriggerKind::update);
  PopBook book(100, std::chrono::seconds(120));
  auto started = book.on_trigger(chat("chat.started", "alice"), {"alice"}, view(), t0);
  CHECK(to(started, "pop.ringing") == Names{"alice"});
  const std::string id = pop_of(started, "alice").at("id");

  auto moved = book.on_transferred(chat("chat.transferred", "bob"), view(), t0 + 1000);
  CHECK(to(moved, "pop.ringing") == Names{"bob"});
  CHECK(to(moved, "pop.ended") == Names{"alice"});
  CHECK(pop_of(moved, "bob").at("id") == id);  // the same pop, now bob's
  CHECK(pop_of(moved, "alice").at("end_reason") == "transferred");
  CHECK(pop_of(moved, "bob").at("trigger").at("kind") == "chat.transferred");
  CHECK(book.pops_for("alice").empty());
  REQUIRE(book.pops_for("bob").size() == 1);

  // Transferring back to the holder rings them again and ends it for nobody else.
  auto again = book.on_transferred(chat("chat.transferred", "bob"), nullptr, t0 + 2000);
  CHECK(to(again, "pop.ringing") == Names{"bob"});
  CHECK(to(again, "pop.ended").empty());
  // A transfer with no agent only updates; one with no pop creates it for the new agent.
  CHECK(to(book.on_transferred(chat("chat.transferred"), nullptr, t0 + 3000), "pop.updated") == Names{"bob"});
  PopBook fresh(100, std::chrono::seconds(120));
  CHECK(to(fresh.on_transferred(chat("chat.transferred", "carol"), view(), t0), "pop.ringing") == Names{"carol"});
  PopBook empty(100, std::chrono::seconds(120));
  CHECK(empty.on_transferred(chat("chat.transferred"), view(), t0).empty());  // no pop, no agent: nothing
}

TEST_CASE("Chat pops outlive the ring timeout and end after the chat timeout", "[screenpop][pop_book]") {
  PopBook book(100, std::chrono::seconds(120), std::chrono::hours(1));
  (void)book.on_trigger(chat("chat.started", "alice"), {"alice"}, view(), t0);
  (void)book.on_trigger(phone("v_call", "call.ringing"), {"bob"}, view(), t0);
  auto early = book.expire(t0 + 10 * 60 * 1000);
  CHECK(to(early, "pop.ended") == Names{"bob"});  // the call rang out; the chat waits for its connector
  CHECK(book.pops_for("alice").size() == 1);
  auto late = book.expire(t0 + 61 * 60 * 1000);
  CHECK(to(late, "pop.ended") == Names{"alice"});
  CHECK(pop_of(late, "alice").at("end_reason") == "timeout");
  // A chat timeout below the ring timeout is raised to it.
  PopBook tight(100, std::chrono::seconds(120), std::chrono::seconds(1));
  (void)tight.on_trigger(chat("chat.started", "alice"), {"alice"}, view(), t0);
  CHECK(tight.expire(t0 + 60 * 1000).empty());
  CHECK(to(tight.expire(t0 + 121 * 1000), "pop.ended") == Names{"alice"});
}

TEST_CASE("holds_conversation says whether an agent holds a conversation's pop", "[screenpop][pop_book]") {
  PopBook book(100, std::chrono::seconds(120));
  (void)book.on_trigger(chat("chat.started", "alice"), {"alice"}, view(), t0);
  CHECK(book.holds_conversation("v_chat", "alice"));
  CHECK_FALSE(book.holds_conversation("v_chat", "bob"));
  CHECK_FALSE(book.holds_conversation("v_other", "alice"));
  (void)book.on_transferred(chat("chat.transferred", "bob"), nullptr, t0 + 1);
  CHECK(book.holds_conversation("v_chat", "bob"));
  CHECK_FALSE(book.holds_conversation("v_chat", "alice"));
}
