// Signatures: Twilio vectors from reference/protocols.md, the CTI header scheme, replay guard.
#include <catch2/catch.hpp>

#include "connectors/webhooks/signatures.hpp"

using namespace omnitrail::connectors::webhooks;

namespace {

const Params call_params = {{"CallSid", "CA1234567890ABCDE"},
                            {"Digits", "1234"},
                            {"From", "+14158675309"},
                            {"To", "+18005551212"},
                            {"Caller", "+14158675309"}};

// Expected values computed with Python's hmac/hashlib, independently of this code.
constexpr const char* cti_secret = "whsec_test";
constexpr const char* cti_body = R"({"event":"newCall"})";
constexpr const char* cti_v1 = "df33f53cc9fb100c06d7318f3af6bb378d7b1dd289b760bed76f9357a8d5d7b2";

std::string cti_header(std::int64_t t, const std::string& v1 = cti_v1) {
  return "t=" + std::to_string(t) + ",v1=" + v1;
}

}  // namespace

TEST_CASE("constant_time_equal compares content and length", "[signatures]") {
  CHECK(constant_time_equal("abc", "abc"));
  CHECK(constant_time_equal("", ""));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "ab"));
  CHECK_FALSE(constant_time_equal("", "a"));
  CHECK_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST_CASE("HMAC and SHA helpers match known answers", "[signatures]") {
  CHECK(hmac_sha256_hex("key", "The quick brown fox jumps over the lazy dog") ==
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
  CHECK(hmac_sha1_base64("key", "The quick brown fox jumps over the lazy dog") == "3nybhbi3iqa8ino29wqQcBydtNk=");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hmac_sha256_hex("", "") == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("base64 round trips and the decoder is strict", "[signatures]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_decode("Zg==") == std::optional<std::string>("f"));
  CHECK(base64_decode("Zm8=") == std::optional<std::string>("fo"));
  CHECK(base64_decode("Zm9vYmFy") == std::optional<std::string>("foobar"));
  CHECK(base64_decode("") == std::optional<std::string>(""));
  std::string binary("\x00\xff\x10\x80", 4);
  CHECK(base64_decode(base64_encode(binary)) == std::optional<std::string>(binary));
  CHECK_FALSE(base64_decode("Zg"));        // missing padding
  CHECK_FALSE(base64_decode("Zg=a"));      // data after padding
  CHECK_FALSE(base64_decode("Z==="));      // too much padding
  CHECK_FALSE(base64_decode("Zh=="));      // non-zero unused bits
  CHECK_FALSE(base64_decode("Zm9v\n"));    // whitespace
  CHECK_FALSE(base64_decode("Zm9-"));      // base64url alphabet
  CHECK_FALSE(base64_decode("Zg==Zg=="));  // padding in the middle
}

TEST_CASE("Twilio vectors from protocols.md all verify", "[twilio]") {
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  const std::string url_443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
  CHECK(twilio_signature("12345", url, call_params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
  CHECK(twilio_signature("12345", url_443, call_params) == "kvajT1Ptam85bY51eRf/AJRuM3w=");
  const Params repeated = {{"Sid", "CA123"}, {"SidAccount", "AC123"}, {"Digits", "5678"}, {"Digits", "1234"}};
  CHECK(twilio_signature("12345", url, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
  const Params other = {{"CallSid", "CA1234567890ABCDE"},
                        {"Caller", "+14158675310"},
                        {"Digits", "1234"},
                        {"From", "+14158675310"},
                        {"To", "+18005551212"}};
  CHECK(twilio_signature("12345", "https://example.com/myapp.php?foo=1&bar=2", other) == "L/OH5YylLD5NRKLltdqwSvS0BnU=");

  CHECK(twilio_valid("12345", url, call_params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
  CHECK(twilio_valid("12345", url, repeated, "IK+Dwps556ElfBT0I3Rgjkr1wJU="));
  CHECK(twilio_valid("12345", "https://example.com/myapp.php?foo=1&bar=2", other, "L/OH5YylLD5NRKLltdqwSvS0BnU="));
}

TEST_CASE("Twilio accepts the URL with and without the default port", "[twilio]") {
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  const std::string url_443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
  // Twilio signed with :443, we know the URL without it, and the other way round.
  CHECK(twilio_valid("12345", url, call_params, "kvajT1Ptam85bY51eRf/AJRuM3w="));
  CHECK(twilio_valid("12345", url_443, call_params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
  CHECK(twilio_valid("12345", url_443, call_params, "kvajT1Ptam85bY51eRf/AJRuM3w="));
  // http and :80
  const Params a = {{"a", "1"}};
  CHECK(twilio_valid("12345", "http://example.com/hook", a, "uBqMSIZD8E+abAj+ox1rWuS0QrE="));
  CHECK(twilio_valid("12345", "http://example.com:80/hook", a, "T2fg8OdoP7Lw6cUd/P53f8EW+9s="));
  // A non-default port is never dropped or swapped.
  CHECK(twilio_url_variants("https://h.example:8443/x") == std::vector<std::string>{"https://h.example:8443/x"});
  CHECK(twilio_url_variants("http://h.example/x") ==
        std::vector<std::string>{"http://h.example/x", "http://h.example:80/x"});
  CHECK(twilio_url_variants("https://u:p@h.example:443?q=1") ==
        std::vector<std::string>{"https://u:p@h.example:443?q=1", "https://u:p@h.example?q=1"});
  CHECK(twilio_url_variants("https://[::1]/x") == std::vector<std::string>{"https://[::1]/x", "https://[::1]:443/x"});
  // :443 is not the default for http.
  CHECK(twilio_url_variants("http://h.example:443/x") == std::vector<std::string>{"http://h.example:443/x"});
  CHECK_FALSE(twilio_valid("12345", "http://example.com:8080/hook", a, "uBqMSIZD8E+abAj+ox1rWuS0QrE="));
}

TEST_CASE("Twilio signature fails on tampering", "[twilio]") {
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  const std::string good = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
  Params tampered = call_params;
  tampered[1].second = "1235";
  CHECK_FALSE(twilio_valid("12345", url, tampered, good));
  Params extra = call_params;
  extra.emplace_back("Extra", "");
  CHECK_FALSE(twilio_valid("12345", url, extra, good));
  Params missing(call_params.begin(), call_params.end() - 1);
  CHECK_FALSE(twilio_valid("12345", url, missing, good));
  CHECK_FALSE(twilio_valid("12345", "https://mycompany.com/myapp.php?foo=1&bar=3", call_params, good));
  CHECK_FALSE(twilio_valid("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", call_params, good));
  CHECK_FALSE(twilio_valid("12346", url, call_params, good));
  CHECK_FALSE(twilio_valid("12345", url, call_params, ""));
  CHECK_FALSE(twilio_valid("12345", url, call_params, "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
  // A value moved from one name to another changes the signed string.
  const Params moved = {{"CallSid", "CA1234567890ABCDE1"}, {"Digits", "234"}, {"From", "+14158675309"},
                        {"To", "+18005551212"}, {"Caller", "+14158675309"}};
  CHECK_FALSE(twilio_valid("12345", url, moved, good));
}

TEST_CASE("Twilio JSON body variant checks bodySHA256 and the URL", "[twilio]") {
  const std::string body = R"({"property":"value","boolean":true})";
  const std::string hash = "d5729c000e5de6b3a10698fec78d482db85d744f1be820d1382b6bda1cfb7795";
  const std::string url = "https://example.com/myapp?bodySHA256=" + hash;
  const std::string url_443 = "https://example.com:443/myapp?bodySHA256=" + hash;
  CHECK(twilio_valid_json("12345", url, body, "B0+4xg0o5HFx7p+0mzOPdMYZ7/E="));
  CHECK(twilio_valid_json("12345", url, body, "mkIU6WYr03zS5A+WZpFhxqBBT+w="));
  CHECK(twilio_valid_json("12345", url_443, body, "B0+4xg0o5HFx7p+0mzOPdMYZ7/E="));
  // Body changed: the hash no longer matches although the URL signature does.
  CHECK_FALSE(twilio_valid_json("12345", url, body + " ", "B0+4xg0o5HFx7p+0mzOPdMYZ7/E="));
  // No bodySHA256 in the URL.
  CHECK_FALSE(twilio_valid_json("12345", "https://example.com/myapp", body, "B0+4xg0o5HFx7p+0mzOPdMYZ7/E="));
  // Hash replaced by the hash of another body (URL signature then fails).
  const std::string other = "https://example.com/myapp?bodySHA256=" + sha256_hex("{}");
  CHECK_FALSE(twilio_valid_json("12345", other, "{}", "B0+4xg0o5HFx7p+0mzOPdMYZ7/E="));
  // Two hashes are ambiguous.
  CHECK_FALSE(twilio_valid_json("12345", url + "&bodySHA256=" + hash, body, "B0+4xg0o5HFx7p+0mzOPdMYZ7/E="));
  CHECK_FALSE(twilio_valid_json("12345", url, body, "wrong"));
}

TEST_CASE("CTI signature header parsing", "[cti]") {
  auto parsed = parse_cti_signature_header(cti_header(1700000000));
  REQUIRE(parsed);
  CHECK(parsed->timestamp == 1700000000);
  CHECK(parsed->v1 == std::vector<std::string>{cti_v1});
  auto two = parse_cti_signature_header("t=5, v1=" + std::string(64, 'a') + ",v0=zz,v1=" + std::string(64, 'b'));
  REQUIRE(two);
  CHECK(two->v1.size() == 2);
  for (const std::string& bad : std::vector<std::string>{"", "t=1", "v1=" + std::string(64, 'a'), "t=,v1=" + std::string(64, 'a'),
                                "t=-1,v1=" + std::string(64, 'a'), "t=1x,v1=" + std::string(64, 'a'), "t=01,v1=" + std::string(64, 'a'),
                                "t=1,t=2,v1=" + std::string(64, 'a'), "t=1,v1=" + std::string(63, 'a'),
                                "t=1,v1=" + std::string(64, 'A'), "t=1,v1=" + std::string(64, 'a') + ",",
                                "t=1234567890123,v1=" + std::string(64, 'a'), "t=1;v1=" + std::string(64, 'a'),
                                "=1,t=1,v1=" + std::string(64, 'a')}) {
    INFO(bad);
    CHECK_FALSE(parse_cti_signature_header(bad));
  }
}

TEST_CASE("CTI signature verification outcomes", "[cti]") {
  const std::int64_t t = 1700000000;
  CHECK(verify_cti(cti_secret, cti_header(t), cti_body, t, 300) == SignatureCheck::ok);
  CHECK(verify_cti(cti_secret, cti_header(t), cti_body, t + 300, 300) == SignatureCheck::ok);
  CHECK(verify_cti(cti_secret, cti_header(t), cti_body, t - 300, 300) == SignatureCheck::ok);
  CHECK(verify_cti(cti_secret, cti_header(t), cti_body, t + 301, 300) == SignatureCheck::expired);
  CHECK(verify_cti(cti_secret, cti_header(t), cti_body, t - 301, 300) == SignatureCheck::expired);  // future
  CHECK(verify_cti(cti_secret, "", cti_body, t, 300) == SignatureCheck::missing);
  CHECK(verify_cti(cti_secret, "v1=abc", cti_body, t, 300) == SignatureCheck::malformed);
  CHECK(verify_cti(cti_secret, cti_header(t), std::string(cti_body) + " ", t, 300) == SignatureCheck::mismatch);
  CHECK(verify_cti("other", cti_header(t), cti_body, t, 300) == SignatureCheck::mismatch);
  // The timestamp is signed: moving it invalidates the signature.
  CHECK(verify_cti(cti_secret, cti_header(t + 1), cti_body, t, 300) == SignatureCheck::mismatch);
  // One matching v1 among several is enough (sender rotating secrets).
  std::string rotated = "t=" + std::to_string(t) + ",v1=" + std::string(64, '0') + ",v1=" + cti_v1;
  std::string accepted;
  CHECK(verify_cti(cti_secret, rotated, cti_body, t, 300, &accepted) == SignatureCheck::ok);
  CHECK(accepted == cti_v1);
  CHECK(to_string(SignatureCheck::expired) == "expired");
  CHECK(to_string(SignatureCheck::replayed) == "replayed");
}

TEST_CASE("ReplayGuard refuses a replayed signature within the window", "[cti]") {
  const std::int64_t t = 1700000000;
  ReplayGuard guard(300);
  CHECK(guard.verify(cti_secret, cti_header(t), cti_body, t + 1) == SignatureCheck::ok);
  CHECK(guard.verify(cti_secret, cti_header(t), cti_body, t + 2) == SignatureCheck::replayed);
  // Reordering the header (adding an unknown key) does not make a new signature.
  CHECK(guard.verify(cti_secret, cti_header(t) + ",v9=x", cti_body, t + 3) == SignatureCheck::replayed);
  // Outside the window it is expired, not replayed, and the entry is gone.
  CHECK(guard.verify(cti_secret, cti_header(t), cti_body, t + 301) == SignatureCheck::expired);
  CHECK(guard.size() == 0);
  // Failed checks are not recorded.
  CHECK(guard.verify("wrong", cti_header(t), cti_body, t) == SignatureCheck::mismatch);
  CHECK(guard.size() == 0);
}

TEST_CASE("ReplayGuard is bounded and evicts the soonest to expire", "[cti]") {
  ReplayGuard guard(100, 3);
  CHECK(guard.admit("a", 1000, 1000));
  CHECK(guard.admit("b", 1010, 1010));
  CHECK(guard.admit("c", 1005, 1010));
  CHECK_FALSE(guard.admit("b", 1010, 1011));
  CHECK(guard.admit("d", 1020, 1020));  // full: "a" (expires at 1100) leaves
  CHECK(guard.size() == 3);
  CHECK(guard.admit("a", 1000, 1021));  // forgotten by eviction
  CHECK_FALSE(guard.admit("d", 1020, 1021));
  // Time passing empties it.
  CHECK(guard.admit("e", 1200, 1200));
  CHECK(guard.size() == 1);
}
