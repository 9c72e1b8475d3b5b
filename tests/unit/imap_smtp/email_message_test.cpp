// parse_message on a corpus of ordinary and nasty messages, built here (CRLF as IMAP serves them)
// or read from tests/unit/imap_smtp/corpus/.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/imap_smtp/email_message.hpp"
#include "connectors/imap_smtp/mail_text.hpp"

using namespace omnitrail::connectors::imap_smtp;

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

ParsedEmail parse(const std::string& raw, const ParseLimits& limits = {}) {
  auto result = parse_message(raw, limits, received);
  INFO(result.error());
  REQUIRE(result.ok());
  return std::move(result).value();
}

std::string corpus(const std::string& name) {
  std::ifstream in(std::string(OMNITRAIL_SOURCE_DIR) + "/tests/unit/imap_smtp/corpus/" + name, std::ios::binary);
  REQUIRE(in);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool has_reason(const ParsedEmail& e, const std::string& reason) {
  return std::find(e.automation_reasons.begin(), e.automation_reasons.end(), reason) != e.automation_reasons.end();
}

const std::string simple = crlf(
    "Return-Path: <alice@example.com>\n"
    "From: Alice Example <alice@example.com>\n"
    "To: Support <support@omnitrail.test>, bob@example.org\n"
    "Cc: carol@example.net\n"
    "Reply-To: Alice Desk <desk@example.com>\n"
    "Subject: Order 1234 is late\n"
    "Date: Tue, 01 Dec 2026 07:30:00 +0100\n"
    "Message-ID: <CAF=abc123@mail.Example.COM>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "Hello,\n"
    "my order has not arrived.\n");

}  // namespace

TEST_CASE("a plain message: addresses, subject, date, ids, text", "[parse]") {
  ParsedEmail e = parse(simple);
  CHECK(e.from == Mailbox{"Alice Example", "alice@example.com"});
  REQUIRE(e.to.size() == 2);
  CHECK(e.to[0] == Mailbox{"Support", "support@omnitrail.test"});
  CHECK(e.to[1].address == "bob@example.org");
  REQUIRE(e.cc.size() == 1);
  CHECK(e.cc[0].address == "carol@example.net");
  REQUIRE(e.reply_to.size() == 1);
  CHECK(e.reply_to[0].address == "desk@example.com");
  CHECK(e.subject == "Order 1234 is late");
  CHECK(e.date_ms == 1796106600000);  // 06:30Z
  CHECK(e.date_from_header);
  CHECK(e.message_id == "CAF=abc123@mail.Example.COM");
  CHECK_FALSE(e.message_id_synthetic);
  CHECK(e.thread_key == e.message_id);
  CHECK(e.text == "Hello,\nmy order has not arrived.");
  CHECK(e.text_source == "plain");
  CHECK_FALSE(e.text_truncated);
  CHECK_FALSE(e.quoted_from_offset);
  CHECK(e.attachments.empty());
  CHECK_FALSE(e.do_not_auto_reply());
  REQUIRE(e.return_path);
  CHECK(*e.return_path == "alice@example.com");
  CHECK(e.raw_bytes == simple.size());
}

TEST_CASE("threading: References root, else In-Reply-To, else own id", "[parse][thread]") {
  std::string reply = crlf(
      "From: a@example.com\nSubject: Re: x\nMessage-ID: <m3@x>\n"
      "In-Reply-To: <m2@x>\n"
      "References: <m1@x>\n <m2@x>\n\nbody\n");
  ParsedEmail e = parse(reply);
  CHECK(e.in_reply_to == "m2@x");
  CHECK(e.references == std::vector<std::string>{"m1@x", "m2@x"});
  CHECK(e.thread_key == "m1@x");

  ParsedEmail only_parent = parse(crlf("From: a@example.com\nMessage-ID: <m3@x>\nIn-Reply-To: <m2@x> (Bob's message)\n\nb\n"));
  CHECK(only_parent.in_reply_to == "m2@x");
  CHECK(only_parent.thread_key == "m2@x");

  CHECK(thread_key({}, "", "<own@x>") == "own@x");
  CHECK(thread_key({"", "bad id"}, "<p@x>", "own@x") == "p@x");
  CHECK(thread_key({"<r@x>"}, "<p@x>", "own@x") == "r@x");
}

