// kannel_protocol: the MO and DLR requests Kannel makes, the sendsms URL and reply, the
// conversation key and the source allow list. The nasty cases are the point: every function
// here reads bytes from the network.
#include "connectors/kannel/kannel_protocol.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "daemon/util/hmac.hpp"

using namespace omnitrail::connectors::kannel;
using omnitrail::connectors::SendResult;
using namespace std::string_literals;

namespace {

constexpr std::int64_t kNow = 1795525200000;  // 2026-11-25

Params params(std::string_view query) {
  std::string error;
  auto p = parse_params(query, error);
  INFO(error);
  REQUIRE(p);
  return *p;
}

std::string params_error(std::string_view query, std::size_t max_fields = 64, std::size_t max_value = 64 * 1024) {
  std::string error;
  auto p = parse_params(query, error, max_fields, max_value);
  CHECK_FALSE(p);
  return error;
}

std::optional<MoMessage> mo(std::string_view query, std::string& error) {
  MoRequest request;
  request.params = params(query);
  return parse_mo(request, kNow, error);
}

MoMessage mo_ok(std::string_view query) {
  std::string error;
  auto m = mo(query, error);
  INFO(error);
  REQUIRE(m);
  return *m;
}

std::string mo_error(std::string_view query) {
  std::string error;
  auto m = mo(query, error);
  CHECK_FALSE(m);
  return error;
}

const std::string kBase = "id=0f8c1b2a-1111-2222-3333-444455556666&from=%2B447700900123&to=%2B447700900999";

}  // namespace

TEST_CASE("parameters decode percent escapes and '+' and keep raw bytes", "[kannel][params]") {
  auto p = params("a=1&b=x+y&c=%2B44&d=%00%ff&e=&f");
  REQUIRE(p.size() == 6);
  CHECK(p[1].second == "x y");
  CHECK(p[2].second == "+44");
  CHECK(p[3].second == "\0\xff"s);  // not UTF-8: kept as bytes for the coding to decide
  CHECK(p[4].second.empty());
  CHECK(p[5] == std::pair<std::string, std::string>{"f", ""});
  CHECK(params("a=1&&b=2&").size() == 2);
  CHECK(params("").empty());
  CHECK(*find_param(params("a=1&a=2"), "a") == "1");
  CHECK(find_param(params("a=1"), "b") == nullptr);
}

TEST_CASE("parameters refuse bad escapes, odd names and excess", "[kannel][params]") {
  CHECK(params_error("a=%") == "parameter 1 (a): invalid percent escape");
  CHECK(params_error("a=%4") == "parameter 1 (a): invalid percent escape");
  CHECK(params_error("a=%zz") == "parameter 1 (a): invalid percent escape");
  CHECK(params_error("a=1&=2").find("empty name") != std::string::npos);
  CHECK(params_error("a%00b=1").find("not a plain parameter name") != std::string::npos);
  CHECK(params_error("a%20b=1").find("not a plain parameter name") != std::string::npos);
  CHECK(params_error("%=1").find("not a plain parameter name") != std::string::npos);
  CHECK(params_error("a=1&b=2&c=3", 2) == "more than 2 parameters");
  CHECK(params_error("a=12345", 64, 4).find("longer than 4 bytes") != std::string::npos);
  CHECK(params_error("a=" + std::string(13, 'x'), 64, 4).find("longer than 4 bytes") != std::string::npos);
  // The value never appears in the error.
  CHECK(params_error("secret=hunter2%zz").find("hunter2") == std::string::npos);
}

TEST_CASE("an MO request gives the message", "[kannel][mo]") {
  auto m = mo_ok(kBase + "&text=Hello+there%2C+order+%231234&coding=0&charset=UTF-8&time=1795525100&smsc=fake1");
  CHECK(m.id == "0f8c1b2a-1111-2222-3333-444455556666");
  CHECK(m.from == "+447700900123");
  CHECK(m.to == "+447700900999");
  CHECK(m.text == "Hello there, order #1234");
  CHECK(m.coding == 0);
  CHECK(m.charset == "UTF-8");
  CHECK(m.time_ms == 1795525100000);
  CHECK(m.smsc == "fake1");
}

