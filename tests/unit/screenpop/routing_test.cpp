// Routing as a specification (docs/agent-protocol.md "Routing" and "Routing details"): who gets
// a pop for a ringing extension, a queue, an assigned chat, an email, and when the fallback
// agents step in.
#include <catch2/catch.hpp>

#include <map>

#include "daemon/screenpop/routing.hpp"

using namespace omnitrail::screenpop;
using Names = std::vector<std::string>;

namespace {

Directory directory() {
  return Directory(
      {
          {"alice", "Alice Agent", {"6001"}, {"support"}},
          {"bob", "Bob Agent", {"6002"}, {"support", "sales"}},
          {"carol", "Carol Agent", {"6003", "6003"}, {"support"}},
          {"dave", "Dave Agent", {"6004"}, {"sales"}},
          {"sup", "Supervisor", {"6009"}, {}},
          {"hot1", "Hot Desk 1", {"7000"}, {}},
          {"hot2", "Hot Desk 2", {"7000"}, {}},
          {"alice", "Duplicate Alice", {"6999"}, {"sales"}},
      },
      {"sup", "ghost", "dave", "sup"});
}

// Presence lookup over a map; agents not listed are offline (no connection).
struct Presences {
  std::map<std::string, Presence> of;
  std::function<Presence(const std::string&)> fn() const {
    return [this](const std::string& id) {
      const auto it = of.find(id);
      return it == of.end() ? Presence::offline : it->second;
    };
  }
};

Presences everyone(Presence presence) {
  Presences p;
  for (const auto* id : {"alice", "bob", "carol", "dave", "sup", "hot1", "hot2"}) p.of[id] = presence;
  return p;
}

Trigger phone_ringing(std::vector<std::string> extensions, std::string queue = "", std::string to = "") {
  Trigger t;
  t.channel = "phone";
  t.kind = "call.ringing";
  t.conversation_id = "v_1";
  t.interaction_id = "i_1";
  t.from = "+442079460123";
  t.to = std::move(to);
  t.extensions = std::move(extensions);
  t.queue = std::move(queue);
  return t;
}

}  // namespace

TEST_CASE("Presence names round-trip and nothing else parses", "[screenpop][routing]") {
  for (const auto presence : {Presence::available, Presence::away, Presence::busy, Presence::offline}) {
    CHECK(parse_presence(to_string(presence)) == presence);
  }
  CHECK(to_string(Presence::busy) == "busy");
  CHECK_FALSE(parse_presence("Available").has_value());
  CHECK_FALSE(parse_presence("").has_value());
  CHECK_FALSE(parse_presence("dnd").has_value());
}

TEST_CASE("The directory finds agents by id and by extension, first definition wins", "[screenpop][routing]") {
  const auto dir = directory();
  REQUIRE(dir.find("bob") != nullptr);
  CHECK(dir.find("bob")->name == "Bob Agent");
  CHECK(dir.find("alice")->name == "Alice Agent");
  CHECK(dir.find("nobody") == nullptr);
  CHECK(dir.by_extension("6999") == nullptr);  // the duplicate alice was dropped
  REQUIRE(dir.by_extension("6003") != nullptr);
  CHECK(dir.by_extension("6003")->id == "carol");
  CHECK(dir.by_extension("7000")->id == "hot1");
  CHECK(dir.by_extension("600") == nullptr);
  CHECK(dir.agents().size() == 7);
  CHECK(dir.fallback_agents() == Names{"sup", "dave"});
}

TEST_CASE("A ringing extension pops its agent even when away or busy", "[screenpop][routing]") {
  const auto dir = directory();
  auto presences = everyone(Presence::available);
  presences.of["bob"] = Presence::busy;
  // Extensions arrive already extracted from the channel name (PJSIP/6002-0000001a -> 6002).
  CHECK(dir.targets(phone_ringing({"6002"}, "support"), presences.fn()) == Names{"bob"});
  presences.of["bob"] = Presence::away;
  CHECK(dir.targets(phone_ringing({"6002"}, "support"), presences.fn()) == Names{"bob"});
}

TEST_CASE("Several ringing extensions pop their agents in extension order without duplicates", "[screenpop][routing]") {
  const auto dir = directory();
  const auto presences = everyone(Presence::available);
  CHECK(dir.targets(phone_ringing({"6003", "6001", "6003"}, "", "6001"), presences.fn()) == Names{"carol", "alice"});
  CHECK(dir.targets(phone_ringing({"7000"}), presences.fn()) == Names{"hot1", "hot2"});
  CHECK(dir.targets(phone_ringing({"5555", "6004"}), presences.fn()) == Names{"dave"});
}

TEST_CASE("A call to an agent's extension in `to` pops that agent", "[screenpop][routing]") {
  const auto dir = directory();
  auto presences = everyone(Presence::available);
  presences.of["carol"] = Presence::busy;
  CHECK(dir.targets(phone_ringing({}, "support", "6003"), presences.fn()) == Names{"carol"});
  // `to` counts for phone only: an SMS to a short code equal to an extension goes to the queue.
  auto sms = phone_ringing({}, "sales", "6003");
  sms.channel = "sms";
  sms.kind = "sms.received";
  CHECK(dir.targets(sms, presences.fn()) == Names{"bob", "dave"});
}