TEST_CASE("References are bounded to the root and the most recent ids", "[parse][thread]") {
  std::string refs;
  for (int i = 0; i < 200; ++i) refs += " <r" + std::to_string(i) + "@x>";
  ParseLimits limits;
  limits.max_references = 10;
  ParsedEmail e = parse(crlf("From: a@example.com\nMessage-ID: <m@x>\nReferences:" + refs + "\n\nb\n"), limits);
  REQUIRE(e.references.size() == 10);
  CHECK(e.references.front() == "r0@x");
  CHECK(e.references[1] == "r191@x");
  CHECK(e.references.back() == "r199@x");
  CHECK(e.thread_key == "r0@x");
}

TEST_CASE("no Message-ID: a stable synthetic id from the raw bytes", "[parse][ids]") {
  std::string raw = crlf("From: a@example.com\nSubject: hi\n\nbody\n");
  ParsedEmail first = parse(raw);
  ParsedEmail again = parse(raw);
  CHECK(first.message_id_synthetic);
  CHECK(first.message_id == again.message_id);
  CHECK(first.message_id.size() == 32 + 1 + synthetic_id_domain.size());
  CHECK(first.message_id.ends_with("@synthetic.omnitrail.invalid"));
  CHECK(first.thread_key == first.message_id);
  ParsedEmail other = parse(crlf("From: a@example.com\nSubject: hi\n\nbody!\n"));
  CHECK(other.message_id != first.message_id);
  // Found by the fuzzer: an odd id is read the same way in Message-ID and In-Reply-To.
  ParsedEmail odd = parse(crlf("From: a@example.com\nMessage-ID: <abc@host.example.>\n\nb\n"));
  ParsedEmail odd_reply = parse(crlf("From: a@example.com\nMessage-ID: <r@x>\nIn-Reply-To: <abc@host.example.>\n\nb\n"));
  CHECK(odd.message_id == odd_reply.in_reply_to);
  ParsedEmail unterminated = parse(crlf("From: a@example.com\nMessage-ID: <abc@host.example.\n\nb\n"));
  CHECK(unterminated.message_id == odd_reply.in_reply_to);
  // An unusable id (blanks, empty brackets) is treated as absent.
  CHECK(parse(crlf("From: a@example.com\nMessage-ID: <>\n\nb\n")).message_id_synthetic);
  CHECK(parse(crlf("From: a@example.com\nMessage-ID:\n\nb\n")).message_id_synthetic);
}

TEST_CASE("RFC 2047 encoded words: Q and B, several charsets, broken ones", "[parse][rfc2047]") {
  ParsedEmail e = parse(crlf(
      "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <andre@example.be>\n"
      "To: =?UTF-8?B?5bGx55Sw5aSq6YOO?= <taro@example.jp>, =?koi8-r?B?8NLJ18XU?= <ivan@example.ru>\n"
      "Subject: =?utf-8?q?Caf=C3=A9?= =?utf-8?b?IGNyw6htZQ==?= and =?windows-1252?Q?=93quotes=94?=\n"
      "Message-ID: <e@x>\n\nb\n"));
  CHECK(e.from.display_name == "Andr\xC3\xA9 Pirard");
  CHECK(e.from.address == "andre@example.be");
  REQUIRE(e.to.size() == 2);
  CHECK(e.to[0].display_name == "\xE5\xB1\xB1\xE7\x94\xB0\xE5\xA4\xAA\xE9\x83\x8E");  // 山田太郎
  CHECK(e.to[1].display_name == "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");
  // Adjacent encoded words join without the blank between them.
  CHECK(e.subject == "Caf\xC3\xA9 cr\xC3\xA8me and \xE2\x80\x9Cquotes\xE2\x80\x9D");

  // Broken: unknown charset, bad base64, missing terminator, invalid bytes inside.
  ParsedEmail broken = parse(crlf(
      "From: =?x-nonsense?Q?J=F6rg?= <j@example.de>\n"
      "Subject: =?utf-8?B?!!!notbase64?= =?utf-8?Q?unterminated =?utf-8?Q?=FF=FE?=\n"
      "Message-ID: <b@x>\n\nb\n"));
  CHECK(valid_utf8(broken.subject));
  CHECK(valid_utf8(broken.from.display_name));
  CHECK(broken.from.address == "j@example.de");
  CHECK_FALSE(broken.subject.empty());
  CHECK(broken.subject.find('\0') == std::string::npos);
}