TEST_CASE("MO text: UTF-8, UCS-2 (UTF-16BE) and Latin-1", "[kannel][mo]") {
  CHECK(mo_ok(kBase + "&text=%F0%9F%91%8D+caf%C3%A9&coding=-1").text == "👍 café");
  // Kannel's %C is UTF-16BE for coding 2; the charset alone also decides.
  CHECK(mo_ok(kBase + "&text=%D8%3D%DC%4D%00%20%04%1F&coding=2&charset=UTF-16BE").text == "👍 П");
  CHECK(mo_ok(kBase + "&text=%D8%3D%DC%4D&coding=2").text == "👍");
  CHECK(mo_ok(kBase + "&text=%D8%3D%DC%4D&charset=ucs-2").text == "👍");
  // smsbox mo-recode: a UCS-2 message recoded to UTF-8 keeps coding 2 and says UTF-8.
  CHECK(mo_ok(kBase + "&text=%F0%9F%91%8D&coding=2&charset=UTF-8").text == "👍");
  CHECK(mo_ok(kBase + "&text=caf%E9&charset=ISO-8859-1").text == "café");
  // 8-bit with a text charset is text.
  CHECK(mo_ok(kBase + "&text=ok&coding=1&charset=UTF-8").text == "ok");
  // An empty SMS exists.
  CHECK(mo_ok(kBase + "&text=").text.empty());
  // Newlines and spaces are kept as sent (%b, not %a which joins words).
  CHECK(mo_ok(kBase + "&text=a++b%0Ac").text == "a  b\nc");
}

TEST_CASE("MO requests missing a field are refused, naming it", "[kannel][mo]") {
  CHECK(mo_error("from=1&to=2&text=x").rfind("id: missing", 0) == 0);
  CHECK(mo_error("id=1&to=2&text=x").rfind("from: missing", 0) == 0);
  CHECK(mo_error("id=1&from=1&text=x").rfind("to: missing", 0) == 0);
  CHECK(mo_error("id=1&from=&to=2&text=x").rfind("from: missing", 0) == 0);
  CHECK(mo_error(kBase).rfind("text: missing", 0) == 0);
}

TEST_CASE("MO requests with bad encodings or values are refused", "[kannel][mo]") {
  CHECK(mo_error(kBase + "&text=%FF%FE").rfind("text: not valid UTF-8", 0) == 0);
  CHECK(mo_error(kBase + "&text=%C0%AF").rfind("text: not valid UTF-8", 0) == 0);      // overlong '/'
  CHECK(mo_error(kBase + "&text=%ED%A0%80").rfind("text: not valid UTF-8", 0) == 0);   // surrogate
  CHECK(mo_error(kBase + "&text=a%00b").rfind("text: not valid UTF-8", 0) == 0);       // NUL
  CHECK(mo_error(kBase + "&text=%00A%00&coding=2").rfind("text: not valid UTF-16BE", 0) == 0);
  CHECK(mo_error(kBase + "&text=%D8%3D&coding=2").rfind("text: not valid UTF-16BE", 0) == 0);
  CHECK(mo_error(kBase + "&text=%01%02&coding=1").rfind("text: a binary (8-bit) message", 0) == 0);
  CHECK(mo_error(kBase + "&text=%01%02&coding=1&charset=8-BIT").rfind("text: a binary", 0) == 0);
  CHECK(mo_error(kBase + "&text=x&charset=EBCDIC").rfind("charset: not one", 0) == 0);
  CHECK(mo_error(kBase + "&text=x&coding=3").rfind("coding: must be", 0) == 0);
  CHECK(mo_error(kBase + "&text=x&coding=zero").rfind("coding: must be", 0) == 0);
  CHECK(mo_error("id=a+b&from=1&to=2&text=x").rfind("id: must be", 0) == 0);
  CHECK(mo_error("id=1&from=%0A1&to=2&text=x").rfind("from: must be", 0) == 0);
  CHECK(mo_error("id=1&from=" + std::string(129, '1') + "&to=2&text=x").rfind("from: must be", 0) == 0);
  CHECK(mo_error(kBase + "&text=x&smsc=a%0Ab").rfind("smsc: must be", 0) == 0);
}

