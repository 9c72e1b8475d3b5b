#include "daemon/config/value_parsers.hpp"

#include <catch2/catch.hpp>

using namespace omnitrail::config;
using namespace std::chrono_literals;

TEST_CASE("durations accept one integer with a unit", "[config][duration]") {
  std::string error;
  CHECK(parse_duration("500ms", error) == Duration(500));
  CHECK(parse_duration("30s", error) == Duration(30s));
  CHECK(parse_duration("5m", error) == Duration(5min));
  CHECK(parse_duration("1h", error) == Duration(1h));
  CHECK(parse_duration("1d", error) == Duration(24h));
  CHECK(parse_duration("0s", error) == Duration(0));
  CHECK(parse_duration("10 s", error) == Duration(10s));
}

TEST_CASE("durations reject garbage, missing units, negatives and overflow", "[config][duration]") {
  std::string error;
  CHECK_FALSE(parse_duration("5x", error));
  CHECK(error == R"("5x" is not a duration (use 500ms, 30s, 5m, 1h, 1d))");
  CHECK_FALSE(parse_duration("30", error));
  CHECK(error == R"("30" has no unit (use 500ms, 30s, 5m, 1h, 1d))");
  CHECK_FALSE(parse_duration("-5s", error));
  CHECK(error == R"("-5s" is negative; durations must be zero or more (use 500ms, 30s, 5m, 1h, 1d))");
  CHECK_FALSE(parse_duration("99999999999999999999d", error));
  CHECK(error == R"("99999999999999999999d" is too large for a duration)");
  CHECK_FALSE(parse_duration("9223372036854775807d", error));
  CHECK_FALSE(parse_duration("", error));
  CHECK_FALSE(parse_duration("1.5s", error));
  CHECK_FALSE(parse_duration("1h30m", error));
  CHECK_FALSE(parse_duration("s", error));
}

TEST_CASE("sizes accept bytes, binary and decimal units", "[config][size]") {
  std::string error;
  CHECK(parse_size("512", error) == 512u);
  CHECK(parse_size("512B", error) == 512u);
  CHECK(parse_size("64KiB", error) == 64u * 1024);
  CHECK(parse_size("1MiB", error) == 1024u * 1024);
  CHECK(parse_size("1GiB", error) == 1024ull * 1024 * 1024);
  CHECK(parse_size("64KB", error) == 64'000u);
  CHECK(parse_size("2MB", error) == 2'000'000u);
  CHECK(parse_size("1kib", error) == 1024u);
}

TEST_CASE("sizes reject garbage, negatives and overflow", "[config][size]") {
  std::string error;
  CHECK_FALSE(parse_size("10QB", error));
  CHECK(error == R"("10QB" is not a size (use 512, 64KiB, 1MiB, 1GiB, or KB/MB/GB for powers of 1000))");
  CHECK_FALSE(parse_size("-1", error));
  CHECK(error == R"("-1" is negative; sizes must be zero or more)");
  CHECK_FALSE(parse_size("99999999999TiB", error));
  CHECK(error == R"("99999999999TiB" is too large for a size)");
  CHECK_FALSE(parse_size("", error));
  CHECK_FALSE(parse_size("1.5MiB", error));
}

TEST_CASE("format_duration picks the largest exact unit", "[config][duration]") {
  CHECK(format_duration(Duration(0)) == "0s");
  CHECK(format_duration(Duration(1500)) == "1500ms");
  CHECK(format_duration(Duration(90s)) == "90s");
  CHECK(format_duration(Duration(5min)) == "5m");
  CHECK(format_duration(Duration(48h)) == "2d");
}

TEST_CASE("did-you-mean finds typos, transpositions and abbreviations", "[config][suggest]") {
  const std::vector<std::string> keys{"listen", "tls", "public_url", "limits", "threads"};
  CHECK(edit_distance("listne", "listen") == 1);  // a transposition is one edit
  CHECK(edit_distance("LISTEN", "listen") == 0);
  CHECK(closest_match("listne", keys) == "listen");
  CHECK(closest_match("thread", keys) == "threads");
  CHECK(closest_match("publicurl", keys) == "public_url");
  CHECK_FALSE(closest_match("database", keys));
  CHECK(did_you_mean("warn", {"debug", "info", "warning", "error"}) == R"( (did you mean "warning"?))");
  CHECK(did_you_mean("zzz", keys).empty());
}

TEST_CASE("env references are exactly ${NAME}", "[config][secret]") {
  std::string name;
  CHECK(parse_env_reference("${OMNI_TOKEN}", name));
  CHECK(name == "OMNI_TOKEN");
  CHECK(parse_env_reference("${_x1}", name));
  CHECK_FALSE(parse_env_reference("$OMNI", name));
  CHECK_FALSE(parse_env_reference("${}", name));
  CHECK_FALSE(parse_env_reference("${1X}", name));
  CHECK_FALSE(parse_env_reference("${A B}", name));
  CHECK_FALSE(parse_env_reference("x${A}", name));
}

TEST_CASE("quote escapes and truncates", "[config]") {
  CHECK(quote("a\"b") == R"("a\"b")");
  CHECK(quote("a\nb") == R"("a\nb")");
  CHECK(quote(std::string(100, 'x')) == "\"" + std::string(64, 'x') + "...\"");
}

TEST_CASE("secret digests are stable in a process and hide the value", "[config][secret]") {
  const auto a = secret_digest("hunter2");
  CHECK(a == secret_digest("hunter2"));
  CHECK(a != secret_digest("hunter3"));
  CHECK(a.find("hunter2") == std::string::npos);
  CHECK(a.rfind("hmac-sha256:", 0) == 0);
}
