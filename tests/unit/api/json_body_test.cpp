#include <catch2/catch.hpp>

#include "daemon/api/json_body.hpp"

using namespace omnitrail;
using nlohmann::json;

TEST_CASE("request bodies must be bounded JSON objects", "[api][json]") {
  std::string error;
  CHECK(api::parse_object(R"({"a":[1,{"b":2}]})", error));
  CHECK_FALSE(api::parse_object("[1,2]", error));
  CHECK(error == "body must be a JSON object");
  CHECK_FALSE(api::parse_object("{\"a\":", error));
  CHECK(error == "body is not valid JSON");
  CHECK_FALSE(api::parse_object("", error));
  std::string deep(100000, '[');
  CHECK_FALSE(api::parse_object("{\"a\":" + deep, error));
  CHECK(error == "JSON nested deeper than 32 levels");
  // Brackets inside strings do not count as nesting.
  CHECK(api::parse_object("{\"a\":\"" + std::string(1000, '[') + "\\\"[[\"}", error));
}

TEST_CASE("times are RFC 3339 or epoch milliseconds", "[api][json]") {
  CHECK(api::parse_time_text("1970-01-01T00:00:00Z") == 0);
  CHECK(api::parse_time_text("2026-11-24T13:00:00.123Z") == 1795525200123LL);
  CHECK(api::parse_time_text("2026-11-24T14:00:00+01:00") == 1795525200000LL);
  CHECK(api::parse_time_text("2026-11-24T12:30:00-00:30") == 1795525200000LL);
  CHECK(api::parse_time_text("2000-02-29T00:00:00Z") == 951782400000LL);
  CHECK(api::parse_time_text("2026-11-24T13:00:00.5Z") == 1795525200500LL);
  for (const char* bad : {"2026-11-24", "2026-11-24T13:00:00", "2026-13-01T00:00:00Z", "2026-11-24T25:00:00Z",
                          "2026-11-24T13:00:00.Z", "2026-11-24T13:00:00Zjunk", "x026-11-24T13:00:00Z", ""}) {
    INFO(bad);
    CHECK_FALSE(api::parse_time_text(bad));
  }
  CHECK(api::parse_time(json(1795525200000LL)) == 1795525200000LL);
  CHECK_FALSE(api::parse_time(json(-5)));
  CHECK_FALSE(api::parse_time(json(1.5)));
  CHECK_FALSE(api::parse_time(json::array()));
}

TEST_CASE("POST /interactions bodies become interactions", "[api][json]") {
  std::string error;
  auto in = api::interaction_from_json(json::parse(R"({
      "external_id": "order-42", "kind": "order.placed", "occurred_at": "2026-11-24T13:00:00Z",
      "text": "Order 42", "metadata": {"total": 12.5},
      "identifiers": [{"kind": "email", "value": "Alice <alice@example.com>"},
                      {"kind": "external", "value": "CRM-1", "trust": "verified"}],
      "display_name": "Alice"})"), error);
  REQUIRE(in);
  CHECK(in->channel == "api");
  CHECK(in->direction == "inbound");
  CHECK(in->external_id == "order-42");
  CHECK(in->occurred_at_ms == 1795525200000LL);
  CHECK(json::parse(in->metadata_json)["total"] == 12.5);
  REQUIRE(in->customer_identifiers.size() == 2);
  CHECK(in->customer_identifiers[0].kind == identity::IdentifierKind::email);
  CHECK(in->customer_identifiers[0].trust == identity::Trust::claimed);
  CHECK(in->customer_identifiers[1].trust == identity::Trust::verified);
  CHECK(in->customer_display_name == "Alice");
  CHECK(in->source.empty());  // the handler sets it; validate() refuses an interaction without one
  CHECK(timeline::validate(*in) == "source: must be 1..128 bytes");
  in->source = "api";
  CHECK(timeline::validate(*in).empty());
}

TEST_CASE("bad interaction bodies name the field", "[api][json]") {
  struct Case {
    const char* body;
    const char* error;
  };
  for (const auto& c : {Case{R"({"kind":"x"})", "external_id: required"},
                        Case{R"({"external_id":1,"kind":"x"})", "external_id: must be a string"},
                        Case{R"({"external_id":"a","kind":"x","bogus":1})", "unknown field \"bogus\""},
                        Case{R"({"external_id":"a","kind":"x","occurred_at":"yesterday"})",
                             "occurred_at: must be an RFC 3339 time (2026-11-24T13:00:00Z) or milliseconds since 1970"},
                        Case{R"({"external_id":"a","kind":"x","metadata":[1]})", "metadata: must be a JSON object"},
                        Case{R"({"external_id":"a","kind":"x","identifiers":{}})",
                             "identifiers: must be an array of at most 20 {kind, value, trust} objects"},
                        Case{R"({"external_id":"a","kind":"x","identifiers":[{"kind":"fax","value":"1"}]})",
                             "identifiers[0].kind: must be one of external, chat_user, email, phone, visitor"},
                        Case{R"({"external_id":"a","kind":"x","identifiers":[{"kind":"phone"}]})",
                             "identifiers[0].value: required"},
                        Case{R"({"external_id":"a","kind":"x","identifiers":[{"kind":"phone","value":"1","trust":"maybe"}]})",
                             "identifiers[0].trust: must be claimed or verified"},
                        Case{R"({"external_id":"a","kind":"x","ends_conversation":"yes"})",
                             "ends_conversation: must be true or false"}}) {
    INFO(c.body);
    std::string error;
    CHECK_FALSE(api::interaction_from_json(json::parse(c.body), error));
    CHECK(error == c.error);
  }
}

TEST_CASE("validate() refuses what ingest must never store", "[api][json][timeline]") {
  std::string error;
  auto in = api::interaction_from_json(json::parse(R"({"external_id":"a","kind":"call.ringing"})"), error);
  REQUIRE(in);
  in->source = "api";
  CHECK(timeline::validate(*in).empty());
  auto bad = *in;
  bad.channel = "fax";
  CHECK(timeline::validate(bad) == "channel: \"fax\" is not one of phone, email, sms, chat, api, note");
  bad = *in;
  bad.kind = "Call Ringing";
  CHECK(timeline::validate(bad).rfind("kind: ", 0) == 0);
  bad = *in;
  bad.text = std::string("caf\xC3", 4);  // truncated UTF-8 sequence
  CHECK(timeline::validate(bad) == "text: not valid UTF-8");
  bad = *in;
  bad.text = "\xC0\xAF";  // overlong '/'
  CHECK(timeline::validate(bad) == "text: not valid UTF-8");
  bad = *in;
  bad.external_id = std::string(513, 'x');
  CHECK(timeline::validate(bad) == "external_id: must be 1..512 bytes");
}

TEST_CASE("truncate_utf8 never splits a character", "[api][timeline]") {
  std::string text = "ab\xE2\x82\xAC";  // "ab€"
  CHECK(timeline::truncate_utf8(text, 4));
  CHECK(text == "ab");
  std::string same = "abc";
  CHECK_FALSE(timeline::truncate_utf8(same, 3));
  CHECK(same == "abc");
}
