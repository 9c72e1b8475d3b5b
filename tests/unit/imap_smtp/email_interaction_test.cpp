// ParsedEmail -> timeline::Interaction.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "connectors/imap_smtp/email_interaction.hpp"

using namespace omnitrail::connectors::imap_smtp;
using nlohmann::json;
namespace timeline = omnitrail::timeline;

namespace {

constexpr std::int64_t received = 1796110800000;  // 2026-12-01T07:40:00Z

std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

ParsedEmail parse(const std::string& raw) {
  auto result = parse_message(raw, {}, received);
  INFO(result.error());
  REQUIRE(result.ok());
  return std::move(result).value();
}

const std::string reply = crlf(
    "From: =?utf-8?q?Ren=C3=A9e?= <Renee@Example.COM>\n"
    "To: Support <support@omnitrail.test>\n"
    "Cc: boss@example.com\n"
    "Subject: Re: Refund\n"
    "Date: Tue, 01 Dec 2026 07:00:00 +0000\n"
    "Message-ID: <r2@example.com>\n"
    "In-Reply-To: <omnitrail.1@mail.omnitrail.test>\n"
    "References: <r1@example.com> <omnitrail.1@mail.omnitrail.test>\n"
    "Content-Type: multipart/mixed; boundary=b\n\n"
    "--b\nContent-Type: text/plain; charset=utf-8\n\n"
    "Still waiting.\n\nOn Mon, Support wrote:\n> We are on it.\n"
    "--b\nContent-Type: image/png; name=shot.png\nContent-Disposition: attachment; filename=shot.png\n\nPNG\n"
    "--b--\n");

}  // namespace

TEST_CASE("an inbound email maps to email.received keyed by its Message-ID", "[interaction]") {
  ParsedEmail email = parse(reply);
  MailboxPosition position{"INBOX", 1700000001, 42};
  timeline::Interaction in = to_interaction(email, "support-mail", position, {"support", {}});
  CHECK(timeline::validate(in).empty());
  CHECK(in.channel == "email");
  CHECK(in.direction == "inbound");
  CHECK(in.kind == "email.received");
  CHECK(in.source == "support-mail");
  CHECK(in.external_id == "r2@example.com");
  CHECK(in.conversation_key == "r1@example.com");
  CHECK(in.occurred_at_ms == 1796108400000);  // 07:00Z
  CHECK(in.from == "Ren\xC3\xA9" "e <Renee@Example.COM>");
  CHECK(in.to == "Support <support@omnitrail.test>");
  CHECK(in.subject == "Re: Refund");
  CHECK(in.text.starts_with("Still waiting."));
  CHECK(in.customer_display_name == "Ren\xC3\xA9" "e");
  REQUIRE(in.customer_identifiers.size() == 1);
  CHECK(in.customer_identifiers[0].kind == omnitrail::identity::IdentifierKind::email);
  CHECK(in.customer_identifiers[0].raw == "Renee@Example.COM");  // ingest normalises; replies use this
  CHECK(in.customer_identifiers[0].trust == omnitrail::identity::Trust::claimed);

  json m = json::parse(in.metadata_json);
  CHECK(m["message_id"] == "r2@example.com");
  CHECK(m["message_id_synthetic"] == false);
  CHECK(m["in_reply_to"] == "omnitrail.1@mail.omnitrail.test");
  CHECK(m["references"] == json::array({"r1@example.com", "omnitrail.1@mail.omnitrail.test"}));
  CHECK(m["cc"][0]["address"] == "boss@example.com");
  CHECK(m["to"][0]["name"] == "Support");
  REQUIRE(m["attachments"].size() == 1);
  CHECK(m["attachments"][0]["filename"] == "shot.png");
  CHECK(m["attachments"][0]["content_type"] == "image/png");
  CHECK(m["attachments"][0]["size_bytes"] == 3);
  CHECK(m["attachment_count"] == 1);
  CHECK(m["auto_reply"] == false);
  CHECK(m["bounce"] == false);
  CHECK(m["quoted_from_offset"] == in.text.find("On Mon"));
  CHECK(m["text_source"] == "plain");
  CHECK(m["text_truncated"] == false);
  CHECK(m["imap"] == json{{"folder", "INBOX"}, {"uidvalidity", 1700000001}, {"uid", 42}});
  CHECK(m["queue"] == "support");
  CHECK(m["date_from_header"] == true);
}

