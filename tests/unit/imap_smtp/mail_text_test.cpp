// Charset repair and conversion, HTML to text, quote detection, Message-ID normalisation.
#include <catch2/catch.hpp>

#include <string>

#include "connectors/imap_smtp/mail_text.hpp"

using namespace omnitrail::connectors::imap_smtp;

TEST_CASE("repair_utf8 keeps UTF-8, reads stray bytes as windows-1252, drops controls", "[text]") {
  CHECK(repair_utf8("Gr\xC3\xBC\xC3\x9F" "e") == "Gr\xC3\xBC\xC3\x9F" "e");
  CHECK(repair_utf8("caf\xE9") == "caf\xC3\xA9");                       // Latin-1 e-acute
  CHECK(repair_utf8("\x93quoted\x94") == "\xE2\x80\x9Cquoted\xE2\x80\x9D");  // cp1252 curly quotes
  CHECK(repair_utf8("\x80") == "\xE2\x82\xAC");                          // euro sign
  CHECK(repair_utf8("\x81") == "\xEF\xBF\xBD");                          // undefined in cp1252
  CHECK(repair_utf8(std::string("a\0b\x01\x7F" "c", 6)) == "abc");
  CHECK(repair_utf8("a\r\nb\rc\n") == "a\nb\nc\n");
  CHECK(repair_utf8("tab\there") == "tab\there");
  // Overlong and surrogate encodings are not UTF-8: each byte is repaired separately.
  CHECK(valid_utf8(repair_utf8("\xC0\xAF")));
  CHECK(repair_utf8("\xED\xA0\x80") != "\xED\xA0\x80");
  CHECK(valid_utf8(repair_utf8("\xF4\x90\x80\x80")));
  // A truncated sequence at the end.
  CHECK(repair_utf8("ab\xE2\x82") == "ab\xC3\xA2\xE2\x80\x9A");
  // UTF-8 encoded C1 controls are dropped too.
  CHECK(repair_utf8("a\xC2\x85" "b") == "ab");
}

TEST_CASE("to_utf8 converts declared charsets and falls back sanely", "[text][charset]") {
  CHECK(to_utf8("caf\xE9", "ISO-8859-1") == "caf\xC3\xA9");
  CHECK(to_utf8("caf\xE9", "latin1") == "caf\xC3\xA9");
  // Latin-1 labels get windows-1252 (mailers put curly quotes there).
  CHECK(to_utf8("\x93hi\x94", "iso-8859-1") == "\xE2\x80\x9Chi\xE2\x80\x9D");
  CHECK(to_utf8("\x80 5", "windows-1252") == "\xE2\x82\xAC 5");
  // KOI8-R and ISO-8859-2 through iconv.
  CHECK(to_utf8("\xF0\xD2\xC9\xD7\xC5\xD4", "koi8-r") == "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");
  CHECK(to_utf8("\xB3\xF3\x64\xBC", "iso-8859-2") == "\xC5\x82\xC3\xB3\x64\xC5\xBA");
  // Shift_JIS.
  CHECK(to_utf8("\x93\xfa\x96\x7b", "shift_jis") == "\xE6\x97\xA5\xE6\x9C\xAC");
  // Declared UTF-8 but Latin-1 bytes: repaired, not passed through.
  CHECK(to_utf8("caf\xE9", "utf-8") == "caf\xC3\xA9");
  // Declared Latin-1 but actually UTF-8: kept as UTF-8 (no mojibake "cafÃ©").
  CHECK(to_utf8("caf\xC3\xA9", "iso-8859-1") == "caf\xC3\xA9");
  // Unknown charset: UTF-8 when valid, else windows-1252.
  CHECK(to_utf8("caf\xC3\xA9", "x-unknown-charset") == "caf\xC3\xA9");
  CHECK(to_utf8("caf\xE9", "x-unknown-charset") == "caf\xC3\xA9");
  // A wrong multi-byte declaration (invalid Shift_JIS) falls back instead of failing.
  CHECK(valid_utf8(to_utf8("\xFF\xFF\xFF", "shift_jis")));
  // Charset names with quotes, spaces or NUL never reach iconv as garbage.
  CHECK(to_utf8("abc", " \"UTF-8\" ") == "abc");
  CHECK(to_utf8("abc", std::string("utf\0-8", 6)) == "abc");
  // UTF-16 with a BOM converts; NULs never leak.
  std::string utf16("\xFF\xFEh\0i\0", 6);
  CHECK(to_utf8(utf16, "utf-16") == "hi");
}