TEST_CASE("a repeated MO parameter is refused", "[kannel][mo]") {
  CHECK(mo_error(kBase + "&text=a&text=b") == "text: given more than once");
  CHECK(mo_error(kBase + "&from=1&text=a") == "from: given more than once");
  CHECK(mo_error(kBase + "&text=a&secret=1&secret=2") == "secret: given more than once");
}

TEST_CASE("an implausible MO time falls back to the time received", "[kannel][mo]") {
  CHECK(mo_ok(kBase + "&text=x&time=").time_ms == 0);
  CHECK(mo_ok(kBase + "&text=x&time=abc").time_ms == 0);
  CHECK(mo_ok(kBase + "&text=x&time=-5").time_ms == 0);
  CHECK(mo_ok(kBase + "&text=x&time=12").time_ms == 0);  // 1970
  CHECK(mo_ok(kBase + "&text=x&time=99999999999999999999").time_ms == 0);
  CHECK(mo_ok(kBase + "&text=x&time=" + std::to_string(kNow / 1000 + 2 * 86400)).time_ms == 0);  // 2 days ahead
  CHECK(mo_ok(kBase + "&text=x&time=" + std::to_string(kNow / 1000 - 60)).time_ms == kNow - 60000);
}

TEST_CASE("a POSTed MO takes its text from the body and its charset from Content-Type", "[kannel][mo]") {
  MoRequest request;
  request.params = params(kBase);
  std::string body = "\xd8\x3d\xdc\x4d"s;
  request.body = &body;
  request.content_type = "text/plain; charset=UTF-16BE";
  std::string error;
  auto m = parse_mo(request, kNow, error);
  INFO(error);
  REQUIRE(m);
  CHECK(m->text == "👍");

  std::string utf8 = "Grüße\nzeile 2";
  request.body = &utf8;
  request.content_type = "text/plain";
  m = parse_mo(request, kNow, error);
  REQUIRE(m);
  CHECK(m->text == utf8);
  CHECK(m->charset == "UTF-8");

  // Coding from X-Kannel-Coding, no charset: UCS-2.
  request.body = &body;
  request.content_type = "application/octet-stream";
  request.coding_header = "2";
  m = parse_mo(request, kNow, error);
  REQUIRE(m);
  CHECK(m->text == "👍");

  // Text in both places is ambiguous.
  request.params = params(kBase + "&text=x");
  CHECK_FALSE(parse_mo(request, kNow, error));
  CHECK(error == "text: given both as a parameter and as the POST body");
}

TEST_CASE("numbers in conversation keys are E.164 when they parse, else as given", "[kannel][conversation]") {
  omnitrail::identity::Normalizer keyer(omnitrail::identity::NormalizeOptions{"GB"});
  CHECK(canonical_number(keyer, "+44 7911 123456", "") == "+447911123456");
  CHECK(canonical_number(keyer, "07911 123456", "") == "+447911123456");
  CHECK(canonical_number(keyer, "447911123456", "") == "+447911123456");  // SMSCs drop the '+'
  CHECK(canonical_number(keyer, "+1 415 867 5309", "") == "+14158675309");
  CHECK(canonical_number(keyer, "415 867 5309", "US") == "+14158675309");  // the connector's region
  CHECK(canonical_number(keyer, "60123", "") == "60123");  // short code
  CHECK(canonical_number(keyer, "MY BANK", "") == "MYBANK");  // alphanumeric sender
  CHECK(canonical_number(keyer, "+44 7700 900123", "") == "+447700900123");  // not a valid number: as given
  CHECK(conversation_key(keyer, "07911123456", "+44 7911 123999", "") == "sms:+447911123456:+447911123999");
  // The same pair spelled differently is the same conversation.
  CHECK(conversation_key(keyer, "+447911123456", "447911123999", "") ==
        conversation_key(keyer, "07911 123456", "+447911123999", ""));
  CHECK(conversation_key(keyer, "+447700900123", "60123", "") == "sms:+447700900123:60123");
}

