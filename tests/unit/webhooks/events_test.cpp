// CTI and Twilio event mapping, the sequence guard and TwiML.
#include <catch2/catch.hpp>

#include "connectors/webhooks/events.hpp"

using namespace omnitrail::connectors::webhooks;
using nlohmann::json;
using omnitrail::timeline::Interaction;

namespace {

json cti(std::string event) {
  return json{{"event", event},       {"call_id", "c-42"},   {"from", "+14155550100"}, {"to", "6001"},
              {"direction", "inbound"}, {"extension", "6001"}, {"queue", "sales"},       {"user", "alice"},
              {"timestamp", "2026-11-24T13:00:00Z"}};
}

std::string cti_error(const json& body, const MappingOptions& options = {}) {
  std::string error;
  auto in = cti_event_to_interaction(body, "pbx", error, options);
  CHECK_FALSE(in);
  return error;
}

FormParams twilio(std::string status) {
  return {{"CallSid", "CA0123456789abcdef0123456789abcdef"},
          {"AccountSid", "AC0123456789abcdef0123456789abcdef"},
          {"From", "+14155550100"},
          {"To", "+18005550199"},
          {"CallStatus", std::move(status)},
          {"Direction", "inbound"},
          {"Timestamp", "Tue, 24 Nov 2026 13:00:05 +0000"}};
}

FormParams with(FormParams params, const std::string& name, const std::string& value) {
  for (auto& p : params) {
    if (p.first == name) {
      p.second = value;
      return params;
    }
  }
  params.emplace_back(name, value);
  return params;
}

FormParams without(FormParams params, const std::string& name) {
  std::erase_if(params, [&](const auto& p) { return p.first == name; });
  return params;
}

Interaction map_twilio(const FormParams& params, const MappingOptions& options = {}) {
  std::string error;
  auto in = twilio_voice_to_interaction(params, "twilio", error, options);
  INFO(error);
  REQUIRE(in);
  return *in;
}

std::string twilio_error(const FormParams& params, const MappingOptions& options = {}) {
  std::string error;
  CHECK_FALSE(twilio_voice_to_interaction(params, "twilio", error, options));
  return error;
}

constexpr std::int64_t nov24_13h = 1795525200000;  // 2026-11-24T13:00:00Z

}  // namespace

TEST_CASE("CTI newCall maps to call.ringing with routing metadata", "[cti]") {
  std::string error;
  auto in = cti_event_to_interaction(cti("newCall"), "pbx", error);
  INFO(error);
  REQUIRE(in);
  CHECK(in->channel == "phone");
  CHECK(in->kind == "call.ringing");
  CHECK(in->direction == "inbound");
  CHECK(in->source == "pbx");
  CHECK(in->external_id == "c-42:newCall");
  CHECK(in->conversation_key == "c-42");
  CHECK(in->from == "+14155550100");
  CHECK(in->to == "6001");
  CHECK(in->agent == "alice");
  CHECK(in->occurred_at_ms == nov24_13h);
  CHECK_FALSE(in->ends_conversation);
  REQUIRE(in->customer_identifiers.size() == 1);
  CHECK(in->customer_identifiers[0].raw == "+14155550100");
  CHECK(in->customer_identifiers[0].kind == omnitrail::identity::IdentifierKind::phone);
  auto metadata = json::parse(in->metadata_json);
  CHECK(metadata["extension"] == "6001");
  CHECK(metadata["queue"] == "sales");
  CHECK(metadata["call_id"] == "c-42");
  CHECK(omnitrail::timeline::validate(*in).empty());
}

TEST_CASE("CTI answer and hangup map to answered and ended", "[cti]") {
  std::string error;
  auto answered = cti_event_to_interaction(cti("answer"), "pbx", error);
  REQUIRE(answered);
  CHECK(answered->kind == "call.answered");
  CHECK(answered->external_id == "c-42:answer");
  CHECK_FALSE(answered->ends_conversation);
  json hangup = cti("hangup");
  hangup["duration"] = 73;
  auto ended = cti_event_to_interaction(hangup, "pbx", error);
  REQUIRE(ended);
  CHECK(ended->kind == "call.ended");
  CHECK(ended->external_id == "c-42:hangup");
  CHECK(ended->ends_conversation);
  CHECK(json::parse(ended->metadata_json)["duration_seconds"] == 73);
}

