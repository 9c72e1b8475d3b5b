// The twilio_sms pure layer: signatures on real form bodies, inbound SMS/MMS mapping, status
// callbacks, prepare(), the REST request and the mapping of its answers.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "connectors/twilio_sms/twilio_sms_protocol.hpp"
#include "connectors/webhooks/forms.hpp"
#include "connectors/webhooks/signatures.hpp"
#include "daemon/identity/normalizer.hpp"
#include "daemon/timeline/interaction.hpp"

using namespace omnitrail::connectors;
using namespace omnitrail::connectors::twilio_sms;
using nlohmann::json;

namespace {

const std::string kAccount = "AC0123456789abcdef0123456789abcdef";
const std::string kToken = "twilio-sms-test-token-0123";
const std::string kInboundSid = "SMa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";

// An inbound SMS as Twilio's webhook sends it (urlencoded by Python's urllib, '+' for spaces).
const std::string kInboundBody =
    "ToCountry=GB&SmsMessageSid=SMa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1&NumMedia=0&Body=Gr%C3%BC%C3%9Fe+%F0%9F%91%8B+from+"
    "Zo%C3%AB+%E2%80%94+ok%3F&MessageSid=SMa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1&AccountSid="
    "AC0123456789abcdef0123456789abcdef&From=%2B447911123456&To=%2B441632960000&NumSegments=1&ApiVersion=2010-04-01";

FormParams parse(const std::string& body) {
  std::string error;
  auto params = webhooks::parse_form(body, error);
  INFO(error);
  REQUIRE(params);
  return *params;
}

omnitrail::identity::Normalizer gb_normalizer() {
  omnitrail::identity::NormalizeOptions options;
  options.default_region = "GB";
  options.own_numbers = {"+442079460000"};
  options.blocked_values = {"+447911000666"};
  return omnitrail::identity::Normalizer(options);
}

InboundOptions inbound_options(const omnitrail::identity::Normalizer* normalizer) {
  InboundOptions o;
  o.account_sid = kAccount;
  o.queue = "support";
  o.received_at_ms = 1795525200000;
  o.normalizer = normalizer;
  return o;
}

}  // namespace

// ---- signatures ------------------------------------------------------------------------------

