// Webhook authentication: HMAC/SHA helpers, Twilio's X-Twilio-Signature and the generic CTI
// webhook's X-Omnitrail-Signature (see README.md), plus a bounded replay cache.
// Pure functions: any thread. ReplayGuard: one thread at a time (the io thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace omnitrail::connectors::webhooks {

/// Compares in time that depends only on the lengths (CRYPTO_memcmp): a length mismatch returns
/// false at once, which leaks the length only.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// Lower-case hex of HMAC-SHA256(key, data).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
/// Standard (padded) base64 of HMAC-SHA1(key, data): Twilio's signature encoding.
std::string hmac_sha1_base64(std::string_view key, std::string_view data);
/// Lower-case hex of SHA-256(data).
std::string sha256_hex(std::string_view data);

/// Standard base64 with '=' padding (RFC 4648 section 4).
std::string base64_encode(std::string_view data);
/// Strict decoder: alphabet A-Z a-z 0-9 + /, length a multiple of 4, padding only at the end,
/// unused bits zero, no whitespace. nullopt on any deviation.
std::optional<std::string> base64_decode(std::string_view text);

using Params = std::vector<std::pair<std::string, std::string>>;

/// X-Twilio-Signature for a form POST: base64(HMAC-SHA1(auth_token, url + name1 + value1 + ...))
/// with the parameters sorted by name, then by value for repeated names (byte order).
std::string twilio_signature(const std::string& auth_token, const std::string& url, const Params& params);

/// True when `header_value` is the signature of (url, params) or of the same URL with the
/// scheme's default port added (no port in `url`) or removed (`:443` for https, `:80` for http):
/// Twilio may sign either form. Constant-time comparison.
bool twilio_valid(const std::string& auth_token, const std::string& url, const Params& params,
                  std::string_view header_value);

/// The JSON-body variant: the URL's query carries bodySHA256=<hex sha256(body)> and only the URL
/// is signed (no parameters). True when the hash is present and matches `body` and the signature
/// of the URL (either port form) matches.
bool twilio_valid_json(const std::string& auth_token, const std::string& url, std::string_view body,
                       std::string_view header_value);

/// The URL spellings twilio_valid() accepts for `url` (itself first). Exposed for tests.
std::vector<std::string> twilio_url_variants(const std::string& url);

/// Outcome of checking an X-Omnitrail-Signature header.
enum class SignatureCheck {
  ok,
  missing,    ///< no header (empty value)
  malformed,  ///< not `t=<unix seconds>,v1=<64 lower-case hex>[,v1=...]`
  expired,    ///< t outside now +- replay window (either direction)
  mismatch,   ///< no v1 equals HMAC-SHA256(secret, t + "." + body)
  replayed,   ///< valid, but this signature was already accepted (ReplayGuard only)
};

/// "ok", "missing", "malformed", "expired", "mismatch", "replayed" (for logs and metrics labels).
std::string_view to_string(SignatureCheck check) noexcept;

/// The parsed header: `t=1700000000,v1=<hex>` (pairs separated by ',', optional spaces after the
/// comma; unknown keys such as a future v2 are ignored; t exactly once, 1..12 decimal digits
/// without a leading zero; at least one and at most 8 v1).
struct CtiSignatureHeader {
  std::int64_t timestamp = 0;
  std::vector<std::string> v1;  // each 64 lower-case hex digits
};

/// nullopt when the header is malformed (see CtiSignatureHeader).
std::optional<CtiSignatureHeader> parse_cti_signature_header(std::string_view header);

/// Checks the generic CTI webhook signature. `header` is the X-Omnitrail-Signature value (empty
/// when absent). Checks in order: missing, malformed, expired (|now - t| > window), mismatch.
/// On ok and when `accepted` is non-null, stores the matching v1 there (for a ReplayGuard).
SignatureCheck verify_cti(std::string_view secret, std::string_view header, std::string_view body,
                          std::int64_t now_unix, std::int64_t replay_window_seconds,
                          std::string* accepted = nullptr);

/// Remembers the signatures accepted within the replay window so that a captured request cannot
/// be replayed while its timestamp is still fresh. Bounded: at most `capacity` entries; entries
/// leave when their timestamp falls out of the window, and when full the entry that would expire
/// soonest is evicted (the least valuable one: its replay window is closest to shutting anyway).
/// Thread contract: not synchronised; use from one thread (the io thread).
class ReplayGuard {
 public:
  explicit ReplayGuard(std::int64_t window_seconds, std::size_t capacity = 100000);

  /// verify_cti() and, when ok, records the signature: a signature seen before gives `replayed`.
  SignatureCheck verify(std::string_view secret, std::string_view header, std::string_view body,
                        std::int64_t now_unix);

  /// Records `signature` (signed at `timestamp`); false when it is already recorded.
  bool admit(std::string_view signature, std::int64_t timestamp, std::int64_t now_unix);

  std::size_t size() const noexcept { return expiry_of_.size(); }
  std::int64_t window_seconds() const noexcept { return window_seconds_; }

 private:
  void prune(std::int64_t now_unix);

  std::int64_t window_seconds_;
  std::size_t capacity_;
  std::unordered_map<std::string, std::int64_t> expiry_of_;  // signature -> last second it is fresh
  std::set<std::pair<std::int64_t, std::string>> by_expiry_;
};

}  // namespace omnitrail::connectors::webhooks