TEST_CASE("8-bit headers without a charset: UTF-8 when valid, else windows-1252", "[parse][charset]") {
  ParsedEmail utf8 = parse(crlf("From: J\xC3\xB6rg <j@example.de>\nSubject: Gr\xC3\xBC\xC3\x9F" "e\nMessage-ID: <u@x>\n\nb\n"));
  CHECK(utf8.subject == "Gr\xC3\xBC\xC3\x9F" "e");
  CHECK(utf8.from.display_name == "J\xC3\xB6rg");
  ParsedEmail latin = parse(crlf("From: J\xF6rg <j@example.de>\nSubject: Caf\xE9 \x93ok\x94\nMessage-ID: <l@x>\n\nb\n"));
  CHECK(valid_utf8(latin.subject));
  CHECK(latin.subject.starts_with("Caf\xC3\xA9"));
  CHECK(valid_utf8(latin.from.display_name));
  CHECK(latin.from.display_name.starts_with("J"));
}

TEST_CASE("ISO-8859-1 and windows-1252 bodies become UTF-8; a wrong declaration falls back", "[parse][charset]") {
  ParsedEmail latin1 = parse(crlf(
      "From: a@example.com\nMessage-ID: <l1@x>\nContent-Type: text/plain; charset=ISO-8859-1\n"
      "Content-Transfer-Encoding: 8bit\n\nCaf\xE9 cr\xE8me\n"));
  CHECK(latin1.text == "Caf\xC3\xA9 cr\xC3\xA8me");

  ParsedEmail cp1252 = parse(crlf(
      "From: a@example.com\nMessage-ID: <w@x>\nContent-Type: text/plain; charset=windows-1252\n"
      "Content-Transfer-Encoding: quoted-printable\n\n=93Smart=94 quotes =80 10\n"));
  CHECK(cp1252.text == "\xE2\x80\x9CSmart\xE2\x80\x9D quotes \xE2\x82\xAC 10");

  // Declared UTF-8, sent Latin-1: no invalid UTF-8 leaks out.
  ParsedEmail wrong = parse(crlf(
      "From: a@example.com\nMessage-ID: <wr@x>\nContent-Type: text/plain; charset=utf-8\n\nna\xEFve\n"));
  CHECK(wrong.text == "na\xC3\xAFve");

  // No charset at all, 8-bit body.
  ParsedEmail none = parse(crlf("From: a@example.com\nMessage-ID: <n@x>\n\n\xE9t\xE9\n"));
  CHECK(none.text == "\xC3\xA9t\xC3\xA9");

  // Base64 UTF-16 body with a charset GMime must convert.
  ParsedEmail utf16 = parse(crlf(
      "From: a@example.com\nMessage-ID: <16@x>\nContent-Type: text/plain; charset=utf-16le\n"
      "Content-Transfer-Encoding: base64\n\naABpAA==\n"));
  CHECK(utf16.text == "hi");
}

TEST_CASE("format=flowed bodies are unflowed; quotes still found", "[parse][flowed]") {
  ParsedEmail e = parse(crlf(
      "From: a@example.com\nMessage-ID: <ff@x>\nContent-Type: text/plain; charset=utf-8; format=flowed; delsp=no\n\n"
      "Thanks for the quick \nanswer, it works.\n\nOn Mon, Bob wrote:\n> Please try \n> again.\n"));
  CHECK(e.text == "Thanks for the quick answer, it works.\n\nOn Mon, Bob wrote:\n> Please try again.");
  REQUIRE(e.quoted_from_offset);
  CHECK(e.text.substr(0, *e.quoted_from_offset) == "Thanks for the quick answer, it works.\n\n");
  // Without format=flowed, trailing spaces are just spaces.
  ParsedEmail fixed = parse(crlf("From: a@example.com\nMessage-ID: <fx@x>\n\nkeep \nlines\n"));
  CHECK(fixed.text == "keep \nlines");
}