TEST_CASE("twilio_sms signature: Twilio's documented example, from the raw form body") {
  // https://www.twilio.com/docs/usage/webhooks/webhooks-security (also the twilio-php and
  // twilio-csharp RequestValidator tests); recomputed with Python's hmac as a cross-check.
  auto params = parse("CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212");
  const std::string url = request_url("https://mycompany.com/myapp.php", "foo=1&bar=2");
  CHECK(url == "https://mycompany.com/myapp.php?foo=1&bar=2");
  CHECK(webhooks::twilio_signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
  CHECK(webhooks::twilio_valid("12345", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
  CHECK_FALSE(webhooks::twilio_valid("12346", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
  CHECK_FALSE(webhooks::twilio_valid("12345", request_url("https://mycompany.com/myapp.php", "foo=1&bar=3"), params,
                                     "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
}

TEST_CASE("twilio_sms signature: an inbound SMS with UTF-8 and emoji (vector from Python's hmac)") {
  auto params = parse(kInboundBody);
  const std::string url = request_url("https://cc.example.com/webhooks/sms", "");
  CHECK(url == "https://cc.example.com/webhooks/sms");
  CHECK(webhooks::twilio_signature(kToken, url, params) == "q4h4PizTlCH5L1F39z484U6MZTU=");
  CHECK(webhooks::twilio_valid(kToken, url, params, "q4h4PizTlCH5L1F39z484U6MZTU="));
  // Twilio may sign the URL with the explicit default port: both forms are accepted.
  CHECK(webhooks::twilio_signature(kToken, "https://cc.example.com:443/webhooks/sms", params) ==
        "dp9DLO8rjz9g+o7Mq41lx9DOHaY=");
  CHECK(webhooks::twilio_valid(kToken, url, params, "dp9DLO8rjz9g+o7Mq41lx9DOHaY="));
  // One changed byte of the body: invalid.
  auto tampered = params;
  for (auto& [k, v] : tampered) {
    if (k == "Body") v += "!";
  }
  CHECK_FALSE(webhooks::twilio_valid(kToken, url, tampered, "q4h4PizTlCH5L1F39z484U6MZTU="));
}

TEST_CASE("twilio_sms signature: a status callback signs our ?m= query (vector from Python's hmac)") {
  auto params = parse(
      "MessageSid=SMb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2&MessageStatus=undelivered&ErrorCode=30003&AccountSid="
      "AC0123456789abcdef0123456789abcdef&From=%2B441632960000&To=%2B447911123456&ApiVersion=2010-04-01");
  const std::string url = request_url("https://cc.example.com/webhooks/sms/status", "m=m_0123456789abcdef");
  CHECK(webhooks::twilio_valid(kToken, url, params, "MiYOld8opJWLX2pxgaU5rbY38IY="));
  CHECK_FALSE(webhooks::twilio_valid(kToken, request_url("https://cc.example.com/webhooks/sms/status", ""), params,
                                     "MiYOld8opJWLX2pxgaU5rbY38IY="));
  CHECK_FALSE(webhooks::twilio_valid(
      kToken, request_url("https://cc.example.com/webhooks/sms/status", "m=m_0123456789abcdee"), params,
      "MiYOld8opJWLX2pxgaU5rbY38IY="));
}

// ---- inbound ---------------------------------------------------------------------------------

TEST_CASE("twilio_sms inbound: an SMS becomes sms.received in the (customer, our number) conversation") {
  auto normalizer = gb_normalizer();
  std::string error;
  auto in = inbound_to_interaction(parse(kInboundBody), "twilio-sms", error, inbound_options(&normalizer));
  INFO(error);
  REQUIRE(in);
  CHECK(omnitrail::timeline::validate(*in).empty());
  CHECK(in->channel == "sms");
  CHECK(in->direction == "inbound");
  CHECK(in->kind == "sms.received");
  CHECK(in->source == "twilio-sms");
  CHECK(in->external_id == kInboundSid);
  CHECK(in->conversation_key == "sms:+447911123456:+441632960000");
  CHECK(in->from == "+447911123456");
  CHECK(in->to == "+441632960000");
  CHECK(in->text == "Grüße 👋 from Zoë — ok?");
  CHECK(in->occurred_at_ms == 1795525200000);
  REQUIRE(in->customer_identifiers.size() == 1);
  CHECK(in->customer_identifiers[0].raw == "+447911123456");
  CHECK(in->customer_identifiers[0].kind == omnitrail::identity::IdentifierKind::phone);
  json m = json::parse(in->metadata_json);
  CHECK(m["message_sid"] == kInboundSid);
  CHECK(m["account_sid"] == kAccount);
  CHECK(m["our_number"] == "+441632960000");
  CHECK(m["queue"] == "support");
  CHECK(m["num_media"] == 0);
  CHECK(m["num_segments"] == 1);
  CHECK(m["media"] == json::array());
  CHECK(m["messaging_service_sid"].is_null());
}

TEST_CASE("twilio_sms inbound: an MMS keeps its media URLs as metadata; media only needs no Body") {
  FormParams p = {{"MessageSid", "MM" + std::string(32, 'c')},
                  {"AccountSid", kAccount},
                  {"From", "+447911123456"},
                  {"To", "+441632960000"},
                  {"NumMedia", "2"},
                  {"MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC.../Messages/MM.../Media/ME1"},
                  {"MediaContentType0", "image/jpeg"},
                  {"MediaUrl1", "https://api.twilio.com/media/ME2"},
                  {"MediaUrl2", "https://ignored.example.com/beyond-NumMedia"}};
  std::string error;
  auto in = inbound_to_interaction(p, "sms", error, inbound_options(nullptr));
  INFO(error);
  REQUIRE(in);
  CHECK(in->text.empty());
  json m = json::parse(in->metadata_json);
  REQUIRE(m["media"].size() == 2);
  CHECK(m["media"][0]["url"] == "https://api.twilio.com/2010-04-01/Accounts/AC.../Messages/MM.../Media/ME1");
  CHECK(m["media"][0]["content_type"] == "image/jpeg");
  CHECK(m["media"][1]["content_type"].is_null());
  CHECK(m["num_media"] == 2);
}

TEST_CASE("twilio_sms inbound: through the connector's messaging service, the service is the our side") {
  FormParams p = {{"MessageSid", kInboundSid},   {"AccountSid", kAccount}, {"From", "07911 123456"},
                  {"To", "+441632960001"},       {"Body", "hi"},
                  {"MessagingServiceSid", "MG" + std::string(32, 'd')}};
  auto normalizer = gb_normalizer();
  auto options = inbound_options(&normalizer);
  options.messaging_service_sid = "MG" + std::string(32, 'd');
  std::string error;
  auto in = inbound_to_interaction(p, "sms", error, options);
  REQUIRE(in);
  // The national spelling normalises to the same customer key replies use.
  CHECK(in->conversation_key == "sms:+447911123456:MG" + std::string(32, 'd'));
  options.messaging_service_sid = "MG" + std::string(32, 'e');
  in = inbound_to_interaction(p, "sms", error, options);
  REQUIRE(in);
  CHECK(in->conversation_key == "sms:+447911123456:+441632960001");
}

TEST_CASE("twilio_sms inbound: short codes and alphanumeric senders key the conversation by their text") {
  auto normalizer = gb_normalizer();
  CHECK(customer_key(" 12345 ", &normalizer, "") == "12345");
  CHECK(customer_key("BANK", &normalizer, "") == "BANK");
  CHECK(customer_key("07911 123456", &normalizer, "") == "+447911123456");
  CHECK(customer_key("07911 123456", nullptr, "") == "07911 123456");
}

TEST_CASE("twilio_sms inbound: missing or malformed fields are refused with the field's name") {
  auto base = parse(kInboundBody);
  auto without = [&](const std::string& name) {
    FormParams out;
    for (const auto& kv : base) {
      if (kv.first != name) out.push_back(kv);
    }
    return out;
  };
  auto with = [&](const std::string& name, const std::string& value) {
    FormParams out = without(name);
    out.emplace_back(name, value);
    return out;
  };
  struct Case {
    FormParams params;
    std::string expected;
  };
  std::vector<Case> cases = {
      {without("MessageSid"), "MessageSid"},  // SmsMessageSid (legacy) still names it ...
      {with("AccountSid", "AC" + std::string(32, 'f')), "AccountSid: not this connector's account"},
      {without("AccountSid"), "AccountSid: missing"},
      {without("From"), "From: missing"},
      {with("From", "   "), "From: empty"},
      {with("To", std::string(65, '1')), "To: longer than 64 bytes"},
      {with("To", "+44\n1"), "To: contains control characters"},
      {without("Body"), "Body: missing"},
      {with("NumMedia", "x"), "NumMedia: not an integer"},
      {with("NumMedia", "11"), "NumMedia: not an integer 0..10"},
      {with("NumMedia", "1"), "MediaUrl0: missing"},
  };
  // ... so drop both names for the missing-sid case.
  cases[0].params.erase(std::remove_if(cases[0].params.begin(), cases[0].params.end(),
                                       [](const auto& kv) { return kv.first == "SmsMessageSid"; }),
                        cases[0].params.end());
  cases[0].expected = "MessageSid: missing";
  for (const auto& c : cases) {
    std::string error;
    INFO(c.expected);
    CHECK_FALSE(inbound_to_interaction(c.params, "sms", error, inbound_options(nullptr)));
    CHECK(error.find(c.expected) == 0);
  }
  std::string error;
  auto bad_sid = with("MessageSid", "SM-1");
  CHECK_FALSE(inbound_to_interaction(bad_sid, "sms", error, inbound_options(nullptr)));
  CHECK(error == "MessageSid: not 1..64 letters and digits");
  auto media = with("NumMedia", "1");
  media.emplace_back("MediaUrl0", "javascript:alert(1)");
  CHECK_FALSE(inbound_to_interaction(media, "sms", error, inbound_options(nullptr)));
  CHECK(error.find("MediaUrl0: not an http(s) URL") == 0);
  // Informational fields that are malformed are dropped, not fatal.
  auto segments = with("NumSegments", "many");
  auto in = inbound_to_interaction(segments, "sms", error, inbound_options(nullptr));
  REQUIRE(in);
  CHECK(json::parse(in->metadata_json)["num_segments"].is_null());
}

TEST_CASE("twilio_sms inbound: the form parser refuses bad encodings before any mapping") {
  std::string error;
  CHECK_FALSE(webhooks::parse_form("Body=%C3%28&MessageSid=SM1", error));  // invalid UTF-8
  CHECK(error.find("not valid UTF-8") != std::string::npos);
  CHECK_FALSE(webhooks::parse_form("Body=%E2%82&From=1", error));  // truncated sequence
  CHECK_FALSE(webhooks::parse_form("Body=100%&From=1", error));    // bare '%'
  CHECK(error.find("invalid percent escape") != std::string::npos);
  CHECK_FALSE(webhooks::parse_form("=x", error));
}

// ---- status callbacks ------------------------------------------------------------------------

TEST_CASE("twilio_sms status: MessageStatus maps to the core's delivery status") {
  CHECK(delivery_status("queued") == "sent");
  CHECK(delivery_status("sending") == "sent");
  CHECK(delivery_status("sent") == "sent");
  CHECK(delivery_status("accepted") == "sent");
  CHECK(delivery_status("delivered") == "delivered");
  CHECK(delivery_status("read") == "delivered");
  CHECK(delivery_status("failed") == "failed");
  CHECK(delivery_status("undelivered") == "failed");
  CHECK(delivery_status("canceled") == "failed");
  CHECK(delivery_status("receiving").empty());
  CHECK(delivery_status("Delivered").empty());
}

TEST_CASE("twilio_sms status: a report by MessageSid and our message id, with Twilio's error") {
  FormParams p = {{"MessageSid", "SM" + std::string(32, 'b')},
                  {"MessageStatus", "undelivered"},
                  {"ErrorCode", "30003"},
                  {"AccountSid", kAccount}};
  auto s = read_status_callback(p, "m_0123456789abcdef", kAccount, 42);
  REQUIRE(s.outcome == StatusCallback::Outcome::report);
  CHECK(s.report.provider_id == "SM" + std::string(32, 'b'));
  CHECK(s.report.message_id == "m_0123456789abcdef");
  CHECK(s.report.status == "failed");
  CHECK(s.report.error == "Twilio error 30003: unreachable destination handset");
  CHECK(s.report.occurred_at_ms == 42);
  CHECK(s.twilio_status == "undelivered");

  // A malformed m= is not ours: the report goes by MessageSid alone.
  s = read_status_callback(p, "m_0123' OR 1=1", kAccount, 42);
  REQUIRE(s.outcome == StatusCallback::Outcome::report);
  CHECK(s.report.message_id.empty());

  p[1].second = "delivered";
  s = read_status_callback(p, "", kAccount, 42);
  REQUIRE(s.outcome == StatusCallback::Outcome::report);
  CHECK(s.report.status == "delivered");
  CHECK(s.report.error.empty());

  p[1].second = "failed";
  p[2].second = "99999";
  s = read_status_callback(p, "", kAccount, 42);
  CHECK(s.report.error == "Twilio error 99999");
  p.erase(p.begin() + 2);
  s = read_status_callback(p, "", kAccount, 42);
  CHECK(s.report.error == "Twilio status failed");
}

TEST_CASE("twilio_sms status: unknown statuses are ignored, bad callbacks are invalid") {
  FormParams p = {{"MessageSid", "SM" + std::string(32, 'b')}, {"MessageStatus", "receiving"}, {"AccountSid", kAccount}};
  CHECK(read_status_callback(p, "", kAccount, 1).outcome == StatusCallback::Outcome::ignore);
  p[1].second = "DROP TABLE";
  auto s = read_status_callback(p, "", kAccount, 1);
  CHECK(s.outcome == StatusCallback::Outcome::invalid);
  CHECK(s.error == "MessageStatus: not a status word");
  s = read_status_callback({{"MessageStatus", "sent"}, {"AccountSid", kAccount}}, "", kAccount, 1);
  CHECK(s.outcome == StatusCallback::Outcome::invalid);
  CHECK(s.error == "MessageSid: missing");
  s = read_status_callback({{"MessageSid", "SM1"}, {"MessageStatus", "sent"}, {"AccountSid", "ACx"}}, "", kAccount, 1);
  CHECK(s.outcome == StatusCallback::Outcome::invalid);
  CHECK(s.error == "AccountSid: not this connector's account");
  // The legacy names still work.
  s = read_status_callback({{"SmsSid", "SM1"}, {"SmsStatus", "sent"}, {"AccountSid", kAccount}}, "", kAccount, 1);
  CHECK(s.outcome == StatusCallback::Outcome::report);
  CHECK(s.report.status == "sent");
}

// ---- outbound --------------------------------------------------------------------------------

namespace {

OutboundMessage message(const std::string& to, const std::string& text) {
  OutboundMessage m;
  m.id = "m_00000000000000a1";
  m.channel = "sms";
  m.connector = "twilio-sms";
  m.customer_id = "c_1";
  m.agent = "alice";
  m.to = to;
  m.text = text;
  return m;
}

SendOptions send_options() {
  SendOptions o;
  o.api_base_url = "http://127.0.0.1:9";
  o.account_sid = kAccount;
  o.auth_token = kToken;
  o.from = "+441632960000";
  o.status_callback_url = "https://cc.example.com/webhooks/sms/status";
  return o;
}

}  // namespace

TEST_CASE("twilio_sms prepare: to in E.164, from our number, the inbound conversation's key") {
  auto normalizer = gb_normalizer();
  auto m = message("07911 123456", "Thanks, Zoë 👍");
  CHECK(prepare_message(m, send_options(), normalizer, "").empty());
  CHECK(m.to == "+447911123456");
  CHECK(m.from == "+441632960000");
  CHECK(m.external_id == "m_00000000000000a1");
  // Exactly the key the customer's inbound texts get (inbound test above).
  CHECK(m.conversation_key == "sms:+447911123456:+441632960000");
  CHECK(m.metadata["to"] == "+447911123456");
  CHECK(m.metadata["our_number"] == "+441632960000");
  CHECK(m.metadata["messaging_service_sid"].is_null());
  CHECK(m.metadata["encoding"] == "UCS-2");
  CHECK(m.metadata["segments"] == 1);
}

TEST_CASE("twilio_sms prepare: a reply goes from the number the customer wrote to") {
  auto normalizer = gb_normalizer();
  auto m = message("", "reply");
  m.parent = json{{"source", "twilio-sms"},
                  {"channel", "sms"},
                  {"direction", "inbound"},
                  {"from", {{"raw", "+447911123456"}, {"key", "+447911123456"}}},
                  {"to", {{"raw", "+441632960009"}, {"key", nullptr}}},
                  {"metadata", {{"our_number", "+441632960009"}, {"messaging_service_sid", nullptr}}}};
  CHECK(prepare_message(m, send_options(), normalizer, "").empty());
  CHECK(m.to == "+447911123456");
  CHECK(m.from == "+441632960009");
  CHECK(m.conversation_key == "sms:+447911123456:+441632960009");

  // A parent of another connector (a phone call): our configured number.
  auto call = message("", "we tried to call you");
  call.parent = m.parent;
  call.parent["source"] = "pbx";
  call.parent["channel"] = "phone";
  CHECK(prepare_message(call, send_options(), normalizer, "").empty());
  CHECK(call.to == "+447911123456");
  CHECK(call.from == "+441632960000");
}

TEST_CASE("twilio_sms prepare: with a messaging service the service sends and keys the conversation") {
  auto normalizer = gb_normalizer();
  auto options = send_options();
  options.messaging_service_sid = "MG" + std::string(32, 'd');
  auto m = message("+447911123456", "hi");
  CHECK(prepare_message(m, options, normalizer, "").empty());
  CHECK(m.from == options.messaging_service_sid);
  CHECK(m.conversation_key == "sms:+447911123456:" + options.messaging_service_sid);
  CHECK(m.metadata["our_number"].is_null());
  CHECK(m.metadata["messaging_service_sid"] == options.messaging_service_sid);
  auto request = build_send_request(m, options);
  CHECK(request.body.find("MessagingServiceSid=MG") != std::string::npos);
  CHECK(request.body.find("From=") == std::string::npos);
}

TEST_CASE("twilio_sms prepare: refusals name the field") {
  auto normalizer = gb_normalizer();
  struct Case {
    std::string to, text, expected;
  };
  for (const auto& c : std::vector<Case>{
           {"", "x", "to: required"},
           {"12345", "x", "to: not a phone number this connector can text (short_code)"},
           {"020 7946 0000", "x", "to: not a phone number this connector can text (own_value)"},
           {"+447911000666", "x", "to: not a phone number this connector can text (blocked)"},
           {"not a number", "x", "to: not a phone number this connector can text (invalid)"},
           {"+447911123456;ext=12", "x", "to: a number with an extension"},
           {"+447911123456", std::string(1601, 'a'), "text: 1601 characters; Twilio sends at most 1600"},
       }) {
    auto m = message(c.to, c.text);
    std::string error = prepare_message(m, send_options(), normalizer, "");
    INFO(c.to << " -> " << error);
    CHECK(error.find(c.expected) == 0);
  }
  // 1600 characters of 4-byte emoji (6400 bytes) are still one Twilio message.
  std::string emoji;
  for (int i = 0; i < 1600; ++i) emoji += "😀";
  auto m = message("+447911123456", emoji);
  CHECK(prepare_message(m, send_options(), normalizer, "").empty());
  CHECK(m.metadata["segments"] == (3200 + 66) / 67);
  auto none = send_options();
  none.from.clear();
  m = message("+447911123456", "x");
  CHECK(prepare_message(m, none, normalizer, "").find("from: ") == 0);
}

TEST_CASE("twilio_sms segments: GSM-7 with its extension table, else UCS-2") {
  CHECK(count_segments("hello").encoding == "GSM-7");
  CHECK(count_segments("hello").segments == 1);
  CHECK(count_segments(std::string(160, 'a')).segments == 1);
  CHECK(count_segments(std::string(161, 'a')).segments == 2);
  CHECK(count_segments(std::string(306, 'a')).segments == 2);
  CHECK(count_segments(std::string(307, 'a')).segments == 3);
  auto euro = count_segments("€10 {x}");  // extension characters count twice
  CHECK(euro.encoding == "GSM-7");
  CHECK(euro.units == 10);
  CHECK(count_segments("Grüße à Zoé £5 ¿Δ?").encoding == "GSM-7");
  CHECK(count_segments("Zoë").encoding == "UCS-2");
  auto emoji = count_segments("ok 👍");
  CHECK(emoji.encoding == "UCS-2");
  CHECK(emoji.units == 5);  // the emoji is a surrogate pair
  CHECK(count_segments(std::string(70, 'a') + "ç").segments == 2);  // ç is not GSM-7: 71 UCS-2 units
  CHECK(count_segments("`").encoding == "UCS-2");
  CHECK(code_points("Zoë 👍") == 5);
}

TEST_CASE("twilio_sms request: the Messages REST call, form-encoded, Basic auth, our status callback") {
  auto normalizer = gb_normalizer();
  auto m = message("+447911123456", "Grüße 👋 & =+ ok?");
  REQUIRE(prepare_message(m, send_options(), normalizer, "").empty());
  auto r = build_send_request(m, send_options());
  CHECK(r.method == "POST");
  CHECK(r.url == "http://127.0.0.1:9/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
  CHECK(r.body ==
        "To=%2B447911123456&From=%2B441632960000&Body=Gr%C3%BC%C3%9Fe%20%F0%9F%91%8B%20%26%20%3D%2B%20ok%3F"
        "&StatusCallback=https%3A%2F%2Fcc.example.com%2Fwebhooks%2Fsms%2Fstatus%3Fm%3Dm_00000000000000a1");
  CHECK(r.basic_auth_user == kAccount);
  CHECK(r.basic_auth_password == kToken);
  CHECK(r.timeout == std::chrono::milliseconds(15000));
  CHECK(r.connect_timeout == std::chrono::milliseconds(5000));
  bool form = false;
  for (const auto& [k, v] : r.headers) {
    if (k == "Content-Type") form = v == "application/x-www-form-urlencoded";
    CHECK(v.find(kToken) == std::string::npos);
  }
  CHECK(form);
  CHECK(r.body.find(kToken) == std::string::npos);
  // The body decodes back to exactly the text (round trip through the strict parser).
  auto decoded = parse(r.body);
  CHECK(*webhooks::form_value(decoded, "Body") == "Grüße 👋 & =+ ok?");
  // No status callbacks configured: no StatusCallback parameter.
  auto quiet = send_options();
  quiet.status_callback_url.clear();
  CHECK(build_send_request(m, quiet).body.find("StatusCallback") == std::string::npos);
}

TEST_CASE("twilio_sms response: 201 sent with the sid, 5xx/429/no answer retried, other 4xx failed") {
  omnitrail::net::HttpResponse r;
  r.status = 201;
  r.body = R"({"sid": "SMd4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4", "status": "queued", "error_code": null})";
  auto s = map_send_response(r);
  CHECK(s.outcome == SendResult::Outcome::sent);
  CHECK(s.provider_id == "SMd4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4");
  CHECK(s.provider_code == 201);
  r.body = "not json";  // accepted anyway: Twilio has it, never resend
  CHECK(map_send_response(r).outcome == SendResult::Outcome::sent);
  CHECK(map_send_response(r).provider_id.empty());

  r.status = 400;
  r.body = R"({"code": 21211, "message": "The 'To' number +4477 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})";
  s = map_send_response(r);
  CHECK(s.outcome == SendResult::Outcome::failed);
  CHECK(s.error == "HTTP 400 Twilio error 21211: The 'To' number +4477 is not a valid phone number.");
  CHECK(s.provider_code == 400);
  r.status = 401;
  r.body = R"({"code": 20003, "message": "Authenticate"})";
  CHECK(map_send_response(r).outcome == SendResult::Outcome::failed);
  r.status = 404;
  r.body = "<html>\n\x01nope</html>";
  s = map_send_response(r);
  CHECK(s.outcome == SendResult::Outcome::failed);
  CHECK(s.error == "HTTP 404");

  for (int status : {500, 502, 503, 429}) {
    r.status = status;
    r.body = R"({"code": 20500, "message": "Internal Server Error"})";
    s = map_send_response(r);
    CHECK(s.outcome == SendResult::Outcome::retry);
    CHECK(s.error == "HTTP " + std::to_string(status) + " Twilio error 20500: Internal Server Error");
  }
  r.status = 400;
  r.body = R"({"code": 21617, "message": ")" + std::string(1000, 'x') + "\"}";
  CHECK(map_send_response(r).error.size() <= 300);

  omnitrail::net::HttpResponse none;
  none.error = "Couldn't connect to server";
  none.connect_failed = true;
  s = map_send_response(none);
  CHECK(s.outcome == SendResult::Outcome::retry);
  CHECK(s.error == "cannot connect: Couldn't connect to server");
  CHECK(s.provider_code == 0);
  none = {};
  none.error = "Operation timed out after 15000 milliseconds";
  none.timed_out = true;
  s = map_send_response(none);
  CHECK(s.outcome == SendResult::Outcome::retry);
  CHECK(s.error.find("timeout: ") == 0);
  none = {};
  none.error = "stopped";
  CHECK(map_send_response(none).error == "stopping");
  CHECK(map_send_response(none).outcome == SendResult::Outcome::retry);
}

TEST_CASE("twilio_sms: SID and E.164 shapes") {
  CHECK(is_sid(kAccount, "AC"));
  CHECK_FALSE(is_sid(kAccount, "MG"));
  CHECK_FALSE(is_sid("AC0123", "AC"));
  CHECK_FALSE(is_sid("AC0123456789abcdef0123456789abcdeg", "AC"));
  CHECK(is_e164("+441632960000"));
  CHECK_FALSE(is_e164("441632960000"));
  CHECK_FALSE(is_e164("+041632960000"));
  CHECK_FALSE(is_e164("+44 1632 960000"));
  CHECK_FALSE(is_e164("+1234567890123456"));
  CHECK(conversation_key("+447911123456", "+441632960000") == "sms:+447911123456:+441632960000");
}

TEST_CASE("twilio_sms lookup: before a resend, find the message an unanswered attempt may have created") {
  auto normalizer = gb_normalizer();
  auto m = message("+447911123456", "Your order ships today 📦");
  m.created_at_ms = 1795525200000;  // Tue, 24 Nov 2026 13:00:00 +0000
  REQUIRE(prepare_message(m, send_options(), normalizer, "").empty());
  auto request = build_lookup_request(m, send_options());
  CHECK(request.method == "GET");
  CHECK(request.url ==
        "http://127.0.0.1:9/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json?To=%2B447911123456"
        "&From=%2B441632960000&PageSize=50");
  CHECK(request.basic_auth_password == kToken);
  CHECK(request.body.empty());

  auto item = [&](std::string sid, std::string body, std::string created) {
    return json{{"sid", sid},         {"to", "+447911123456"},         {"from", "+441632960000"},
                {"body", body},       {"direction", "outbound-api"},   {"messaging_service_sid", nullptr},
                {"status", "queued"}, {"date_created", created}};
  };
  omnitrail::net::HttpResponse r;
  r.status = 200;
  json list = {{"messages",
                {item("SM01", "Your order ships today 📦", "Tue, 24 Nov 2026 12:59:00 +0000"),  // older: not this one
                 item("SM02", "Your order ships today", "Tue, 24 Nov 2026 13:00:01 +0000"),     // other text
                 item("SM03", "Your order ships today 📦", "Tue, 24 Nov 2026 13:00:02 +0000")}}};
  r.body = list.dump();
  auto found = find_sent_message(r, m, m.created_at_ms - 5000, nullptr);
  CHECK(found.outcome == LookupResult::Outcome::found);
  CHECK(found.sid == "SM03");
  // A sid this connector already has for another message is not this one.
  found = find_sent_message(r, m, m.created_at_ms - 5000, [](const std::string& sid) { return sid == "SM03"; });
  CHECK(found.outcome == LookupResult::Outcome::not_found);
  // Inbound messages and other senders do not count.
  list["messages"][2]["direction"] = "inbound";
  r.body = list.dump();
  CHECK(find_sent_message(r, m, m.created_at_ms - 5000, nullptr).outcome == LookupResult::Outcome::not_found);
  list["messages"][2]["direction"] = "outbound-api";
  list["messages"][2]["from"] = "+441632960009";
  r.body = list.dump();
  CHECK(find_sent_message(r, m, m.created_at_ms - 5000, nullptr).outcome == LookupResult::Outcome::not_found);

  // Through a messaging service the service sid must match (From is the number Twilio chose).
  auto service = send_options();
  service.messaging_service_sid = "MG" + std::string(32, 'd');
  auto via = message("+447911123456", "Your order ships today 📦");
  via.created_at_ms = m.created_at_ms;
  REQUIRE(prepare_message(via, service, normalizer, "").empty());
  CHECK(build_lookup_request(via, service).url.find("From=") == std::string::npos);
  list["messages"][2]["messaging_service_sid"] = service.messaging_service_sid;
  r.body = list.dump();
  CHECK(find_sent_message(r, via, via.created_at_ms - 5000, nullptr).sid == "SM03");

  // The list cannot be read: an error, never "not found".
  r.status = 401;
  r.body = R"({"code": 20003, "message": "Authenticate"})";
  auto error = find_sent_message(r, m, 0, nullptr);
  CHECK(error.outcome == LookupResult::Outcome::error);
  CHECK(error.error == "cannot list messages: HTTP 401 Twilio error 20003: Authenticate");
  r.status = 200;
  r.body = "{}";
  CHECK(find_sent_message(r, m, 0, nullptr).outcome == LookupResult::Outcome::error);
  omnitrail::net::HttpResponse none;
  none.error = "Connection refused";
  CHECK(find_sent_message(none, m, 0, nullptr).outcome == LookupResult::Outcome::error);
}
