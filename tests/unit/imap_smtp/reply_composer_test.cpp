// compose_reply: headers, encodings, injection refusals and the round trip through parse_message.
#include <catch2/catch.hpp>

#include <string>

#include "connectors/imap_smtp/email_message.hpp"
#include "connectors/imap_smtp/reply_composer.hpp"

using namespace omnitrail::connectors::imap_smtp;

namespace {

constexpr std::int64_t now = 1796110800000;  // Tue, 01 Dec 2026 07:40:00 +0000

ReplyRequest request() {
  ReplyRequest r;
  r.from = {"Support Team", "support@omnitrail.test"};
  r.to = {{"Alice Example", "alice@example.com"}};
  r.parent_subject = "Order 1234 is late";
  r.text = "Hello Alice,\nyour parcel left today.\n";
  r.parent_message_id = "<m2@Example.COM>";
  r.parent_references = {"<m1@example.com>"};
  r.message_id_domain = "mail.omnitrail.test";
  r.message_id_token = "outbox-17";
  r.date_ms = now;
  return r;
}

ComposedEmail compose(const ReplyRequest& r) {
  auto result = compose_reply(r);
  INFO(result.error());
  REQUIRE(result.ok());
  return std::move(result).value();
}

std::string compose_error(const ReplyRequest& r) {
  auto result = compose_reply(r);
  CHECK_FALSE(result.ok());
  return result.error();
}

ParsedEmail reparse(const ComposedEmail& c) {
  auto parsed = parse_message(c.message, {}, now);
  INFO(parsed.error());
  REQUIRE(parsed.ok());
  return std::move(parsed).value();
}

// Every line ends in CRLF, no bare CR or LF, no line over 998 bytes.
void check_lines(const std::string& message) {
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t end = message.find("\r\n", pos);
    REQUIRE(end != std::string::npos);
    std::string line = message.substr(pos, end - pos);
    CHECK(line.size() <= 998);
    CHECK(line.find('\r') == std::string::npos);
    CHECK(line.find('\n') == std::string::npos);
    pos = end + 2;
  }
}

std::string header_block(const std::string& message) { return message.substr(0, message.find("\r\n\r\n") + 2); }

}  // namespace

TEST_CASE("a reply has the threading and MIME headers", "[compose]") {
  ComposedEmail c = compose(request());
  const std::string headers = header_block(c.message);
  CHECK(headers.find("From: Support Team <support@omnitrail.test>\r\n") != std::string::npos);
  CHECK(headers.find("To: Alice Example <alice@example.com>\r\n") != std::string::npos);
  CHECK(headers.find("Subject: Re: Order 1234 is late\r\n") != std::string::npos);
  CHECK(headers.find("Date: Tue, 01 Dec 2026 07:40:00 +0000\r\n") != std::string::npos);
  CHECK(headers.find("Message-ID: <omnitrail.outbox-17@mail.omnitrail.test>\r\n") != std::string::npos);
  CHECK(headers.find("In-Reply-To: <m2@Example.COM>\r\n") != std::string::npos);  // case kept
  CHECK(headers.find("References: <m1@example.com> <m2@Example.COM>\r\n") != std::string::npos);
  CHECK(headers.find("MIME-Version: 1.0\r\n") != std::string::npos);
  CHECK(headers.find("Content-Type: text/plain; charset=utf-8\r\n") != std::string::npos);
  CHECK(headers.find("Content-Transfer-Encoding: quoted-printable\r\n") != std::string::npos);
  CHECK(c.message_id == "omnitrail.outbox-17@mail.omnitrail.test");
  CHECK(c.envelope_from == "support@omnitrail.test");
  CHECK(c.recipients == std::vector<std::string>{"alice@example.com"});
  check_lines(c.message);
}

TEST_CASE("round trip: compose_reply parsed by parse_message gives subject, text and threading", "[compose][roundtrip]") {
  ReplyRequest r = request();
  r.from.display_name = "Équipe Support – Zürich";
  r.to = {{"山田 太郎", "taro@example.jp"}, {"O'Brien, \"Pat\"", "pat@example.ie"}};
  r.cc = {{"", "TARO@example.jp"}, {"", "boss@example.com"}};
  r.parent_subject = "Größe: ünïcödé ✓ " + std::string(120, 'x') + " end";
  r.text = "Grüße,\r\nline with trailing space \nsoft " + std::string(300, 'y') + "\n=equals= and tabs\t\n.\nend";
  ComposedEmail c = compose(r);
  check_lines(c.message);
  CHECK(c.recipients == std::vector<std::string>{"taro@example.jp", "pat@example.ie", "boss@example.com"});

  ParsedEmail p = reparse(c);
  CHECK(p.subject == "Re: " + r.parent_subject);
  CHECK(p.from.display_name == r.from.display_name);
  REQUIRE(p.to.size() == 2);
  CHECK(p.to[0].display_name == "山田 太郎");
  CHECK(p.to[1].display_name == "O'Brien, \"Pat\"");
  CHECK(p.to[1].address == "pat@example.ie");
  CHECK(p.cc.size() == 2);
  CHECK(p.text == "Grüße,\nline with trailing space \nsoft " + std::string(300, 'y') + "\n=equals= and tabs\t\n.\nend");
  CHECK(p.message_id == c.message_id);
  CHECK(p.in_reply_to == "m2@Example.COM");
  CHECK(p.references == std::vector<std::string>{"m1@example.com", "m2@Example.COM"});
  CHECK(p.thread_key == "m1@example.com");
  CHECK(p.date_ms == now);
  CHECK_FALSE(p.do_not_auto_reply());
}