TEST_CASE("CTI outbound calls name the called party as the customer", "[cti]") {
  json body = cti("newCall");
  body["direction"] = "outbound";
  body["from"] = "6001";
  body["to"] = "+442071838750";
  std::string error;
  auto in = cti_event_to_interaction(body, "pbx", error);
  REQUIRE(in);
  CHECK(in->direction == "outbound");
  REQUIRE(in->customer_identifiers.size() == 1);
  CHECK(in->customer_identifiers[0].raw == "+442071838750");
}

TEST_CASE("CTI optional fields, defaults and accepted spellings", "[cti]") {
  json body = {{"event", "newCall"}, {"call_id", "x"}, {"from", ""}, {"to", "6001"}, {"extension", 6001},
               {"timestamp", 1795525200123}, {"unknown_future_field", {1, 2}}};
  MappingOptions options;
  options.queue = "support";
  options.region = "GB";
  std::string error;
  auto in = cti_event_to_interaction(body, "pbx", error, options);
  INFO(error);
  REQUIRE(in);
  CHECK(in->direction == "inbound");
  CHECK(in->occurred_at_ms == 1795525200123);
  CHECK(in->region == "GB");
  CHECK(in->customer_identifiers.empty());  // anonymous caller
  auto metadata = json::parse(in->metadata_json);
  CHECK(metadata["extension"] == "6001");
  CHECK(metadata["queue"] == "support");
  // No timestamp: the receive time is used; without one either, it is an error.
  body.erase("timestamp");
  options.received_at_ms = 42;
  in = cti_event_to_interaction(body, "pbx", error, options);
  REQUIRE(in);
  CHECK(in->occurred_at_ms == 42);
  CHECK(cti_error(body) == "timestamp: required");
}

TEST_CASE("CTI missing and mistyped fields are named", "[cti]") {
  for (const char* field : {"event", "call_id", "from", "to"}) {
    json body = cti("newCall");
    body.erase(field);
    CHECK(cti_error(body) == std::string(field) + ": required");
    body[field] = 5;
    CHECK(cti_error(body) == std::string(field) + ": must be a string");
  }
  json body = cti("ring");
  CHECK(cti_error(body) == "event: must be one of newCall, answer, hangup");
  body = cti("newCall");
  body["direction"] = "sideways";
  CHECK(cti_error(body) == "direction: must be inbound or outbound");
  body = cti("newCall");
  body["call_id"] = "";
  CHECK(cti_error(body) == "call_id: must not be empty");
  body["call_id"] = std::string(257, 'x');
  CHECK(cti_error(body) == "call_id: longer than 256 bytes");
  body = cti("newCall");
  body["extension"] = -1;
  CHECK(cti_error(body) == "extension: must be a string or a non-negative integer");
  body["extension"] = 60.5;
  CHECK(cti_error(body) == "extension: must be a string or a non-negative integer");
  body = cti("newCall");
  body["timestamp"] = "yesterday";
  CHECK(cti_error(body).rfind("timestamp:", 0) == 0);
  body["timestamp"] = true;
  CHECK(cti_error(body).rfind("timestamp:", 0) == 0);
  body = cti("hangup");
  body["duration"] = -3;
  CHECK(cti_error(body) == "duration: must be a non-negative number of seconds");
  body["duration"] = "73";
  CHECK(cti_error(body) == "duration: must be a non-negative number of seconds");
  body = cti("newCall");
  body["user"] = json::array();
  CHECK(cti_error(body) == "user: must be a string");
  body = cti("newCall");
  body["from"] = "+1415\n5550100";
  CHECK(cti_error(body) == "from: must be printable UTF-8 text");
  CHECK(cti_error(json::array()) == "body: must be a JSON object");
}