TEST_CASE("HTML-only message becomes readable text", "[parse][html]") {
  ParsedEmail e = parse(crlf(
      "From: a@example.com\nMessage-ID: <h@x>\nContent-Type: text/html; charset=\"iso-8859-1\"\n"
      "Content-Transfer-Encoding: quoted-printable\n\n"
      "<html><head><style>.x{}</style></head><body><p>Bonjour =E0 vous,</p><p>Merci&nbsp;!</p>"
      "<script>evil()</script></body></html>\n"));
  CHECK(e.text_source == "html");
  CHECK(e.text == "Bonjour \xC3\xA0 vous,\n\nMerci !");
}

TEST_CASE("multipart/alternative prefers text/plain; nested multiparts and attachments", "[parse][mime]") {
  std::string raw = crlf(
      "From: a@example.com\nMessage-ID: <n@x>\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=\"outer\"\n\n"
      "--outer\n"
      "Content-Type: multipart/alternative; boundary=\"alt\"\n\n"
      "--alt\nContent-Type: text/plain; charset=utf-8\n\nPlain version\n"
      "--alt\nContent-Type: multipart/related; boundary=\"rel\"\n\n"
      "--rel\nContent-Type: text/html; charset=utf-8\n\n<p>HTML version</p><img src=\"cid:logo@x\">\n"
      "--rel\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Disposition: inline\n"
      "Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
      "--rel--\n"
      "--alt--\n"
      "--outer\nContent-Type: application/pdf; name=\"invoice.pdf\"\n"
      "Content-Disposition: attachment; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf\n"
      "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n"
      "--outer\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"fwd.eml\"\n\n"
      "From: other@example.com\nSubject: inner\n\ninner body must not become the text\n"
      "--outer--\n");
  ParsedEmail e = parse(raw);
  CHECK(e.text == "Plain version");
  CHECK(e.text_source == "plain");
  REQUIRE(e.attachments.size() == 3);
  CHECK(e.attachment_count == 3);
  CHECK(e.attachments[0].content_type == "image/png");
  CHECK(e.attachments[0].disposition == "inline");
  CHECK(e.attachments[0].content_id == "logo@x");
  CHECK(e.attachments[0].size_bytes == 8);
  CHECK(e.attachments[1].filename == "R\xC3\xA9sum\xC3\xA9.pdf");
  CHECK(e.attachments[1].content_type == "application/pdf");
  CHECK(e.attachments[1].size_bytes == 9);  // "%PDF-1.4\n"
  CHECK(e.attachments[1].disposition == "attachment");
  CHECK(e.attachments[2].content_type == "message/rfc822");
  CHECK(e.attachments[2].filename == "fwd.eml");
  CHECK(e.attachments[2].size_bytes > 20);
  CHECK(e.text.find("inner body") == std::string::npos);
}

TEST_CASE("several inline text parts are joined; a named text attachment is not the text", "[parse][mime]") {
  ParsedEmail e = parse(crlf(
      "From: a@example.com\nMessage-ID: <j@x>\nContent-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/plain\n\npart one\n"
      "--b\nContent-Type: image/jpeg\nContent-Disposition: inline\n\nJPEG\n"
      "--b\nContent-Type: text/plain\n\npart two\n"
      "--b\nContent-Type: text/plain; name=log.txt\nContent-Disposition: attachment; filename=log.txt\n\nlog\n"
      "--b--\n"));
  CHECK(e.text == "part one\n\npart two");
  REQUIRE(e.attachments.size() == 2);
  CHECK(e.attachments[0].content_type == "image/jpeg");
  CHECK(e.attachments[1].filename == "log.txt");
  CHECK(e.attachments[1].size_bytes == 3);
}