TEST_CASE("mostly non-ASCII text is sent base64 and round-trips", "[compose][roundtrip]") {
  ReplyRequest r = request();
  r.text = "こんにちは。ご注文の商品は本日発送されました。\nよろしくお願いいたします。";
  ComposedEmail c = compose(r);
  CHECK(header_block(c.message).find("Content-Transfer-Encoding: base64\r\n") != std::string::npos);
  check_lines(c.message);
  CHECK(reparse(c).text == r.text);
}

TEST_CASE("encoded words decode back whole, whatever the character widths", "[compose][rfc2047]") {
  // Found by the fuzzer with B words: a padded word in the middle cut the subject short.
  for (std::string unit : {"\xC3\x8A", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "a\xC3\xA9", " \xC3\xA9_?="}) {
    for (int count : {1, 22, 23, 40, 55, 200}) {
      ReplyRequest r = request();
      r.parent_subject.clear();
      for (int i = 0; i < count; ++i) r.parent_subject += unit;
      r.to[0].display_name = r.parent_subject;
      ComposedEmail c = compose(r);
      check_lines(c.message);
      ParseLimits limits;
      limits.max_header_text_bytes = 4000;
      auto p = parse_message(c.message, limits, now);
      REQUIRE(p.ok());
      INFO(unit << " x " << count);
      CHECK(p->subject == reply_subject(r.parent_subject));
      REQUIRE(p->to.size() == 1);
      CHECK(p->to[0].display_name == std::string_view(r.parent_subject).substr(r.parent_subject.front() == ' '));
    }
  }
}

TEST_CASE("Re: is added once", "[compose][subject]") {
  CHECK(reply_subject("Hello") == "Re: Hello");
  CHECK(reply_subject("Re: Hello") == "Re: Hello");
  CHECK(reply_subject("RE: Hello") == "RE: Hello");
  CHECK(reply_subject("re : Hello") == "re : Hello");
  CHECK(reply_subject("Aw: Hallo") == "Aw: Hallo");
  CHECK(reply_subject("Re[2]: Hello") == "Re[2]: Hello");
  CHECK(reply_subject("  Hello  ") == "Re: Hello");
  CHECK(reply_subject("Regarding the invoice") == "Re: Regarding the invoice");
  CHECK(reply_subject("") == "Re:");
  ReplyRequest r = request();
  r.parent_subject = "Re: Order";
  CHECK(header_block(compose(r).message).find("Subject: Re: Order\r\n") != std::string::npos);
}

TEST_CASE("header injection is refused with the field named", "[compose][injection]") {
  ReplyRequest r = request();
  r.parent_subject = "hi\r\nBcc: victim@example.com";
  CHECK(compose_error(r) == "parent_subject: contains CR, LF or NUL (header injection refused)");
  r = request();
  r.to[0].display_name = "Alice\nBcc: x@example.com";
  CHECK(compose_error(r) == "to[0].display_name: contains CR, LF or NUL (header injection refused)");
  r = request();
  r.to[0].address = "alice@example.com\r\nBcc: x@example.com";
  CHECK(compose_error(r).starts_with("to[0].address: contains CR"));
  r = request();
  r.from.display_name = std::string("Sup\0port", 8);
  CHECK(compose_error(r).starts_with("from.display_name: contains CR, LF or NUL"));
  r = request();
  r.parent_message_id = "<m@x>\r\nX-Evil: 1";
  CHECK(compose_error(r).starts_with("parent_message_id: contains CR"));
  r = request();
  r.parent_references = {"<a@x>", "<b@x>\nX: y"};
  CHECK(compose_error(r).starts_with("parent_references[1]: contains CR"));
  r = request();
  r.cc = {{"", "ok@example.com"}, {"Eve", "eve@example.com\r"}};
  CHECK(compose_error(r).starts_with("cc[1].address: contains CR"));
  r = request();
  r.message_id_domain = "x.test\r\nBcc: a@b";
  CHECK(compose_error(r).starts_with("message_id_domain: contains CR"));
}

