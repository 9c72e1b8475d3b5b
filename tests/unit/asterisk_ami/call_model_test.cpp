#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "connectors/asterisk_ami/call_model.hpp"
#include "tests/unit/asterisk_ami/ami_test_support.hpp"

using nlohmann::json;
using omnitrail::connectors::ami::CallTracker;
using omnitrail::connectors::ami::Message;
using omnitrail::connectors::ami::TrackerConfig;
using omnitrail::timeline::Interaction;

namespace {

constexpr std::int64_t kBase = 1795390255000;  // the captures' epoch (their Uniqueids)
constexpr std::int64_t kStep = 100;            // ms between two replayed messages

TrackerConfig test_config() {
  TrackerConfig config;
  config.source = "pbx";
  config.region = "GB";
  config.internal_contexts = {"agents"};
  config.agent_by_extension = {{"6001", "alice"}, {"6002", "bob"}};
  return config;
}

/// Feeds messages one by one with a clock that advances kStep per message.
struct Replay {
  std::int64_t now = kBase;
  CallTracker tracker;
  explicit Replay(TrackerConfig config = test_config()) : tracker(std::move(config), [this] { return now; }) {}
  std::vector<Interaction> feed(const std::vector<Message>& messages, std::size_t from = 0,
                                std::size_t to = static_cast<std::size_t>(-1)) {
    std::vector<Interaction> out;
    for (std::size_t i = from; i < messages.size() && i < to; ++i) {
      now = kBase + static_cast<std::int64_t>(i) * kStep;
      for (auto& in : tracker.on_message(messages[i])) out.push_back(std::move(in));
    }
    return out;
  }
};

std::vector<Message> capture(const char* file) { return ami_test::parse_all(ami_test::fixture(file)); }

json meta(const Interaction& in) { return json::parse(in.metadata_json); }

std::vector<std::string> ids(const std::vector<Interaction>& list) {
  std::vector<std::string> out;
  for (const auto& in : list) out.push_back(in.external_id);
  return out;
}

/// Index of the first message (from `from`) with event `name` whose `key` starts with `prefix`.
std::size_t find(const std::vector<Message>& messages, std::string_view name, std::string_view key = {},
                 std::string_view prefix = {}, std::size_t from = 0) {
  for (std::size_t i = from; i < messages.size(); ++i) {
    if (messages[i].event() == name && messages[i].value(key).substr(0, prefix.size()) == prefix) return i;
  }
  FAIL("no " << name << " in capture");
  return 0;
}

std::size_t last(const std::vector<Message>& messages, std::string_view name) {
  std::size_t found = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].event() == name) found = i;
  }
  return found;
}

