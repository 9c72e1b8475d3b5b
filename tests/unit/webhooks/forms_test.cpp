// Strict application/x-www-form-urlencoded parsing.
#include <catch2/catch.hpp>

#include "connectors/webhooks/forms.hpp"

using namespace omnitrail::connectors::webhooks;
using Fields = std::vector<std::pair<std::string, std::string>>;

namespace {
Fields parse_ok(std::string_view body) {
  std::string error;
  auto fields = parse_form(body, error);
  INFO(error);
  REQUIRE(fields);
  return *fields;
}

std::string parse_error(std::string_view body, std::size_t max_fields = 256, std::size_t max_value = 64 * 1024) {
  std::string error;
  auto fields = parse_form(body, error, max_fields, max_value);
  CHECK_FALSE(fields);
  return error;
}
}  // namespace

TEST_CASE("forms decode percent escapes and plus", "[forms]") {
  CHECK(parse_ok("From=%2B14158675309&To=%2B18005551212") ==
        Fields{{"From", "+14158675309"}, {"To", "+18005551212"}});
  CHECK(parse_ok("Body=hello+world") == Fields{{"Body", "hello world"}});
  CHECK(parse_ok("Body=1%2B1%3D2") == Fields{{"Body", "1+1=2"}});
  CHECK(parse_ok("Body=caf%C3%A9&x=%e2%82%ac") == Fields{{"Body", "café"}, {"x", "€"}});
  CHECK(parse_ok("a%20b=c") == Fields{{"a b", "c"}});
  CHECK(parse_ok("v=a=b") == Fields{{"v", "a=b"}});
  CHECK(parse_ok("").empty());
}

TEST_CASE("forms keep duplicate keys and skip empty pairs", "[forms]") {
  CHECK(parse_ok("Digits=5678&Digits=1234") == Fields{{"Digits", "5678"}, {"Digits", "1234"}});
  CHECK(parse_ok("a=1&&b=2&") == Fields{{"a", "1"}, {"b", "2"}});
  CHECK(parse_ok("flag&empty=") == Fields{{"flag", ""}, {"empty", ""}});
  auto fields = parse_ok("a=1&b=2&a=3");
  REQUIRE(form_value(fields, "a") != nullptr);
  CHECK(*form_value(fields, "a") == "1");
  CHECK(form_value(fields, "c") == nullptr);
}

TEST_CASE("forms refuse invalid escapes and invalid UTF-8", "[forms]") {
  CHECK(parse_error("a=%").find("invalid percent escape in the value") != std::string::npos);
  CHECK(parse_error("a=%4").find("form field 1 (a)") != std::string::npos);
  CHECK_FALSE(parse_error("a=%zz").empty());
  CHECK_FALSE(parse_error("a=1&b%=2").empty());
  CHECK(parse_error("a=1&%G1=2").find("form field 2: invalid percent escape in the name") != std::string::npos);
  CHECK(parse_error("a=%FF").find("not valid UTF-8") != std::string::npos);
  CHECK_FALSE(parse_error("a=%C0%AF").empty());        // overlong '/'
  CHECK_FALSE(parse_error("a=%ED%A0%80").empty());     // surrogate
  CHECK_FALSE(parse_error("%FF=1").empty());
  CHECK_FALSE(parse_error("a=\xff").empty());           // raw invalid byte
  CHECK(parse_error("=1").find("empty name") != std::string::npos);
}

TEST_CASE("forms enforce field and size limits", "[forms]") {
  std::string three = "a=1&b=2&c=3";
  std::string error;
  CHECK(parse_form(three, error, 3));
  CHECK(parse_error(three, 2).find("more than 2 fields") != std::string::npos);
  CHECK(parse_form("a=12345", error, 256, 5));
  CHECK(parse_error("a=123456", 256, 5).find("value longer than 5 bytes") != std::string::npos);
  CHECK(parse_form("a=%31%32%33%34%35", error, 256, 5));  // limit applies to decoded bytes
  CHECK(parse_error("abcdef=1", 256, 5).find("name longer") != std::string::npos);
  // Default limits: 256 fields, 64 KiB values.
  std::string many;
  for (int i = 0; i < 257; ++i) many += "k=v&";
  CHECK_FALSE(parse_error(many).empty());
  CHECK(parse_form(std::string("v=") + std::string(64 * 1024, 'x'), error));
  CHECK_FALSE(parse_error(std::string("v=") + std::string(64 * 1024 + 1, 'x')).empty());
}

TEST_CASE("forms errors do not echo values", "[forms]") {
  std::string error = parse_error("secret=s3cr3t%ZZ");
  CHECK(error.find("s3cr3t") == std::string::npos);
  // Odd names are not echoed either.
  error = parse_error("na%0Ame=%ZZ");
  CHECK(error.find('\n') == std::string::npos);
}