TEST_CASE("bad addresses, ids and inputs are refused", "[compose][validation]") {
  ReplyRequest r = request();
  r.to.clear();
  CHECK(compose_error(r) == "to: at least one recipient is required");
  for (std::string bad : {"alice", "@example.com", "a b@example.com", "<alice@example.com>", "a@b@", "a@exa mple.com",
                          "a,b@example.com", "alice@", "ali\"ce@example.com", "alice@example..com", "jürgen@example.de"}) {
    r = request();
    r.to[0].address = bad;
    INFO(bad);
    CHECK(compose_error(r).starts_with("to[0].address: not a plain ASCII address"));
  }
  r = request();
  r.from.address = "support";
  CHECK(compose_error(r).starts_with("from.address:"));
  r = request();
  r.message_id_domain = "";
  CHECK(compose_error(r).starts_with("message_id_domain:"));
  r = request();
  r.message_id_token = "a/b";
  CHECK(compose_error(r).starts_with("message_id_token:"));
  r = request();
  r.parent_message_id = "two words@x";
  CHECK(compose_error(r).starts_with("parent_message_id:"));
  r = request();
  r.text = "bad \xFF byte";
  CHECK(compose_error(r) == "text: not valid UTF-8");
  r = request();
  r.parent_subject = "bad \xC3";
  CHECK(compose_error(r) == "parent_subject: not valid UTF-8");
  r = request();
  r.date_ms = 0;
  CHECK(compose_error(r) == "date_ms: must be a positive time");
}

TEST_CASE("References are bounded; a new message has no threading headers; random ids differ", "[compose]") {
  ReplyRequest r = request();
  r.parent_references.clear();
  for (int i = 0; i < 100; ++i) r.parent_references.push_back("<r" + std::to_string(i) + "@x>");
  r.max_references = 5;
  ComposedEmail c = compose(r);
  check_lines(c.message);
  ParsedEmail p = reparse(c);
  CHECK(p.references == std::vector<std::string>{"r0@x", "r97@x", "r98@x", "r99@x", "m2@Example.COM"});

  r = request();
  r.parent_message_id.clear();
  r.parent_references.clear();
  r.message_id_token.clear();
  ComposedEmail fresh = compose(r);
  CHECK(header_block(fresh.message).find("In-Reply-To:") == std::string::npos);
  CHECK(header_block(fresh.message).find("References:") == std::string::npos);
  ComposedEmail other = compose(r);
  CHECK(fresh.message_id != other.message_id);
  CHECK(fresh.message_id.ends_with("@mail.omnitrail.test"));
}

TEST_CASE("long lines and long headers stay within 998 bytes", "[compose][lines]") {
  ReplyRequest r = request();
  r.parent_subject = std::string(2000, 'S');  // one unbreakable word: encoded-words fold it
  r.text = std::string(5000, 'z') + "\n" + std::string(3000, '\xC3') ;
  CHECK_FALSE(compose_reply(r).ok());  // invalid UTF-8 first
  r.text = std::string(5000, 'z');
  for (int i = 0; i < 60; ++i) r.to.push_back({"Person Number " + std::to_string(i), "p" + std::to_string(i) + "@example.com"});
  ComposedEmail c = compose(r);
  check_lines(c.message);
  ParseLimits limits;
  limits.max_header_text_bytes = 4000;
  auto parsed = parse_message(c.message, limits, now);
  REQUIRE(parsed.ok());
  const ParsedEmail& p = *parsed;
  CHECK(p.subject == "Re: " + std::string(2000, 'S'));
  CHECK(p.text == std::string(5000, 'z'));
  CHECK(p.to.size() == 61);
}

TEST_CASE("a parent without References: its In-Reply-To keeps the thread root", "[compose][thread]") {
  // Found by the fuzzer: the reply's thread key moved from the root to the parent.
  auto parent = parse_message(
      "From: a@example.com\r\nMessage-ID: <p2@x>\r\nIn-Reply-To: <p1@x>\r\n\r\nbody\r\n", {}, now);
  REQUIRE(parent.ok());
  ReplyRequest r = request();
  r.parent_message_id = parent->message_id;
  r.parent_references = parent->references;
  r.parent_in_reply_to = parent->in_reply_to;
  CHECK(reply_references(r) == std::vector<std::string>{"p1@x", "p2@x"});
  ParsedEmail back = reparse(compose(r));
  CHECK(back.references == std::vector<std::string>{"p1@x", "p2@x"});
  CHECK(back.thread_key == parent->thread_key);
  // References win over In-Reply-To when both are there.
  r.parent_references = {"<root@x>"};
  CHECK(reply_references(r) == std::vector<std::string>{"root@x", "p2@x"});
  r.parent_in_reply_to = "x\r\nBcc: a@b";
  CHECK(compose_error(r).starts_with("parent_in_reply_to: contains CR"));
}

TEST_CASE("rfc5322_date formats UTC", "[compose][date]") {
  CHECK(rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
  CHECK(rfc5322_date(1796110800999) == "Tue, 01 Dec 2026 07:40:00 +0000");
}