TEST_CASE("a 10 MiB attachment is measured, not kept", "[parse][mime][big]") {
  std::string payload_line(76, 'A');  // base64 of zero bytes... 'A' decodes to 0x00
  std::string raw = crlf(
      "From: a@example.com\nMessage-ID: <big@x>\nContent-Type: multipart/mixed; boundary=zz\n\n"
      "--zz\nContent-Type: text/plain\n\nsee attached\n"
      "--zz\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=big.bin\n"
      "Content-Transfer-Encoding: base64\n\n");
  // 10 MiB decoded = 10485760 bytes = 13981013.33 base64 chars: use 76-char lines of 57 bytes.
  const std::size_t lines = 10 * 1024 * 1024 / 57;
  raw.reserve(raw.size() + (lines + 2) * 78);
  for (std::size_t i = 0; i < lines; ++i) raw += payload_line + "\r\n";
  raw += "AAAA\r\n--zz--\r\n";
  ParsedEmail e = parse(raw);
  CHECK(e.text == "see attached");
  REQUIRE(e.attachments.size() == 1);
  CHECK(e.attachments[0].filename == "big.bin");
  CHECK(e.attachments[0].size_bytes == lines * 57 + 3);
  CHECK(e.attachments[0].size_bytes > 10 * 1000 * 1000);
  CHECK(sizeof(ParsedEmail) + e.text.size() < 4096);  // nothing of the payload is held

  ParseLimits small;
  small.max_message_bytes = 1024 * 1024;
  auto refused = parse_message(raw, small, received);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().find("over the limit of 1048576 bytes") != std::string::npos);
}

TEST_CASE("broken MIME: missing boundaries, no closing delimiter, bogus structure", "[parse][mime]") {
  // Boundary parameter missing altogether.
  ParsedEmail no_param = parse(crlf(
      "From: a@example.com\nMessage-ID: <nb@x>\nContent-Type: multipart/mixed\n\nsome text\n"));
  CHECK(valid_utf8(no_param.text));
  // Boundary declared but never used; never closed; garbage after.
  ParsedEmail unused = parse(crlf(
      "From: a@example.com\nMessage-ID: <un@x>\nContent-Type: multipart/mixed; boundary=nothere\n\n"
      "text without any delimiter\n"));
  CHECK(valid_utf8(unused.text));
  ParsedEmail unclosed = parse(crlf(
      "From: a@example.com\nMessage-ID: <uc@x>\nContent-Type: multipart/alternative; boundary=b\n\n"
      "--b\nContent-Type: text/plain\n\nfirst part\n--b\nContent-Type: text/html\n\n<p>cut"));
  CHECK(unclosed.text == "first part");
  // A boundary that is a prefix of another.
  ParsedEmail prefix = parse(crlf(
      "From: a@example.com\nMessage-ID: <pf@x>\nContent-Type: multipart/mixed; boundary=a\n\n"
      "--a\nContent-Type: multipart/mixed; boundary=ab\n\n--ab\nContent-Type: text/plain\n\ninner\n--ab--\n--a--\n"));
  CHECK(prefix.text == "inner");
}

TEST_CASE("content types are reduced to ASCII tokens", "[parse][mime]") {
  // Found by the fuzzer: a long type with 8-bit bytes was cut inside a UTF-8 sequence.
  ParsedEmail e = parse(crlf("From: a@example.com\nMessage-ID: <ct@x>\nContent-Type: multipart/mixed; boundary=o\n\n"
                             "--o\nContent-Type: text/plain\n\nsee\n"
                             "--o\nContent-Type: Application/X-\xFF\xFE" + std::string(300, 'z') + "\n\nbody\n"
                             "--o\nContent-Type: \xC3\xA9/\n\nbody\n--o--\n"));
  REQUIRE(e.attachments.size() == 2);
  CHECK(e.attachments[0].content_type == "application/x-" + std::string(62, 'z'));
  INFO(e.attachments[1].content_type);
  CHECK(std::all_of(e.attachments[1].content_type.begin(), e.attachments[1].content_type.end(),
                    [](char c) { return c > 0x20 && c < 0x7F; }));
}

TEST_CASE("deep nesting and part counts are bounded", "[parse][mime][limits]") {
  std::string raw = "From: a@example.com\r\nMessage-ID: <deep@x>\r\n";
  const int depth = 60;
  for (int i = 0; i < depth; ++i) {
    raw += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
  }
  raw += "Content-Type: text/plain\r\n\r\nbottom\r\n";
  ParseLimits limits;
  limits.max_depth = 10;
  ParsedEmail e = parse(raw, limits);
  CHECK(e.parts_truncated);
  CHECK(e.text.empty());

  std::string many = "From: a@example.com\r\nMessage-ID: <many@x>\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n";
  for (int i = 0; i < 300; ++i) many += "--m\r\nContent-Type: application/x-" + std::to_string(i) + "\r\n\r\nx\r\n";
  many += "--m--\r\n";
  limits = {};
  limits.max_parts = 101;
  limits.max_attachments = 20;
  ParsedEmail m = parse(many, limits);
  CHECK(m.parts_truncated);
  CHECK(m.attachment_count == 100);
  CHECK(m.attachments.size() == 20);
}