TEST_CASE("html_to_text strips markup, scripts and styles, decodes entities, keeps blocks", "[text][html]") {
  bool truncated = true;
  std::string html =
      "<!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style>"
      "<script>alert('x<p>y')</script></head><body>"
      "<p>Hello&nbsp;<b>Bob</b>,</p><p>Your order &amp; invoice&#33; &#x1F600; &euro;5 &bogus;</p>"
      "<div>line one<br>line two<BR/>line three</div>"
      "<ul><li>first</li><li>second</li></ul>"
      "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>"
      "<!-- hidden <p>comment</p> -->"
      "<pre>  keep\n    spacing</pre>"
      "<p>a &lt; b and c > d</p>"
      "</body></html>";
  std::string text = html_to_text(html, 10000, truncated);
  CHECK_FALSE(truncated);
  CHECK(text ==
        "Hello Bob,\n\n"
        "Your order & invoice! \xF0\x9F\x98\x80 \xE2\x82\xAC" "5 &bogus;\n\n"
        "line one\nline two\nline three\n\n"
        "- first\n- second\n\n"
        "a\tb\nc\td\n\n"
        "  keep\n    spacing\n\n"
        "a < b and c > d");
  CHECK(text.find("alert") == std::string::npos);
  CHECK(text.find("color") == std::string::npos);
  CHECK(text.find("comment") == std::string::npos);
}