TEST_CASE("Twilio CallStatus maps to call kinds", "[twilio]") {
  CHECK(map_twilio(twilio("queued")).kind == "call.initiated");
  CHECK(map_twilio(twilio("initiated")).kind == "call.initiated");
  auto ringing = map_twilio(twilio("ringing"));
  CHECK(ringing.kind == "call.ringing");
  CHECK(ringing.external_id == "CA0123456789abcdef0123456789abcdef:ringing");
  CHECK(ringing.conversation_key == "CA0123456789abcdef0123456789abcdef");
  CHECK(ringing.direction == "inbound");
  CHECK(ringing.occurred_at_ms == nov24_13h + 5000);
  REQUIRE(ringing.customer_identifiers.size() == 1);
  CHECK(ringing.customer_identifiers[0].raw == "+14155550100");
  CHECK(omnitrail::timeline::validate(ringing).empty());
  CHECK(map_twilio(twilio("in-progress")).kind == "call.answered");
  for (const char* status : {"completed", "busy", "failed", "no-answer", "canceled"}) {
    auto ended = map_twilio(with(twilio(status), "CallDuration", "12"));
    CHECK(ended.kind == "call.ended");
    CHECK(ended.ends_conversation);
    auto metadata = json::parse(ended.metadata_json);
    CHECK(metadata["disposition"] == status);
    CHECK(metadata["duration_seconds"] == 12);
    CHECK(twilio_status_terminal(status));
  }
  CHECK_FALSE(twilio_status_terminal("ringing"));
  CHECK(twilio_error(twilio("answered")).rfind("CallStatus:", 0) == 0);
}

TEST_CASE("Twilio child legs group under the parent and do not end it", "[twilio]") {
  auto leg = with(with(twilio("no-answer"), "ParentCallSid", "CAparent"), "Direction", "outbound-dial");
  leg = with(leg, "To", "client:alice");
  auto in = map_twilio(leg);
  CHECK(in.conversation_key == "CAparent");
  CHECK(in.kind == "call.leg_ended");
  CHECK_FALSE(in.ends_conversation);
  CHECK(in.agent == "alice");
  CHECK(in.direction == "inbound");
  CHECK(json::parse(in.metadata_json)["parent_call_sid"] == "CAparent");
  auto answered = map_twilio(with(leg, "CallStatus", "in-progress"));
  CHECK(answered.kind == "call.answered");
  CHECK(answered.agent == "alice");
}

TEST_CASE("Twilio Direction decides who the customer is", "[twilio]") {
  auto api_call = map_twilio(with(twilio("ringing"), "Direction", "outbound-api"));
  CHECK(api_call.direction == "outbound");
  REQUIRE(api_call.customer_identifiers.size() == 1);
  CHECK(api_call.customer_identifiers[0].raw == "+18005550199");
  auto dial_pstn = map_twilio(with(twilio("ringing"), "Direction", "outbound-dial"));
  CHECK(dial_pstn.direction == "outbound");
  CHECK(dial_pstn.customer_identifiers[0].raw == "+18005550199");
  auto from_client = map_twilio(with(twilio("ringing"), "From", "client:bob"));
  CHECK(from_client.direction == "outbound");
  CHECK(from_client.agent == "bob");
  CHECK(from_client.customer_identifiers[0].raw == "+18005550199");
  auto named = map_twilio(with(twilio("ringing"), "CallerName", "Ada Lovelace"));
  CHECK(named.customer_display_name == "Ada Lovelace");
  CHECK(twilio_error(with(twilio("ringing"), "Direction", "sideways")).rfind("Direction:", 0) == 0);
}

TEST_CASE("Twilio required and malformed parameters are refused", "[twilio]") {
  for (const char* name : {"CallSid", "CallStatus", "Direction", "From", "To"}) {
    CHECK(twilio_error(without(twilio("ringing"), name)) == std::string(name) + ": required");
  }
  CHECK(twilio_error(with(twilio("ringing"), "CallSid", "CA-1")).rfind("CallSid:", 0) == 0);
  CHECK(twilio_error(with(twilio("ringing"), "SequenceNumber", "x")) == "SequenceNumber: must be a non-negative integer");
  CHECK(twilio_error(with(twilio("ringing"), "SequenceNumber", "-1")) == "SequenceNumber: must be a non-negative integer");
  CHECK(twilio_error(with(twilio("completed"), "CallDuration", "1.5")) == "CallDuration: must be a non-negative integer");
  CHECK(twilio_error(with(twilio("ringing"), "From", std::string(300, '1'))).rfind("From:", 0) == 0);
  MappingOptions account;
  account.account_sid = "ACother";
  CHECK(twilio_error(twilio("ringing"), account) == "AccountSid: does not match the connector's account_sid");
  account.account_sid = "AC0123456789abcdef0123456789abcdef";
  CHECK(map_twilio(twilio("ringing"), account).kind == "call.ringing");
}