TEST_CASE("bounces and auto-replies are flagged", "[parse][loop]") {
  ParsedEmail ooo = parse(crlf("From: a@example.com\nMessage-ID: <o@x>\nAuto-Submitted: auto-replied; owner-email=a\n\nI am away\n"));
  CHECK(ooo.auto_reply);
  CHECK_FALSE(ooo.bounce);
  CHECK(has_reason(ooo, "auto-submitted:auto-replied"));
  CHECK(ooo.do_not_auto_reply());

  CHECK_FALSE(parse(crlf("From: a@example.com\nMessage-ID: <o2@x>\nAuto-Submitted: no\n\nhi\n")).auto_reply);
  CHECK(parse(crlf("From: a@example.com\nMessage-ID: <o3@x>\nX-Autoreply: yes\n\nhi\n")).auto_reply);
  CHECK(has_reason(parse(crlf("From: a@example.com\nMessage-ID: <o4@x>\nPrecedence: Bulk\n\nhi\n")), "precedence:bulk"));
  CHECK(parse(crlf("From: a@example.com\nMessage-ID: <o5@x>\nPrecedence: auto_reply\n\nhi\n")).auto_reply);
  CHECK(parse(crlf("From: a@example.com\nMessage-ID: <o6@x>\nPrecedence: list\n\nhi\n")).auto_reply);
  CHECK_FALSE(parse(crlf("From: a@example.com\nMessage-ID: <o7@x>\nPrecedence: first-class\n\nhi\n")).auto_reply);
  CHECK(parse(crlf("From: a@example.com\nMessage-ID: <o8@x>\nList-Id: <users.lists.example.com>\n\nhi\n")).auto_reply);

  ParsedEmail null_path = parse(crlf("Return-Path: <>\nFrom: a@example.com\nMessage-ID: <np@x>\n\nhi\n"));
  CHECK(null_path.bounce);
  REQUIRE(null_path.return_path);
  CHECK(null_path.return_path->empty());
  CHECK(has_reason(null_path, "return-path:null"));

  ParsedEmail daemon = parse(crlf("From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\nMessage-ID: <md@x>\n\nfailed\n"));
  CHECK(daemon.bounce);
  CHECK(has_reason(daemon, "sender:mailer-daemon"));
}

TEST_CASE("a delivery-status report is a bounce; its returned message is not the text", "[parse][loop]") {
  ParsedEmail e = parse(corpus("bounce_dsn.eml"));
  CHECK(e.bounce);
  CHECK(has_reason(e, "report:delivery-status"));
  CHECK(e.text.starts_with("This is the mail system"));
  CHECK(e.text.find("original body") == std::string::npos);
  bool has_rfc822 = std::any_of(e.attachments.begin(), e.attachments.end(),
                                [](const Attachment& a) { return a.content_type == "message/rfc822"; });
  CHECK(has_rfc822);
}

TEST_CASE("Outlook HTML reply: windows-1252 HTML, quoted part located", "[parse][html][quote]") {
  ParsedEmail e = parse(corpus("outlook_reply.eml"));
  CHECK(e.subject == "RE: Your ticket #4521");
  CHECK(e.text_source == "html");
  REQUIRE(e.quoted_from_offset);
  std::string fresh = e.text.substr(0, *e.quoted_from_offset);
  CHECK(fresh.find("It works now \xE2\x80\x93 thanks") != std::string::npos);
  CHECK(fresh.find("Original") == std::string::npos);
  CHECK(e.text.substr(*e.quoted_from_offset).find("From:") != std::string::npos);
  CHECK(e.in_reply_to == "omnitrail.abc@mail.omnitrail.test");
  CHECK(e.thread_key == "root-1@mail.omnitrail.test");
}