TEST_CASE("the same message from another folder or UIDVALIDITY has the same external_id", "[interaction]") {
  ParsedEmail email = parse(reply);
  auto a = to_interaction(email, "mail", {"INBOX", 1, 7});
  auto b = to_interaction(email, "mail", {"Archive", 99, 3});
  CHECK(a.external_id == b.external_id);
  CHECK(a.conversation_key == b.conversation_key);
  CHECK(a.metadata_json != b.metadata_json);
}

TEST_CASE("no customer claim for bounces, own addresses or addresses without a domain", "[interaction]") {
  ParsedEmail bounce = parse(crlf("Return-Path: <>\nFrom: MAILER-DAEMON@mx.example.com\nMessage-ID: <b@x>\n\nfail\n"));
  auto in = to_interaction(bounce, "mail", {});
  CHECK(in.customer_identifiers.empty());
  CHECK(json::parse(in.metadata_json)["bounce"] == true);
  CHECK(timeline::validate(in).empty());

  ParsedEmail own = parse(crlf("From: Support@Omnitrail.test\nMessage-ID: <o@x>\n\ncopy\n"));
  CHECK(to_interaction(own, "mail", {}, {"", {"support@omnitrail.test"}}).customer_identifiers.empty());

  ParsedEmail local = parse(crlf("From: root\nMessage-ID: <l@x>\n\ncron\n"));
  CHECK(to_interaction(local, "mail", {}).customer_identifiers.empty());
}

TEST_CASE("an auto-reply is recorded with its flags and a null quote offset", "[interaction]") {
  ParsedEmail ooo = parse(crlf("From: a@example.com\nMessage-ID: <ooo@x>\nAuto-Submitted: auto-replied\n\nAway.\n"));
  auto in = to_interaction(ooo, "mail", {});
  json m = json::parse(in.metadata_json);
  CHECK(m["auto_reply"] == true);
  CHECK(m["automation_reasons"] == json::array({"auto-submitted:auto-replied"}));
  CHECK(m["quoted_from_offset"].is_null());
  CHECK(in.customer_identifiers.size() == 1);  // the customer is still the customer
}

TEST_CASE("a message without Message-ID still validates and dedupes on re-ingest", "[interaction]") {
  std::string raw = crlf("From: a@example.com\nSubject: no id\n\nbody\n");
  auto a = to_interaction(parse(raw), "mail", {"INBOX", 1, 1});
  auto b = to_interaction(parse(raw), "mail", {"INBOX", 2, 9});
  CHECK(timeline::validate(a).empty());
  CHECK(a.external_id == b.external_id);
  CHECK(json::parse(a.metadata_json)["message_id_synthetic"] == true);
}

TEST_CASE("a sent reply is email.sent on the thread the customer's next reply will carry", "[interaction][sent]") {
  ParsedEmail parent = parse(reply);
  ReplyRequest request;
  request.from = {"Support", "support@omnitrail.test"};
  request.to = {parent.reply_to.empty() ? parent.from : parent.reply_to.front()};
  request.parent_subject = parent.subject;
  request.text = "We refunded you.\r\nRegards";
  request.parent_message_id = parent.message_id;
  request.parent_references = parent.references;
  request.message_id_domain = "mail.omnitrail.test";
  request.message_id_token = "outbox-9";
  request.date_ms = received;
  auto composed = compose_reply(request);
  REQUIRE(composed.ok());
  timeline::Interaction sent = to_sent_interaction(request, *composed, "support-mail", "alice", "cust-1");
  CHECK(timeline::validate(sent).empty());
  CHECK(sent.direction == "outbound");
  CHECK(sent.kind == "email.sent");
  CHECK(sent.external_id == "omnitrail.outbox-9@mail.omnitrail.test");
  CHECK(sent.conversation_key == parent.thread_key);
  CHECK(sent.agent == "alice");
  CHECK(sent.customer_id == "cust-1");
  CHECK(sent.subject == "Re: Refund");
  CHECK(sent.text == "We refunded you.\nRegards");
  REQUIRE(sent.customer_identifiers.size() == 1);
  CHECK(sent.customer_identifiers[0].raw == "Renee@Example.COM");
  json m = json::parse(sent.metadata_json);
  CHECK(m["in_reply_to"] == "r2@example.com");
  CHECK(m["references"] == json::array({"r1@example.com", "omnitrail.1@mail.omnitrail.test", "r2@example.com"}));

  // Our reply fetched back over IMAP (a Sent folder, a Bcc) maps to the same external_id and thread.
  auto fetched = parse_message(composed->message, {}, received);
  REQUIRE(fetched.ok());
  timeline::Interaction copy = to_interaction(*fetched, "support-mail", {"Sent", 1, 5});
  CHECK(copy.external_id == sent.external_id);
  CHECK(copy.conversation_key == sent.conversation_key);
}