TEST_CASE("an MO message maps to an sms.received interaction for the queue", "[kannel][mo]") {
  omnitrail::identity::Normalizer keyer(omnitrail::identity::NormalizeOptions{"GB"});
  auto m = mo_ok(kBase + "&text=Need+help+%F0%9F%98%80&coding=0&charset=UTF-8&time=1795525100&smsc=fake1");
  MoOptions options;
  options.source = "sms";
  options.queue = "support";
  options.region = "GB";
  options.received_at_ms = kNow;
  auto in = mo_to_interaction(m, keyer, options);
  CHECK(in.channel == "sms");
  CHECK(in.direction == "inbound");
  CHECK(in.kind == "sms.received");
  CHECK(in.source == "sms");
  CHECK(in.external_id == m.id);
  CHECK(in.occurred_at_ms == 1795525100000);
  CHECK(in.conversation_key == "sms:+447700900123:+447700900999");
  CHECK(in.from == "+447700900123");
  CHECK(in.to == "+447700900999");
  CHECK(in.text == "Need help 😀");
  CHECK(in.region == "GB");
  REQUIRE(in.customer_identifiers.size() == 1);
  CHECK(in.customer_identifiers[0].kind == omnitrail::identity::IdentifierKind::phone);
  CHECK(in.customer_identifiers[0].raw == "+447700900123");
  auto metadata = nlohmann::json::parse(in.metadata_json);
  CHECK(metadata["queue"] == "support");
  CHECK(metadata["kannel"]["smsc"] == "fake1");
  CHECK(metadata["kannel"]["coding"] == 0);
  CHECK(omnitrail::timeline::validate(in).empty());

  m.time_ms = 0;
  CHECK(mo_to_interaction(m, keyer, options).occurred_at_ms == kNow);
  options.queue.clear();
  CHECK_FALSE(nlohmann::json::parse(mo_to_interaction(m, keyer, options).metadata_json).contains("queue"));
}

TEST_CASE("DLR types map to sent, delivered, failed", "[kannel][dlr]") {
  CHECK(dlr_status(1) == "delivered");
  CHECK(dlr_status(2) == "failed");
  CHECK(dlr_status(4) == "sent");
  CHECK(dlr_status(8) == "sent");
  CHECK(dlr_status(16) == "failed");
  CHECK(dlr_status(1 | 8) == "delivered");
  CHECK(dlr_status(8 | 16) == "failed");
  CHECK(dlr_status(0) == "");
  CHECK(dlr_status(32) == "");
}

TEST_CASE("a DLR request is read and becomes a delivery report", "[kannel][dlr]") {
  const std::string sig(64, 'a');
  std::string error;
  auto p = params("message_id=m_0123456789abcdef&sig=" + sig +
                  "&type=16&smsc_id=abc-123&report=id%3A1+stat%3AREJECTD+err%3A0b%0A&time=1795525100");
  auto dlr = parse_dlr(p, error);
  INFO(error);
  REQUIRE(dlr);
  CHECK(dlr->message_id == "m_0123456789abcdef");
  CHECK(dlr->type == 16);
  CHECK(dlr->smsc_id == "abc-123");
  CHECK(dlr->report == "id:1 stat:REJECTD err:0b ");  // the newline made printable
  auto report = delivery_report(*dlr, kNow);
  CHECK(report.message_id == "m_0123456789abcdef");
  CHECK(report.provider_id == "abc-123");
  CHECK(report.status == "failed");
  CHECK(report.error == "rejected by the SMSC (DLR 16): id:1 stat:REJECTD err:0b ");
  CHECK(report.occurred_at_ms == 1795525100000);

  dlr = parse_dlr(params("message_id=m_1&sig=" + sig + "&type=1&smsc_id=&report=&time="), error);
  REQUIRE(dlr);
  report = delivery_report(*dlr, kNow);
  CHECK(report.status == "delivered");
  CHECK(report.error.empty());
  CHECK(report.occurred_at_ms == kNow);
  dlr->type = 2;
  CHECK(delivery_report(*dlr, kNow).error == "not delivered (DLR 2)");
}

