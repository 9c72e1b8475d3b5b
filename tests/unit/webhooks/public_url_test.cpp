#include <catch2/catch.hpp>

#include "connectors/webhooks/public_url.hpp"

using omnitrail::connectors::webhooks::check_public_url;

TEST_CASE("public_url: an http(s) URL with a host and no query") {
  CHECK(check_public_url("https://cc.example.com/webhooks/twilio").empty());
  CHECK(check_public_url("http://127.0.0.1:8080/webhooks/sms").empty());
  CHECK(check_public_url("https://cc.example.com").empty());
  CHECK(check_public_url("ftp://cc.example.com/x").find("must start with https:// or http://") == 0);
  CHECK(check_public_url("https:///webhooks").find("must name a host") == 0);
  CHECK(check_public_url("https://").find("must name a host") == 0);
  CHECK(check_public_url("https://cc.example.com/a b").find("spaces or control") != std::string::npos);
  CHECK(check_public_url("https://cc.example.com/a\tb").find("spaces or control") != std::string::npos);
  CHECK(check_public_url("https://cc.example.com/x?a=1").find("query or fragment") != std::string::npos);
  CHECK(check_public_url("https://cc.example.com/x#f").find("query or fragment") != std::string::npos);
}