TEST_CASE("body bound: text cut at a character boundary with the flag set", "[parse][limits]") {
  std::string body;
  for (int i = 0; i < 5000; ++i) body += "\xC3\xA9";  // 10000 bytes
  ParseLimits limits;
  limits.max_text_bytes = 1001;
  ParsedEmail e = parse(crlf("From: a@example.com\nMessage-ID: <t@x>\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n"),
                        limits);
  CHECK(e.text_truncated);
  CHECK(e.text.size() == 1000);
  CHECK(valid_utf8(e.text));

  std::string html = "<p>" + std::string(5000, 'x') + "</p>";
  ParsedEmail h = parse(crlf("From: a@example.com\nMessage-ID: <th@x>\nContent-Type: text/html\n\n" + html + "\n"), limits);
  CHECK(h.text_truncated);
  CHECK(h.text.size() <= 1001);
}

TEST_CASE("dates: bad, missing or implausible Date falls back to the received time", "[parse][date]") {
  CHECK(parse(crlf("From: a@example.com\nMessage-ID: <d1@x>\nDate: yesterday-ish\n\nb\n")).date_ms == received);
  ParsedEmail missing = parse(crlf("From: a@example.com\nMessage-ID: <d2@x>\n\nb\n"));
  CHECK(missing.date_ms == received);
  CHECK_FALSE(missing.date_from_header);
  CHECK(parse(crlf("From: a@example.com\nMessage-ID: <d3@x>\nDate: Mon, 01 Jan 2100 00:00:00 +0000\n\nb\n")).date_ms ==
        received);
  CHECK(parse(crlf("From: a@example.com\nMessage-ID: <d4@x>\nDate: Thu, 01 Jan 1970 00:00:00 +0000\n\nb\n")).date_ms ==
        received);
  ParsedEmail no_weekday = parse(crlf("From: a@example.com\nMessage-ID: <d5@x>\nDate: 30 Nov 2026 23:00:00 -0500\n\nb\n"));
  CHECK(no_weekday.date_ms == 1796097600000);  // 2026-12-01T04:00Z
  CHECK(no_weekday.date_from_header);
}

TEST_CASE("huge header counts are refused; NUL bytes and junk never crash", "[parse][limits]") {
  std::string raw = "From: a@example.com\r\n";
  for (int i = 0; i < 6000; ++i) raw += "X-Spam-" + std::to_string(i) + ": y\r\n";
  raw += "\r\nbody\r\n";
  auto refused = parse_message(raw, {}, received);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error() == "message has more than 5000 header fields");
  ParseLimits generous;
  generous.max_header_fields = 10000;
  CHECK(parse_message(raw, generous, received).ok());

  using namespace std::string_literals;
  std::string nul = "From: a@exa\0mple.com\r\nSubject: nul\0byte\r\nMessage-ID: <nul@x>\r\n\r\nbo\0dy\r\n"s;
  REQUIRE(nul.find('\0') != std::string::npos);
  ParsedEmail e = parse(nul);
  CHECK(valid_utf8(e.subject));
  CHECK(e.text.find('\0') == std::string::npos);
  CHECK(e.subject.find('\0') == std::string::npos);
  CHECK(e.from.address.find('\0') == std::string::npos);

  auto empty = parse_message("", {}, received);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().find("no header fields") != std::string::npos);
  CHECK_FALSE(parse_message("\r\n\r\njust a body", {}, received).ok());
  CHECK_FALSE(parse_message("no colon anywhere\r\n", {}, received).ok());
}