TEST_CASE("bad DLR requests are refused", "[kannel][dlr]") {
  const std::string sig(64, 'b');
  auto error_of = [](const std::string& query) {
    std::string error;
    auto p = parse_params(query, error);
    REQUIRE(p);
    CHECK_FALSE(parse_dlr(*p, error));
    return error;
  };
  CHECK(error_of("sig=" + sig + "&type=1") == "message_id: missing");
  CHECK(error_of("message_id=m%201&sig=" + sig + "&type=1") == "message_id: not a message id");
  CHECK(error_of("message_id=" + std::string(65, 'm') + "&sig=" + sig + "&type=1") == "message_id: not a message id");
  CHECK(error_of("message_id=m_1&type=1") == "sig: missing");
  CHECK(error_of("message_id=m_1&sig=" + std::string(64, 'B') + "&type=1").rfind("sig: not a signature", 0) == 0);
  CHECK(error_of("message_id=m_1&sig=abc&type=1").rfind("sig: not a signature", 0) == 0);
  CHECK(error_of("message_id=m_1&sig=" + sig) == "type: missing");
  CHECK(error_of("message_id=m_1&sig=" + sig + "&type=0").rfind("type: not a Kannel DLR type", 0) == 0);
  CHECK(error_of("message_id=m_1&sig=" + sig + "&type=32").rfind("type: not a Kannel DLR type", 0) == 0);
  CHECK(error_of("message_id=m_1&sig=" + sig + "&type=%25d").rfind("type: not a Kannel DLR type", 0) == 0);
  CHECK(error_of("message_id=m_1&message_id=m_2&sig=" + sig + "&type=1") == "message_id: given more than once");
}

TEST_CASE("DLR signatures are per connector and message, keyed by the secret", "[kannel][dlr]") {
  auto a = dlr_signature("s3cret", "sms", "m_1");
  CHECK(a == omnitrail::util::hmac_sha256_hex("s3cret", "kannel-dlr:sms:m_1"));
  CHECK(a.size() == 64);
  CHECK(a != dlr_signature("s3cret", "sms", "m_2"));
  CHECK(a != dlr_signature("s3cret", "sms2", "m_1"));
  CHECK(a != dlr_signature("other", "sms", "m_1"));
}

TEST_CASE("the dlr-url carries the message, its signature and Kannel's escapes", "[kannel][dlr]") {
  CHECK(dlr_url("http://10.0.0.5:8080/", "/webhooks/sms/dlr", "m_1", "ab") ==
        "http://10.0.0.5:8080/webhooks/sms/dlr?message_id=m_1&sig=ab&type=%d&smsc_id=%F&report=%A&time=%T");
}

TEST_CASE("the sendsms URL encodes every value", "[kannel][sendsms]") {
  Sendsms s;
  s.base_url = "http://127.0.0.1:13013/cgi-bin/sendsms";
  s.username = "omni trail";
  s.password = "p&ss=wörd";
  s.from = "+447700900999";
  s.to = "+447700900123";
  s.text = "Hi 👍 & bye";
  s.coding = Coding::ucs2;
  s.dlr_mask = 27;
  s.dlr_url = "http://h/webhooks/sms/dlr?message_id=m_1&sig=ab&type=%d";
  CHECK(sendsms_url(s) ==
        "http://127.0.0.1:13013/cgi-bin/sendsms?username=omni%20trail&password=p%26ss%3Dw%C3%B6rd"
        "&from=%2B447700900999&to=%2B447700900123&text=Hi%20%F0%9F%91%8D%20%26%20bye&charset=UTF-8&coding=2"
        "&dlr-mask=27&dlr-url=http%3A%2F%2Fh%2Fwebhooks%2Fsms%2Fdlr%3Fmessage_id%3Dm_1%26sig%3Dab%26type%3D%25d");
  s.dlr_mask = 0;
  s.smsc = "smsc1";
  s.coding = Coding::gsm7;
  auto url = sendsms_url(s);
  CHECK(url.find("dlr-") == std::string::npos);
  CHECK(url.find("&coding=0&smsc=smsc1") != std::string::npos);
}