TEST_CASE("A queue call pops only the available members, in config order", "[screenpop][routing]") {
  const auto dir = directory();
  auto presences = everyone(Presence::available);
  CHECK(dir.targets(phone_ringing({}, "support"), presences.fn()) == Names{"alice", "bob", "carol"});
  presences.of["bob"] = Presence::away;
  presences.of["carol"] = Presence::busy;
  CHECK(dir.targets(phone_ringing({}, "support"), presences.fn()) == Names{"alice"});
  presences.of.erase("alice");  // offline
  presences.of["carol"] = Presence::available;
  CHECK(dir.targets(phone_ringing({}, "support"), presences.fn()) == Names{"carol"});
}

TEST_CASE("An unknown ringing extension falls back to the queue", "[screenpop][routing]") {
  const auto dir = directory();
  const auto presences = everyone(Presence::available);
  CHECK(dir.targets(phone_ringing({"5555"}, "sales"), presences.fn()) == Names{"bob", "dave"});
}

TEST_CASE("When every queue member is away the connected fallback agents get the pop", "[screenpop][routing]") {
  const auto dir = directory();
  auto presences = everyone(Presence::away);
  presences.of["sup"] = Presence::available;
  presences.of["dave"] = Presence::busy;  // fallback agents need only be connected
  CHECK(dir.targets(phone_ringing({}, "support"), presences.fn()) == Names{"sup", "dave"});
  presences.of.erase("sup");  // offline fallback agents are skipped
  CHECK(dir.targets(phone_ringing({}, "support"), presences.fn()) == Names{"dave"});
  presences.of.erase("dave");
  CHECK(dir.targets(phone_ringing({}, "support"), presences.fn()).empty());
}

TEST_CASE("A contact routed to nobody goes to the fallback agents", "[screenpop][routing]") {
  const auto dir = directory();
  const auto presences = everyone(Presence::available);
  CHECK(dir.targets(phone_ringing({}), presences.fn()) == Names{"sup", "dave"});
  CHECK(dir.targets(phone_ringing({}, "no-such-queue"), presences.fn()) == Names{"sup", "dave"});
}

TEST_CASE("An offline agent whose extension rings is kept for replay and the fallback is added", "[screenpop][routing]") {
  const auto dir = directory();
  auto presences = everyone(Presence::available);
  presences.of.erase("alice");
  CHECK(dir.targets(phone_ringing({"6001"}, "support"), presences.fn()) == Names{"alice", "sup", "dave"});
  // One connected personal target is enough: no fallback.
  CHECK(dir.targets(phone_ringing({"6001", "6002"}, "support"), presences.fn()) == Names{"alice", "bob"});
}

TEST_CASE("A chat pops its assigned agent whatever their presence", "[screenpop][routing]") {
  const auto dir = directory();
  auto presences = everyone(Presence::available);
  presences.of["carol"] = Presence::busy;
  Trigger chat;
  chat.channel = "chat";
  chat.kind = "chat.started";
  chat.conversation_id = "v_chat";
  chat.agent = "carol";
  chat.queue = "support";
  CHECK(dir.targets(chat, presences.fn()) == Names{"carol"});
  // Unknown or no assigned agent: the queue.
  chat.agent = "ghost";
  CHECK(dir.targets(chat, presences.fn()) == Names{"alice", "bob"});
  chat.agent.clear();
  CHECK(dir.targets(chat, presences.fn()) == Names{"alice", "bob"});
}

TEST_CASE("An email pops the available members of its queue", "[screenpop][routing]") {
  const auto dir = directory();
  auto presences = everyone(Presence::available);
  presences.of["dave"] = Presence::away;
  Trigger email;
  email.channel = "email";
  email.kind = "email.received";
  email.conversation_id = "v_mail";
  email.from = "alice@example.com";
  email.to = "6001";  // not an extension for email
  email.queue = "sales";
  CHECK(dir.targets(email, presences.fn()) == Names{"bob"});
  email.agent = "dave";  // the customer's owner, passed as the assigned agent
  CHECK(dir.targets(email, presences.fn()) == Names{"dave"});
}

TEST_CASE("A new chat goes to the least busy available member of its queue", "[screenpop][routing]") {
  const auto dir = directory();
  auto presences = everyone(Presence::available);
  std::map<std::string, int> load;
  const auto load_of = [&load](const std::string& id) {
    const auto it = load.find(id);
    return it == load.end() ? 0 : it->second;
  };
  // Ties: config order.
  CHECK(dir.least_busy("support", presences.fn(), load_of, 0) == "alice");
  load["alice"] = 2;
  load["bob"] = 1;
  load["carol"] = 1;
  CHECK(dir.least_busy("support", presences.fn(), load_of, 0) == "bob");
  // Only available members: away, busy and offline agents are skipped.
  presences.of["bob"] = Presence::away;
  CHECK(dir.least_busy("support", presences.fn(), load_of, 0) == "carol");
  presences.of["carol"] = Presence::busy;
  CHECK(dir.least_busy("support", presences.fn(), load_of, 0) == "alice");
  presences.of.erase("alice");
  CHECK(dir.least_busy("support", presences.fn(), load_of, 0).empty());
  // max_chats caps an agent's load; exclude skips the agent a chat is transferred away from.
  presences = everyone(Presence::available);
  CHECK(dir.least_busy("support", presences.fn(), load_of, 1).empty());
  CHECK(dir.least_busy("support", presences.fn(), load_of, 2) == "bob");
  CHECK(dir.least_busy("support", presences.fn(), load_of, 0, "bob") == "carol");
  CHECK(dir.least_busy("sales", presences.fn(), load_of, 0) == "dave");  // bob (1) vs dave (0)
  // No queue: every agent is a candidate.
  CHECK(dir.least_busy("", presences.fn(), load_of, 0) == "dave");
  CHECK(dir.least_busy("nobody-serves-this", presences.fn(), load_of, 0).empty());
}
