// sms_text: which coding a text needs, how many parts it takes, and the decoders for what Kannel
// passes in.
#include "connectors/kannel/sms_text.hpp"

#include <catch2/catch.hpp>

using namespace omnitrail::connectors::kannel;

TEST_CASE("GSM 7-bit texts stay 7-bit; anything else needs UCS-2", "[kannel][sms_text]") {
  CHECK(sms_encoding("Hello, your order 1234 ships today.").coding == Coding::gsm7);
  CHECK(sms_encoding("Prix: 12€ — merci").coding == Coding::ucs2);  // the em dash is not GSM
  CHECK(sms_encoding("Prix: 12€, à bientôt").coding == Coding::ucs2);  // ô is not GSM (ö is)
  CHECK(sms_encoding("Grüße aus Köln, 12€, @home_Ä§¿").coding == Coding::gsm7);
  CHECK(sms_encoding("ΔΦΓΛΩΠΨΣΘΞ").coding == Coding::gsm7);
  CHECK(sms_encoding("back`tick").coding == Coding::ucs2);  // ` is not in the GSM alphabet
  CHECK(sms_encoding("tab\there").coding == Coding::ucs2);
  CHECK(sms_encoding("Thanks 👍").coding == Coding::ucs2);
  CHECK(sms_encoding("Привет").coding == Coding::ucs2);
  CHECK(sms_encoding("你好").coding == Coding::ucs2);
  CHECK(sms_encoding("line\nbreak\r\n").coding == Coding::gsm7);
}

TEST_CASE("septets count the extension table twice; UTF-16 units count emoji twice", "[kannel][sms_text]") {
  CHECK(sms_encoding("abc").units == 3);
  CHECK(sms_encoding("{€}").units == 6);
  CHECK(sms_encoding("[~]^|\\").units == 12);
  CHECK(sms_encoding("Привет").units == 6);
  CHECK(sms_encoding("👍").units == 2);
  CHECK(sms_encoding("a👍b").units == 4);
  CHECK(sms_encoding("").units == 0);
  CHECK(sms_encoding("").segments == 0);
}

TEST_CASE("segments: 160 / 153 septets, 70 / 67 units", "[kannel][sms_text]") {
  CHECK(sms_encoding(std::string(160, 'a')).segments == 1);
  CHECK(sms_encoding(std::string(161, 'a')).segments == 2);
  CHECK(sms_encoding(std::string(306, 'a')).segments == 2);
  CHECK(sms_encoding(std::string(307, 'a')).segments == 3);
  CHECK(sms_encoding(std::string(80, 'a') + std::string(40, '{')).segments == 1);  // 80 + 80 septets
  CHECK(sms_encoding(std::string(80, 'a') + std::string(41, '{')).segments == 2);
  std::string cyrillic;
  for (int i = 0; i < 70; ++i) cyrillic += "ж";
  CHECK(sms_encoding(cyrillic).segments == 1);
  CHECK(sms_encoding(cyrillic + "ж").segments == 2);
  std::string emoji;
  for (int i = 0; i < 35; ++i) emoji += "😀";
  CHECK(sms_encoding(emoji).units == 70);
  CHECK(sms_encoding(emoji).segments == 1);
  CHECK(sms_encoding(emoji + "x").segments == 2);
  std::string long_ucs2;
  for (int i = 0; i < 67 * 3; ++i) long_ucs2 += "ж";
  CHECK(sms_encoding(long_ucs2).segments == 3);
  CHECK(sms_encoding(long_ucs2 + "ж").segments == 4);
}

TEST_CASE("an invalid byte keeps the result defined", "[kannel][sms_text]") {
  auto e = sms_encoding(std::string("a\xff") + "b");
  CHECK(e.coding == Coding::ucs2);
  CHECK(e.units == 3);
  CHECK(sms_encoding("\xe2\x82").coding == Coding::ucs2);  // truncated sequence
}

TEST_CASE("UTF-16BE decodes BMP, surrogate pairs and a byte-order mark", "[kannel][sms_text]") {
  using namespace std::string_literals;
  CHECK(utf16be_to_utf8("\x00H\x00i"s) == "Hi");
  CHECK(utf16be_to_utf8("\x04\x1f\x04\x40\x04\x38"s) == "При");
  CHECK(utf16be_to_utf8("\xd8\x3d\xde\x00"s) == "😀");
  CHECK(utf16be_to_utf8("\xfe\xff\x00H"s) == "H");
  CHECK(utf16be_to_utf8(""s) == "");
  CHECK(utf16be_to_utf8("\x20\xac"s) == "€");
}

TEST_CASE("UTF-16BE refuses odd lengths, unpaired surrogates and NUL", "[kannel][sms_text]") {
  using namespace std::string_literals;
  CHECK_FALSE(utf16be_to_utf8("\x00H\x00"s));
  CHECK_FALSE(utf16be_to_utf8("\xd8\x3d"s));            // high surrogate at the end
  CHECK_FALSE(utf16be_to_utf8("\xd8\x3d\x00H"s));       // high surrogate without a low one
  CHECK_FALSE(utf16be_to_utf8("\xde\x00\x00H"s));       // a lone low surrogate
  CHECK_FALSE(utf16be_to_utf8("\xd8\x3d\xd8\x3d"s));    // two high surrogates
  CHECK_FALSE(utf16be_to_utf8("\x00H\x00\x00"s));       // U+0000
}

TEST_CASE("Latin-1 maps each byte to its code point", "[kannel][sms_text]") {
  using namespace std::string_literals;
  CHECK(latin1_to_utf8("caf\xe9"s) == "café");
  CHECK(latin1_to_utf8("\xa3" "5"s) == "£5");
  CHECK(latin1_to_utf8("plain"s) == "plain");
  CHECK_FALSE(latin1_to_utf8("a\0b"s));
}

TEST_CASE("append_utf8 writes 1 to 4 bytes", "[kannel][sms_text]") {
  std::string out;
  append_utf8(out, 'A');
  append_utf8(out, 0xE9);
  append_utf8(out, 0x20AC);
  append_utf8(out, 0x1F600);
  CHECK(out == "Aé€😀");
}