TEST_CASE("MIME shapes that would make GMime allocate without bound are refused", "[parse][limits]") {
  // 300000 empty parts in 3 MB cost GMime 420 MB; a million part headers in 8 MB, 500 MB.
  std::string parts = crlf("From: a@example.com\nMessage-ID: <p@x>\nContent-Type: multipart/mixed; boundary=b\n\n");
  for (int i = 0; i < 300000; ++i) parts += "--b\r\n\r\nx\r\n";
  auto refused = parse_message(parts, {}, received);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error() == "message has more than 10000 MIME boundary lines");

  std::string headers = crlf("From: a@example.com\nMessage-ID: <h@x>\nContent-Type: multipart/mixed; boundary=b\n\n--b\n");
  for (int i = 0; i < 30000; ++i) headers += "X-A: y\r\n";
  headers += "\r\nbody\r\n--b--\r\n";
  auto refused_headers = parse_message(headers, {}, received);
  REQUIRE_FALSE(refused_headers.ok());
  CHECK(refused_headers.error() == "message has more than 20000 header fields in its MIME parts");

  // 8 MB of To: cost GMime 495 MB.
  std::string to = "From: a@example.com\r\nMessage-ID: <t@x>\r\nTo: ";
  for (int i = 0; i < 300000; ++i) to += "a@b, ";
  to += "\r\n\r\nbody\r\n";
  auto refused_to = parse_message(to, {}, received);
  REQUIRE_FALSE(refused_to.ok());
  CHECK(refused_to.error() == "message has more than 1048576 bytes of header fields");

  // Body lines with colons are not part headers; a few hundred parts are fine.
  std::string colons = crlf("From: a@example.com\nMessage-ID: <c@x>\n\n");
  for (int i = 0; i < 50000; ++i) colons += "Key: value\r\n";
  CHECK(parse_message(colons, {}, received).ok());
  std::string some = crlf("From: a@example.com\nMessage-ID: <s@x>\nContent-Type: multipart/mixed; boundary=b\n\n");
  for (int i = 0; i < 400; ++i) some += "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nx\r\n";
  some += "--b--\r\n";
  auto fine = parse_message(some, {}, received);
  REQUIRE(fine.ok());
  CHECK(fine->attachment_count == 400);
}

TEST_CASE("long header values are bounded; folded subjects are unfolded", "[parse][limits]") {
  ParsedEmail folded = parse(crlf("From: a@example.com\nMessage-ID: <f@x>\nSubject: part one\n\tpart two\n  part three\n\nb\n"));
  CHECK(folded.subject == "part one part two part three");
  ParseLimits limits;
  limits.max_header_text_bytes = 100;
  ParsedEmail long_subject = parse(crlf("From: a@example.com\nMessage-ID: <ls@x>\nSubject: " + std::string(5000, 's') + "\n\nb\n"), limits);
  CHECK(long_subject.subject.size() == 100);
  // Found by the fuzzer: a cut right after a blank left a trailing space.
  ParsedEmail blank_cut = parse(crlf("From: a@example.com\nMessage-ID: <bc@x>\nSubject: " + std::string(99, 'w') +
                                     " tail\n\nb\n"),
                                limits);
  CHECK(blank_cut.subject == std::string(99, 'w'));
}

TEST_CASE("address groups and many recipients", "[parse][address]") {
  std::string to;
  for (int i = 0; i < 300; ++i) to += (i ? ", " : "") + std::string("u") + std::to_string(i) + "@example.com";
  ParseLimits limits;
  limits.max_addresses = 50;
  ParsedEmail e = parse(crlf("From: a@example.com\nMessage-ID: <g@x>\nTo: " + to +
                             "\nCc: Team: x@example.com, y@example.com;\n\nb\n"),
                        limits);
  CHECK(e.to.size() == 50);
  REQUIRE(e.cc.size() == 2);
  CHECK(e.cc[1].address == "y@example.com");
  // No From at all: empty mailbox, still parsed.
  ParsedEmail anonymous = parse(crlf("Subject: who\nMessage-ID: <w@x>\n\nb\n"));
  CHECK(anonymous.from.address.empty());
}

TEST_CASE("parse_message is safe to call from several threads at once", "[parse][threads]") {
  // The first call initialises GMime; start all threads together so that first call races.
  const std::vector<std::string> inputs = {simple, corpus("bounce_dsn.eml"), corpus("outlook_reply.eml")};
  std::atomic<bool> go{false};
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int round = 0; round < 50; ++round) {
        const std::string& raw = inputs[static_cast<std::size_t>(round + t) % inputs.size()];
        auto result = parse_message(raw, {}, received);
        auto again = parse_message(raw, {}, received);
        if (!result.ok() || !again.ok() || result->text != again->text || result->subject != again->subject ||
            result->message_id != again->message_id) {
          ++mismatches;
        }
      }
    });
  }
  go = true;
  for (auto& thread : threads) thread.join();
  CHECK(mismatches.load() == 0);
  CHECK(parse(inputs[2]).subject == "RE: Your ticket #4521");
}