TEST_CASE("sendsms replies: 2xx sent, 5xx/429 retry, other 4xx failed with Kannel's text", "[kannel][sendsms]") {
  auto r = sendsms_result(202, "0: Accepted for delivery", "pw");
  CHECK(r.outcome == SendResult::Outcome::sent);
  CHECK(r.provider_code == 202);
  CHECK(sendsms_result(202, "3: Queued for later delivery", "pw").outcome == SendResult::Outcome::sent);
  r = sendsms_result(503, "Temporal failure, try again later.", "pw");
  CHECK(r.outcome == SendResult::Outcome::retry);
  CHECK(r.error == "sendsms: HTTP 503: Temporal failure, try again later.");
  CHECK(sendsms_result(429, "", "pw").outcome == SendResult::Outcome::retry);
  r = sendsms_result(403, "Authorization failed for sendsms", "pw");
  CHECK(r.outcome == SendResult::Outcome::failed);
  CHECK(r.error == "sendsms: HTTP 403: Authorization failed for sendsms");
  r = sendsms_result(400, "Missing receiver number\nmore", "pw");
  CHECK(r.error == "sendsms: HTTP 400: Missing receiver number");
  CHECK(sendsms_result(302, "", "pw").outcome == SendResult::Outcome::failed);
  // A reply that echoes the password does not carry it further.
  r = sendsms_result(400, "bad request username=u&password=hunter%232 and hunter#2", "hunter#2");
  CHECK(r.error.find("hunter") == std::string::npos);
  // Control characters and invalid bytes do not reach the error.
  r = sendsms_result(400, "bad\x01\xff" + std::string(500, 'x'), "pw");
  CHECK(r.error.find('\x01') == std::string::npos);
  CHECK(r.error.size() <= 240);
}

TEST_CASE("printable keeps UTF-8, replaces the rest and cuts on a boundary", "[kannel][text]") {
  CHECK(printable("ok é 👍", 100) == "ok é 👍");
  CHECK(printable("a\tb\x7f", 100) == "a b ");
  CHECK(printable("a\xff", 100) == "a\xEF\xBF\xBD");
  CHECK(printable("\xe2\x82", 100) == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(printable("ab👍", 5) == "ab");
  CHECK(printable("abc", 0).empty());
}

TEST_CASE("allow lists match addresses and CIDR blocks, v4 and v6", "[kannel][allow]") {
  AllowList list;
  CHECK(list.allows("203.0.113.9:1234"));  // empty: everyone
  CHECK(list.add("127.0.0.1").empty());
  CHECK(list.add("10.0.0.0/8").empty());
  CHECK(list.add("fd00::/8").empty());
  CHECK(list.add("::1").empty());
  CHECK(list.allows("127.0.0.1:5555"));
  CHECK(list.allows("127.0.0.1"));
  CHECK_FALSE(list.allows("127.0.0.2:5555"));
  CHECK(list.allows("10.200.3.4:80"));
  CHECK_FALSE(list.allows("11.0.0.1:80"));
  CHECK(list.allows("[::1]:80"));
  CHECK(list.allows("[fd12:3456::1]:80"));
  CHECK_FALSE(list.allows("[fe80::1]:80"));
  CHECK(list.allows("[::ffff:10.1.2.3]:80"));  // IPv4-mapped
  CHECK_FALSE(list.allows("[::ffff:11.1.2.3]:80"));
  CHECK_FALSE(list.allows("garbage"));
  CHECK_FALSE(list.allows(""));
  CHECK_FALSE(list.allows("[::1"));

  AllowList zero;
  CHECK(zero.add("0.0.0.0/0").empty());
  CHECK(zero.allows("198.51.100.1:1"));
  CHECK_FALSE(zero.allows("[2001:db8::1]:1"));

  AllowList bad;
  CHECK_FALSE(bad.add("10.0.0.0/33").empty());
  CHECK_FALSE(bad.add("10.0.0.0/").empty());
  CHECK_FALSE(bad.add("10.0.0.0/-1").empty());
  CHECK_FALSE(bad.add("::/129").empty());
  CHECK_FALSE(bad.add("example.com").empty());
  CHECK_FALSE(bad.add("").empty());
  CHECK(bad.empty());
}