TEST_CASE("html_to_text handles broken markup and bounds its output", "[text][html]") {
  bool truncated = false;
  CHECK(html_to_text("<p>unterminated <b", 100, truncated) == "unterminated");
  CHECK(html_to_text("<script>never closed", 100, truncated).empty());
  CHECK(html_to_text("<a href='x>y'>link</a> text", 100, truncated) == "link text");
  CHECK(html_to_text("&#0;&#xD800;&#99999999;&#x110000;", 100, truncated) ==
        "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(html_to_text("&#150;", 100, truncated) == "\xE2\x80\x93");  // cp1252 range, as browsers
  CHECK(html_to_text("<SCRIPT>x</SCRIPT >after", 100, truncated) == "after");

  std::string big;
  for (int i = 0; i < 1000; ++i) big += "<p>\xC3\xA9t\xC3\xA9</p>";
  std::string text = html_to_text(big, 101, truncated);
  CHECK(truncated);
  CHECK(text.size() <= 101);
  CHECK(valid_utf8(text));
}

TEST_CASE("html_to_text marks blockquotes as quoted lines", "[text][html]") {
  bool truncated = false;
  std::string text = html_to_text(
      "<div>Thanks, fixed.</div><div class=gmail_quote>On Mon, Bob wrote:<br>"
      "<blockquote>It is broken<br>since Monday<blockquote>deeper</blockquote></blockquote></div>",
      1000, truncated);
  CHECK(text == "Thanks, fixed.\nOn Mon, Bob wrote:\n> It is broken\n> since Monday\n> > deeper");
  auto offset = quoted_offset(text);
  REQUIRE(offset);
  CHECK(text.substr(0, *offset) == "Thanks, fixed.\n");
}

TEST_CASE("quoted_offset finds the trailing quote, not interleaved answers", "[text][quote]") {
  std::string gmail = "Yes, tomorrow works.\n\nOn Tue, 1 Dec 2026 at 09:00, Alice <a@example.com> wrote:\n> Can we meet?\n";
  auto offset = quoted_offset(gmail);
  REQUIRE(offset);
  CHECK(gmail.substr(*offset).rfind("On Tue", 0) == 0);

  std::string outlook = "Fine.\n\n________________________________\nFrom: Alice\nSent: Tuesday\nSubject: x\n\nold text\n";
  offset = quoted_offset(outlook);
  REQUIRE(offset);
  CHECK(outlook.substr(0, *offset) == "Fine.\n\n");

  std::string original = "See below.\n-----Original Message-----\nFrom: x\n";
  offset = quoted_offset(original);
  REQUIRE(offset);
  CHECK(original.substr(0, *offset) == "See below.\n");

  std::string german = "Danke!\nAm 01.12.2026 um 09:00 schrieb Alice Muster <a@example.com>:\n> Hallo\n";
  offset = quoted_offset(german);
  REQUIRE(offset);
  CHECK(german.substr(0, *offset) == "Danke!\n");

  // Bare '>' run at the end, with a colon line before it.
  std::string bare = "My answer\nAlice said:\n> q1\n>\n> q2\n\n";
  offset = quoted_offset(bare);
  REQUIRE(offset);
  CHECK(bare.substr(0, *offset) == "My answer\n");

  // Interleaved: the last answer follows the last quote, so nothing trails.
  CHECK_FALSE(quoted_offset("> q1\nanswer 1\n> q2\nanswer 2\n"));
  // No quote at all; a marker at offset 0 is not a split.
  CHECK_FALSE(quoted_offset("Just a message.\nWith two lines."));
  CHECK_FALSE(quoted_offset("On Monday, Bob wrote:"));
  CHECK_FALSE(quoted_offset(""));
}

TEST_CASE("unflow joins RFC 3676 flowed lines and keeps fixed ones", "[text][flowed]") {
  CHECK(unflow("This is a long \nparagraph that \nflows.\nFixed line.\n", false) ==
        "This is a long paragraph that flows.\nFixed line.\n");
  CHECK(unflow("Del\nSp \nyes\n", true) == "Del\nSpyes\n");
  // Quote depths: a flowed line never joins a line of another depth; markers normalised.
  CHECK(unflow(">> deep \n>> quote\n> shallow \nnew text\n", false) == ">> deep quote\n> shallow \nnew text\n");
  CHECK(unflow(">> deep \n>> quote\n", false) == ">> deep quote\n");
  CHECK(unflow("> a \nb\n", false) == "> a \nb\n");
  // Space-stuffing removed; the signature separator is not a flowed line.
  CHECK(unflow("  From here\n-- \nAlice\n", false) == " From here\n-- \nAlice\n");
  CHECK(unflow("", false).empty());
  CHECK(unflow("no newline at end ", false) == "no newline at end ");
}

TEST_CASE("normalize_message_id strips brackets and blanks, keeps case, refuses junk", "[text][ids]") {
  CHECK(normalize_message_id("<abc.123@Example.COM>") == "abc.123@Example.COM");
  CHECK(normalize_message_id("  abc@x  ") == "abc@x");
  CHECK(normalize_message_id(" < abc@x > ") == "abc@x");
  CHECK(normalize_message_id("<>").empty());
  CHECK(normalize_message_id("a b@x").empty());
  CHECK(normalize_message_id("a\x01@x").empty());
  CHECK(normalize_message_id("<<a@x>>").empty());
  CHECK(normalize_message_id("a@x\"y\"").empty());  // found by the fuzzer: quotes do not survive a reply
  CHECK(normalize_message_id("a,b@x").empty());
  CHECK(normalize_message_id("a@[IPv6:2001:db8::1]") == "a@[IPv6:2001:db8::1]");
  CHECK(normalize_message_id("\xC3\xA9t\xC3\xA9@x") == "\xC3\xA9t\xC3\xA9@x");  // RFC 6532 UTF-8 ids
  CHECK(normalize_message_id("a\xFF@x").empty());
  CHECK(normalize_message_id(std::string(501, 'a')).empty());
  CHECK(normalize_message_id(std::string(500, 'a')).size() == 500);
}