TEST_CASE("Twilio time comes from Timestamp or the receive time", "[twilio]") {
  CHECK(parse_rfc2822_time("Tue, 24 Nov 2026 13:00:05 +0000") == nov24_13h + 5000);
  CHECK(parse_rfc2822_time("24 Nov 2026 14:00:05 +0100") == nov24_13h + 5000);
  CHECK(parse_rfc2822_time("Tue, 24 Nov 2026 08:00:05 -0500") == nov24_13h + 5000);
  CHECK(parse_rfc2822_time("Tue, 24 Nov 2026 13:00:05 GMT") == nov24_13h + 5000);
  CHECK_FALSE(parse_rfc2822_time("2026-11-24T13:00:05Z"));
  CHECK_FALSE(parse_rfc2822_time("Tue, 24 Foo 2026 13:00:05 +0000"));
  CHECK_FALSE(parse_rfc2822_time("Tue, 32 Nov 2026 13:00:05 +0000"));
  CHECK_FALSE(parse_rfc2822_time("Tue, 24 Nov 2026 13:00 +0000"));
  MappingOptions options;
  options.received_at_ms = 7;
  CHECK(map_twilio(without(twilio("ringing"), "Timestamp"), options).occurred_at_ms == 7);
  CHECK(map_twilio(with(twilio("ringing"), "Timestamp", "garbage"), options).occurred_at_ms == 7);
  CHECK(twilio_error(without(twilio("ringing"), "Timestamp")).rfind("Timestamp:", 0) == 0);
}

TEST_CASE("SequenceGuard never moves a call backwards", "[twilio]") {
  SequenceGuard guard;
  CHECK(guard.admit("CA1", std::nullopt, false));  // initial voice request
  CHECK(guard.admit("CA1", 0, false));             // initiated
  CHECK(guard.admit("CA1", 2, false));             // in-progress arrives first
  CHECK_FALSE(guard.admit("CA1", 1, false));       // late ringing: ignored
  CHECK_FALSE(guard.admit("CA1", 2, false));       // duplicate
  CHECK(guard.admit("CA1", 3, true));              // completed
  CHECK_FALSE(guard.admit("CA1", 4, false));       // nothing after the end
  CHECK_FALSE(guard.admit("CA1", 3, true));        // retry of the end
  CHECK_FALSE(guard.admit("CA1", std::nullopt, false));
}

TEST_CASE("SequenceGuard keeps a late terminal status when no end was seen", "[twilio]") {
  SequenceGuard guard;
  CHECK(guard.admit("CA2", 5, false));
  CHECK(guard.admit("CA2", 4, true));         // older, but the first end: kept
  CHECK_FALSE(guard.admit("CA2", 3, true));   // a second end is not
  CHECK_FALSE(guard.admit("CA2", 6, false));  // and the call stays ended
  // Calls are independent.
  CHECK(guard.admit("CA3", 1, false));
}

TEST_CASE("SequenceGuard is a bounded LRU", "[twilio]") {
  SequenceGuard guard(2);
  CHECK(guard.admit("A", 5, false));
  CHECK(guard.admit("B", 5, false));
  CHECK_FALSE(guard.admit("A", 1, false));  // touches A: B is now the oldest
  CHECK(guard.admit("C", 1, false));        // evicts B
  CHECK(guard.size() == 2);
  CHECK(guard.admit("B", 1, false));        // B forgotten: treated as new (evicts A)
  CHECK_FALSE(guard.admit("C", 0, false));  // C kept
}

TEST_CASE("TwiML answer escapes text and picks the dial noun", "[twiml]") {
  CHECK(twiml_answer("Hello", "+18005550199") ==
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Say>Hello</Say><Dial>+18005550199</Dial></Response>\n");
  CHECK(twiml_answer("a<b & \"c\" 'd'>", "") ==
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Response><Say>a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;</Say></Response>\n");
  CHECK(twiml_answer("", "client:al<ice") ==
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Dial><Client>al&lt;ice</Client></Dial></Response>\n");
  CHECK(twiml_answer("", "sip:6001@pbx.example?x=1&y=2").find("<Dial><Sip>sip:6001@pbx.example?x=1&amp;y=2</Sip></Dial>") !=
        std::string::npos);
  CHECK(twiml_answer("", "") == "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response></Response>\n");
  // Control characters are dropped, invalid UTF-8 replaced, valid UTF-8 kept.
  CHECK(twiml_answer(std::string("a\x01" "b\xff" "c caf\xc3\xa9", 11), "").find("<Say>ab\xEF\xBF\xBD" "c caf\xc3\xa9</Say>") !=
        std::string::npos);
}