Message event(const std::string& name, std::vector<std::pair<std::string, std::string>> fields) {
  Message m;
  m.add("Event", name);
  for (auto& [k, v] : fields) m.add(k, v);
  return m;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

/// The channel fields of one leg (prefix "" or "Dest").
Fields leg(const std::string& prefix, const std::string& channel, const std::string& uid, const std::string& linkedid,
           const std::string& context, const std::string& exten, const std::string& cid, const std::string& state = "4") {
  return {{prefix + "Channel", channel},      {prefix + "ChannelState", state}, {prefix + "CallerIDNum", cid},
          {prefix + "CallerIDName", "Dana"},  {prefix + "Context", context},   {prefix + "Exten", exten},
          {prefix + "Uniqueid", uid},         {prefix + "Linkedid", linkedid}};
}

Fields operator+(Fields a, const Fields& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void check_common(const Interaction& in, const std::string& linkedid, const std::string& customer) {
  CHECK(in.channel == "phone");
  CHECK(in.source == "pbx");
  CHECK(in.conversation_key == linkedid);
  CHECK(in.region == "GB");
  REQUIRE(in.customer_identifiers.size() == 1);
  CHECK(in.customer_identifiers[0].raw == customer);
  CHECK(in.customer_identifiers[0].kind == omnitrail::identity::IdentifierKind::phone);
  CHECK(in.customer_identifiers[0].trust == omnitrail::identity::Trust::claimed);
  CHECK(omnitrail::timeline::validate(in) == "");
}

}  // namespace

TEST_CASE("direct call capture: ringing 6001 then answered by alice then ended answered", "[asterisk_ami][calls]") {
  const auto messages = capture("direct_call.ami");
  Replay replay;
  const auto out = replay.feed(messages);
  REQUIRE(out.size() == 3);
  const std::string id = "1795390255.0";
  for (const auto& in : out) {
    check_common(in, id, "+14155550123");
    CHECK(in.direction == "inbound");
    CHECK(in.from == "+14155550123");
    CHECK(in.customer_display_name == "Alice Example");
  }
  const auto ring_at = find(messages, "DialBegin", "DestChannel", "Local/6001@");
  const auto answer_at = find(messages, "DialEnd", "DestChannel", "Local/6001@");
  const auto end_at = last(messages, "Hangup");
  REQUIRE(messages[answer_at].value("DialStatus") == "ANSWER");

  CHECK(out[0].kind == "call.ringing");
  CHECK(out[0].external_id == id + ":call.ringing:6001");
  CHECK(out[0].to == "6001");
  CHECK(out[0].agent == "");
  CHECK(meta(out[0]) == json({{"extension", "6001"}, {"dialed", "5000"}}));
  CHECK(out[0].occurred_at_ms == kBase + static_cast<std::int64_t>(ring_at) * kStep);

  CHECK(out[1].kind == "call.answered");
  CHECK(out[1].external_id == id + ":call.answered:6001");
  CHECK(out[1].agent == "alice");
  CHECK(meta(out[1])["extension"] == "6001");
  CHECK(out[1].occurred_at_ms == kBase + static_cast<std::int64_t>(answer_at) * kStep);

  CHECK(out[2].kind == "call.ended");
  CHECK(out[2].external_id == id + ":call.ended");
  CHECK(out[2].ends_conversation);
  CHECK(out[2].agent == "alice");
  const auto m = meta(out[2]);
  CHECK(m["disposition"] == "answered");
  CHECK(m["ring_time_ms"] == static_cast<std::int64_t>(answer_at - ring_at) * kStep);
  CHECK(m["talk_time_ms"] == static_cast<std::int64_t>(end_at - answer_at) * kStep);
  CHECK(m["cause"] == 16);
  CHECK(m["cause_txt"] == "Normal Clearing");
  CHECK(m["extension"] == "6001");
  CHECK(replay.tracker.active_calls() == 0);
}

TEST_CASE("queue call capture: queue then member ring then bob answers then queue stats kept", "[asterisk_ami][calls]") {
  const auto messages = capture("queue_call.ami");
  Replay replay;
  const auto out = replay.feed(messages);
  REQUIRE(out.size() == 4);
  const std::string id = "1795390271.4";
  for (const auto& in : out) {
    check_common(in, id, "02079460123");
    CHECK(in.direction == "inbound");
    CHECK(in.customer_display_name == "Bob Queue");
    CHECK(meta(in)["queue"] == "support");
  }
  CHECK(out[0].kind == "call.ringing");
  CHECK(out[0].external_id == id + ":call.ringing:queue:support");
  CHECK_FALSE(meta(out[0]).contains("extension"));
  CHECK(out[0].to == "5100");
  CHECK(out[1].kind == "call.ringing");
  CHECK(out[1].external_id == id + ":call.ringing:6002");
  CHECK(meta(out[1])["extension"] == "6002");
  CHECK(out[2].kind == "call.answered");
  CHECK(out[2].agent == "bob");
  CHECK(out[3].kind == "call.ended");
  const auto m = meta(out[3]);
  CHECK(m["disposition"] == "answered");
  const auto join_at = find(messages, "QueueCallerJoin");
  const auto answer_at = find(messages, "DialEnd", "DestChannel", "Local/6002@");
  CHECK(m["ring_time_ms"] == static_cast<std::int64_t>(answer_at - join_at) * kStep);
  CHECK(m["talk_time_ms"] == static_cast<std::int64_t>(last(messages, "Hangup") - answer_at) * kStep);
  // Asterisk's own timings agree with the capture's clock: the member leg was created one second
  // after the caller's (Uniqueid 1795390272.6 vs 1795390271.4), and LastCall says it ended at +4 s.
  CHECK(m["queue_stats"] == json({{"hold_time_s", 1}, {"ring_time_s", 1}, {"talk_time_s", 2}, {"reason", "agent"}}));
  const auto member = messages[find(messages, "AgentCalled")].value("DestUniqueid");
  CHECK(std::stoll(std::string(member)) - std::stoll(id) == 1);
}

TEST_CASE("no answer capture: 6009 rings then the call ends missed", "[asterisk_ami][calls]") {
  const auto messages = capture("noanswer.ami");
  Replay replay;
  const auto out = replay.feed(messages);
  REQUIRE(out.size() == 2);
  const std::string id = "1795390284.8";
  for (const auto& in : out) {
    check_common(in, id, "+442079460999");
    CHECK(in.customer_display_name == "Carol");
    CHECK(in.direction == "inbound");
  }
  CHECK(out[0].kind == "call.ringing");
  CHECK(out[0].external_id == id + ":call.ringing:6009");
  CHECK(out[0].to == "6009");
  CHECK(out[1].kind == "call.ended");
  CHECK(out[1].agent == "");
  const auto m = meta(out[1]);
  CHECK(m["disposition"] == "missed");
  CHECK(m["talk_time_ms"] == 0);
  CHECK(m["ring_time_ms"] ==
        static_cast<std::int64_t>(last(messages, "Hangup") - find(messages, "DialBegin")) * kStep);
  CHECK(m["cause"] == 19);
  CHECK(m["cause_txt"] == "User alerting, no answer");
  CHECK_FALSE(m.contains("extension"));
}

TEST_CASE("Timestamp fields give occurred_at and the call times", "[asterisk_ami][calls]") {
  auto messages = capture("direct_call.ami");
  for (std::size_t i = 0; i < messages.size(); ++i) {
    static const char* const kFractions[] = {"000000", "250000", "500000", "750000"};
    messages[i].add("Timestamp", std::to_string(1795390255 + static_cast<std::int64_t>(i) / 4) + "." + kFractions[i % 4]);
  }
  CallTracker tracker(test_config(), [] { return std::int64_t{42}; });
  std::vector<Interaction> out;
  for (const auto& m : messages) {
    for (auto& in : tracker.on_message(m)) out.push_back(std::move(in));
  }
  REQUIRE(out.size() == 3);
  auto at = [&](std::size_t i) { return kBase + static_cast<std::int64_t>(i / 4) * 1000 + static_cast<std::int64_t>(i % 4) * 250; };
  const auto ring_at = find(messages, "DialBegin", "DestChannel", "Local/6001@");
  const auto answer_at = find(messages, "DialEnd", "DestChannel", "Local/6001@");
  CHECK(out[0].occurred_at_ms == at(ring_at));
  CHECK(out[1].occurred_at_ms == at(answer_at));
  CHECK(out[2].occurred_at_ms == at(last(messages, "Hangup")));
  CHECK(meta(out[2])["ring_time_ms"] == at(answer_at) - at(ring_at));
}

TEST_CASE("replaying a capture gives the same external ids and no duplicates", "[asterisk_ami][calls]") {
  for (const char* file : {"direct_call.ami", "queue_call.ami", "noanswer.ami"}) {
    INFO(file);
    const auto messages = capture(file);
    Replay first, second;
    const auto a = first.feed(messages);
    const auto b = second.feed(messages);  // a restarted daemon replaying the same traffic
    REQUIRE_FALSE(a.empty());
    CHECK(ids(a) == ids(b));
    CHECK(first.feed(messages).empty());  // the same tracker: ended calls stay ended
  }
}

TEST_CASE("resync after a disconnect mid-call ends it once and never rings again", "[asterisk_ami][calls]") {
  const auto messages = capture("direct_call.ami");
  const auto answer_at = find(messages, "DialEnd", "DestChannel", "Local/6001@");
  const std::string id = "1795390255.0";
  // The CoreShowChannels answer while the call is up: its four legs, two of them bridged.
  std::vector<Message> channels;
  auto shown = [&](const std::string& channel, const std::string& uid, const std::string& context,
                   const std::string& exten, const std::string& cid, const std::string& bridge) {
    auto fields = leg("", channel, uid, id, context, exten, cid, "6");
    fields.push_back({"BridgeId", bridge});
    fields.push_back({"Duration", "00:00:03"});
    channels.push_back(event("CoreShowChannel", fields));
  };
  shown("Local/5000@inbound-sim-00000000;1", "1795390255.0", "caller", "s", "+14155550123", "");
  shown("Local/5000@inbound-sim-00000000;2", "1795390255.1", "inbound-sim", "5000", "+14155550123", "b0966296");
  shown("Local/6001@agents-00000001;1", "1795390255.2", "agents", "5000", "5000", "b0966296");
  shown("Local/6001@agents-00000001;2", "1795390255.3", "agents", "6001", "+14155550123", "");
  channels.push_back(event("CoreShowChannelsComplete", {{"EventList", "Complete"}, {"ListItems", "4"}}));

  SECTION("the call is gone after the reconnect: ended once, later events ignored") {
    Replay replay;
    auto before = replay.feed(messages, 0, answer_at + 1);
    REQUIRE(before.size() == 2);
    replay.tracker.begin_resync();
    auto synced = replay.tracker.resync({});
    REQUIRE(synced.size() == 1);
    CHECK(synced[0].external_id == id + ":call.ended");
    const auto m = meta(synced[0]);
    CHECK(m["disposition"] == "answered");
    CHECK(m["cause_txt"] == "gone after reconnect");
    CHECK(replay.feed(messages, answer_at + 1).empty());
    CHECK(replay.tracker.resync({}).empty());
  }
  SECTION("the call went on while disconnected: the missed answer is emitted, ringing is not repeated") {
    Replay replay;
    const auto ring_at = find(messages, "DialBegin", "DestChannel", "Local/6001@");
    auto before = replay.feed(messages, 0, ring_at + 1);
    REQUIRE(before.size() == 1);
    CHECK(before[0].kind == "call.ringing");
    auto synced = replay.tracker.resync(channels);
    REQUIRE(synced.size() == 1);
    CHECK(synced[0].kind == "call.answered");
    CHECK(synced[0].agent == "alice");
    CHECK(synced[0].external_id == id + ":call.answered:6001");
    auto after = replay.feed(messages, answer_at - 2);  // overlapping replay after the reconnect
    REQUIRE(after.size() == 1);
    CHECK(after[0].kind == "call.ended");
    CHECK(meta(after[0])["disposition"] == "answered");
  }
  SECTION("a restarted daemon adopts the call silently and ends it once") {
    Replay replay;
    CHECK(replay.tracker.resync(channels).empty());
    CHECK(replay.tracker.active_calls() == 1);
    const auto ring_at = find(messages, "DialBegin", "DestChannel", "Local/6001@");
    auto after = replay.feed(messages, ring_at);  // events replayed from before the snapshot
    REQUIRE(after.size() == 1);
    CHECK(after[0].kind == "call.ended");
    CHECK(after[0].direction == "inbound");
    CHECK(after[0].customer_identifiers.at(0).raw == "+14155550123");
    CHECK(after[0].agent == "alice");
    const auto m = meta(after[0]);
    CHECK(m["disposition"] == "answered");
    CHECK(m["adopted"] == true);
    CHECK(m["talk_time_ms"].get<std::int64_t>() >= 3000);
  }
  SECTION("a call that started after begin_resync is not ended by that resync") {
    Replay replay;
    replay.tracker.begin_resync();
    REQUIRE(replay.feed(messages, 0, answer_at + 1).size() == 2);
    CHECK(replay.tracker.resync({}).empty());
    CHECK(replay.tracker.active_calls() == 1);
  }
}

TEST_CASE("an agent calling an external number is outbound and agent to agent emits nothing", "[asterisk_ami][calls]") {
  Replay replay;
  const auto agent = leg("", "PJSIP/6001-00000010", "100.1", "100.1", "agents", "004420794600", "6001");
  const auto trunk = leg("Dest", "PJSIP/trunk-00000011", "100.2", "100.1", "from-trunk", "s", "6001", "0");
  std::vector<Message> call = {
      event("Newchannel", agent),
      event("DialBegin", agent + trunk + Fields{{"DialString", "trunk/004420794600"}}),
      event("DialEnd", agent + trunk + Fields{{"DialStatus", "ANSWER"}}),
      event("Hangup", leg("", "PJSIP/trunk-00000011", "100.2", "100.1", "from-trunk", "s", "6001") +
                          Fields{{"Cause", "16"}, {"Cause-txt", "Normal Clearing"}}),
      event("Hangup", agent + Fields{{"Cause", "16"}}),
  };
  const auto out = replay.feed(call);
  REQUIRE(out.size() == 3);
  for (const auto& in : out) {
    CHECK(in.direction == "outbound");
    CHECK(in.from == "6001");
    CHECK(in.to == "004420794600");
    CHECK(in.customer_identifiers.at(0).raw == "004420794600");
    CHECK(in.agent == "alice");
  }
  CHECK(out[0].kind == "call.ringing");
  CHECK(meta(out[0])["extension"] == "6001");
  CHECK(out[1].kind == "call.answered");
  CHECK(meta(out[2])["disposition"] == "answered");

  Replay internal;
  const auto a = leg("", "PJSIP/6001-00000020", "200.1", "200.1", "agents", "6002", "6001");
  const auto b = leg("Dest", "PJSIP/6002-00000021", "200.2", "200.1", "agents", "s", "6001", "0");
  CHECK(internal
            .feed({event("Newchannel", a), event("DialBegin", a + b), event("DialEnd", a + b + Fields{{"DialStatus", "ANSWER"}}),
                   event("Hangup", leg("", "PJSIP/6002-00000021", "200.2", "200.1", "agents", "s", "6001")),
                   event("Hangup", a)})
            .empty());
  CHECK(internal.tracker.active_calls() == 0);
}

TEST_CASE("dispositions busy abandoned and failed follow the dial and queue outcome", "[asterisk_ami][calls]") {
  auto run = [](const std::string& status, bool queue_abandon) {
    Replay replay;
    const auto caller = leg("", "PJSIP/trunk-00000001", "300.1", "300.1", "from-trunk", "5000", "+14155550199");
    const auto agent = leg("Dest", "PJSIP/6001-00000002", "300.2", "300.1", "agents", "s", "+14155550199", "0");
    std::vector<Message> call = {event("Newchannel", caller)};
    if (queue_abandon) {
      call.push_back(event("QueueCallerJoin", caller + Fields{{"Queue", "sales"}, {"Position", "1"}}));
      call.push_back(event("QueueCallerAbandon", caller + Fields{{"Queue", "sales"}, {"HoldTime", "7"}}));
    } else {
      call.push_back(event("DialBegin", caller + agent));
      call.push_back(event("DialEnd", caller + agent + Fields{{"DialStatus", status}}));
      call.push_back(event("Hangup", leg("", "PJSIP/6001-00000002", "300.2", "300.1", "agents", "s", "x")));
    }
    call.push_back(event("Hangup", caller + Fields{{"Cause", "17"}, {"Cause-txt", "User busy"}}));
    auto out = replay.feed(call);
    REQUIRE_FALSE(out.empty());
    REQUIRE(out.back().kind == "call.ended");
    return meta(out.back())["disposition"].get<std::string>();
  };
  CHECK(run("BUSY", false) == "busy");
  CHECK(run("NOANSWER", false) == "missed");
  CHECK(run("CANCEL", false) == "missed");
  CHECK(run("CHANUNAVAIL", false) == "failed");
  CHECK(run("CONGESTION", false) == "failed");
  CHECK(run("", true) == "abandoned");
}

TEST_CASE("a blind transfer is reported and rings the new extension", "[asterisk_ami][calls]") {
  Replay replay;
  const auto caller = leg("", "PJSIP/trunk-00000001", "400.1", "400.1", "from-trunk", "5000", "+14155550100");
  const auto alice = leg("Dest", "PJSIP/6001-00000002", "400.2", "400.1", "agents", "s", "+14155550100", "0");
  const auto bob = leg("Dest", "PJSIP/6002-00000003", "400.3", "400.1", "agents", "s", "+14155550100", "0");
  auto out = replay.feed({
      event("Newchannel", caller),
      event("DialBegin", caller + alice),
      event("DialEnd", caller + alice + Fields{{"DialStatus", "ANSWER"}}),
      event("BlindTransfer", Fields{{"Result", "Success"}, {"TransfererLinkedid", "400.1"},
                                    {"TransfereeLinkedid", "400.1"}, {"Extension", "6002"}, {"Context", "agents"}}),
      event("DialBegin", caller + bob),
      event("DialEnd", caller + bob + Fields{{"DialStatus", "ANSWER"}}),
  });
  REQUIRE(out.size() == 5);
  CHECK(out[2].kind == "call.transferred");
  CHECK(out[2].external_id == "400.1:call.transferred:1");
  CHECK(out[2].agent == "alice");
  CHECK(meta(out[2]) == json({{"type", "blind"}, {"extension_to", "6002"}, {"extension_from", "6001"}}));
  CHECK(out[3].external_id == "400.1:call.ringing:6002~t1");
  CHECK(out[4].kind == "call.answered");
  CHECK(out[4].agent == "bob");
}

TEST_CASE("the extension rule is configurable and checked", "[asterisk_ami][calls]") {
  CallTracker tracker(test_config(), {});
  CHECK(tracker.config_error() == "");
  CHECK(tracker.extension_of("PJSIP/6001-0000002a") == "6001");
  CHECK(tracker.extension_of("SIP/6001-0000002a") == "6001");
  CHECK(tracker.extension_of("IAX2/6003-123") == "6003");
  CHECK(tracker.extension_of("Local/6001@agents-00000001;1") == "6001");
  CHECK(tracker.extension_of("DAHDI/1-1") == "");
  CHECK(tracker.extension_of(std::string(100000, 'P')) == "");
  auto config = test_config();
  config.extension_pattern = "^PJSIP/agent_(\\d+)";
  CallTracker custom(config, {});
  CHECK(custom.extension_of("PJSIP/agent_42-0001") == "42");
  CHECK(custom.extension_of("PJSIP/6001-0001") == "");
  config.extension_pattern = "^PJSIP/(";
  CallTracker broken(config, {});
  CHECK(broken.config_error().find("not a valid regular expression") != std::string::npos);
  CHECK(broken.extension_of("PJSIP/6001-0001") == "6001");  // fell back to the default
  CHECK(omnitrail::connectors::ami::check_extension_pattern("^PJSIP/\\d+").find("capture group") != std::string::npos);
}

TEST_CASE("tracked calls are bounded and stale calls expire", "[asterisk_ami][calls]") {
  auto config = test_config();
  config.max_calls = 3;
  config.call_expiry = std::chrono::minutes(10);
  Replay replay(config);
  auto start = [](int n) {
    const std::string id = "500." + std::to_string(n);
    const auto caller = leg("", "PJSIP/trunk-1", id, id, "from-trunk", "5000", "+1415555010" + std::to_string(n));
    const auto agent = leg("Dest", "PJSIP/6001-2", id + "1", id, "agents", "s", "x", "0");
    return std::vector<Message>{event("Newchannel", caller), event("DialBegin", caller + agent)};
  };
  std::vector<Interaction> out;
  for (int n = 1; n <= 4; ++n) {
    for (auto& in : replay.feed(start(n))) out.push_back(std::move(in));
  }
  CHECK(replay.tracker.active_calls() == 3);
  REQUIRE(out.size() == 5);  // four ringings and the eviction of the oldest
  CHECK(out[3].external_id == "500.1:call.ended");
  CHECK(meta(out[3])["cause_txt"] == "evicted (too many calls tracked)");
  CHECK(replay.tracker.expire().empty());
  replay.now += 11 * 60 * 1000;
  const auto expired = replay.tracker.expire();
  CHECK(expired.size() == 3);
  CHECK(meta(expired.at(0))["cause_txt"] == "expired");
  CHECK(meta(expired.at(0))["disposition"] == "missed");
  CHECK(replay.tracker.active_calls() == 0);
}

TEST_CASE("Asterisk shutdown ends every call in progress", "[asterisk_ami][calls]") {
  const auto messages = capture("queue_call.ami");
  Replay replay;
  const auto answer_at = find(messages, "DialEnd", "DestChannel", "Local/6002@");
  REQUIRE(replay.feed(messages, 0, answer_at + 1).size() == 3);
  auto out = replay.tracker.on_message(event("Shutdown", {{"Shutdown", "Cleanly"}, {"Restart", "True"}}));
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == "call.ended");
  CHECK(meta(out[0])["cause_txt"] == "asterisk shutdown");
  CHECK(replay.tracker.active_calls() == 0);
  CHECK(replay.feed(messages, answer_at + 1).empty());
}

TEST_CASE("responses and unrelated events are ignored", "[asterisk_ami][calls]") {
  Replay replay;
  Message response;
  response.add("Response", "Success");
  response.add("Linkedid", "1.1");
  CHECK(replay.tracker.on_message(response).empty());
  CHECK(replay.tracker.on_message(event("VarSet", {{"Linkedid", "1.1"}, {"Uniqueid", "1.1"}})).empty());
  CHECK(replay.tracker.on_message(event("Hangup", {{"Linkedid", "9.9"}, {"Uniqueid", "9.9"}})).empty());
  CHECK(replay.tracker.active_calls() == 0);
}
