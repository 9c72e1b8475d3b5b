#include "connectors/webhooks/signatures.hpp"

#include "daemon/util/hmac.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace omnitrail::connectors::webhooks {
namespace {

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0x0f];
  }
  return out;
}

// HMAC with `md`; returns the raw MAC (empty only if OpenSSL fails, which it does not for
// these digests; an empty MAC never equals a well-formed signature).
std::string hmac_raw(const EVP_MD* md, std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  // A zero-length key is legal for HMAC; OpenSSL wants a non-null pointer.
  static const unsigned char empty = 0;
  const void* key_ptr = key.empty() ? static_cast<const void*>(&empty) : key.data();
  const auto* data_ptr = data.empty() ? &empty : reinterpret_cast<const unsigned char*>(data.data());
  if (HMAC(md, key_ptr, static_cast<int>(key.size()), data_ptr, data.size(), mac.data(), &mac_size) == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(mac.data()), mac_size);
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool is_lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The URL with its authority's port replaced: `port` empty removes it.
struct SplitUrl {
  std::string scheme;     // lower-cased
  std::string before;     // "scheme://userinfo@host"
  std::string port;       // digits, may be empty
  std::string after;      // "/path?query"
  bool ok = false;
};

SplitUrl split_url(const std::string& url) {
  SplitUrl out;
  std::size_t colon = url.find("://");
  if (colon == std::string::npos) return out;
  for (std::size_t i = 0; i < colon; ++i) out.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(url[i])));
  std::size_t authority_start = colon + 3;
  std::size_t authority_end = url.find_first_of("/?#", authority_start);
  if (authority_end == std::string::npos) authority_end = url.size();
  std::string_view authority(url.data() + authority_start, authority_end - authority_start);
  std::size_t at = authority.rfind('@');
  std::size_t host_start = at == std::string_view::npos ? 0 : at + 1;
  std::size_t port_colon = authority.rfind(':');
  std::size_t bracket = authority.rfind(']');  // IPv6 literal: a ':' inside [] is no port
  bool has_port = port_colon != std::string_view::npos && port_colon >= host_start &&
                  (bracket == std::string_view::npos || port_colon > bracket);
  if (has_port) {
    out.port = std::string(authority.substr(port_colon + 1));
    if (!std::all_of(out.port.begin(), out.port.end(), [](char c) { return c >= '0' && c <= '9'; })) return out;
    out.before = url.substr(0, authority_start + port_colon);
  } else {
    out.before = url.substr(0, authority_end);
  }
  out.after = url.substr(authority_end);
  out.ok = true;
  return out;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) noexcept { return util::constant_time_equal(a, b); }

std::string hmac_sha256_hex(std::string_view key, std::string_view data) { return util::hmac_sha256_hex(key, data); }

std::string hmac_sha1_base64(std::string_view key, std::string_view data) {
  return base64_encode(hmac_raw(EVP_sha1(), key, data));
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  static const char empty = 0;
  if (EVP_Digest(data.empty() ? &empty : data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  return to_hex(digest.data(), size);
}

std::string base64_encode(std::string_view data) {
  if (data.empty()) return {};
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(written < 0 ? 0 : static_cast<std::size_t>(written));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int v[4];
    int padding = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + static_cast<std::size_t>(k)];
      if (c == '=' && last && k >= 2) {
        ++padding;
        v[k] = 0;
        continue;
      }
      if (padding > 0) return std::nullopt;  // data after '='
      v[k] = base64_value(c);
      if (v[k] < 0) return std::nullopt;
    }
    std::uint32_t triple = (static_cast<std::uint32_t>(v[0]) << 18) | (static_cast<std::uint32_t>(v[1]) << 12) |
                           (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
    // Non-canonical encodings (bits set in the padding) are refused.
    if (padding == 2 && (triple & 0xffff) != 0) return std::nullopt;
    if (padding == 1 && (triple & 0xff) != 0) return std::nullopt;
    out += static_cast<char>((triple >> 16) & 0xff);
    if (padding < 2) out += static_cast<char>((triple >> 8) & 0xff);
    if (padding < 1) out += static_cast<char>(triple & 0xff);
  }
  return out;
}

std::string twilio_signature(const std::string& auth_token, const std::string& url, const Params& params) {
  std::vector<const std::pair<std::string, std::string>*> sorted;
  sorted.reserve(params.size());
  for (const auto& p : params) sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return *a < *b; });
  std::string data = url;
  for (const auto* p : sorted) {
    data += p->first;
    data += p->second;
  }
  return hmac_sha1_base64(auth_token, data);
}

std::vector<std::string> twilio_url_variants(const std::string& url) {
  std::vector<std::string> out{url};
  SplitUrl split = split_url(url);
  if (!split.ok) return out;
  std::string default_port = split.scheme == "https" ? "443" : split.scheme == "http" ? "80" : "";
  if (default_port.empty()) return out;
  if (split.port.empty()) {
    out.push_back(split.before + ":" + default_port + split.after);
  } else if (split.port == default_port) {
    out.push_back(split.before + split.after);
  }
  return out;
}

bool twilio_valid(const std::string& auth_token, const std::string& url, const Params& params,
                  std::string_view header_value) {
  if (header_value.empty()) return false;
  bool valid = false;
  // Evaluate every variant (no early exit) so timing does not tell which form matched.
  for (const std::string& candidate : twilio_url_variants(url)) {
    valid = constant_time_equal(twilio_signature(auth_token, candidate, params), header_value) || valid;
  }
  return valid;
}

bool twilio_valid_json(const std::string& auth_token, const std::string& url, std::string_view body,
                       std::string_view header_value) {
  std::size_t q = url.find('?');
  if (q == std::string::npos) return false;
  std::size_t end = url.find('#', q);
  std::string_view query(url.data() + q + 1, (end == std::string::npos ? url.size() : end) - q - 1);
  std::optional<std::string_view> claimed;
  std::size_t i = 0;
  while (i <= query.size()) {
    std::size_t amp = query.find('&', i);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(i, amp - i);
    if (part.substr(0, 11) == "bodySHA256=") {
      if (claimed) return false;  // two hashes: ambiguous, refuse
      claimed = part.substr(11);
    }
    i = amp + 1;
  }
  if (!claimed) return false;
  std::string claimed_hash(*claimed);
  std::transform(claimed_hash.begin(), claimed_hash.end(), claimed_hash.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  bool body_ok = constant_time_equal(sha256_hex(body), claimed_hash);
  bool signature_ok = twilio_valid(auth_token, url, {}, header_value);
  return body_ok && signature_ok;
}

std::string_view to_string(SignatureCheck check) noexcept {
  switch (check) {
    case SignatureCheck::ok: return "ok";
    case SignatureCheck::missing: return "missing";
    case SignatureCheck::malformed: return "malformed";
    case SignatureCheck::expired: return "expired";
    case SignatureCheck::mismatch: return "mismatch";
    case SignatureCheck::replayed: return "replayed";
  }
  return "unknown";
}

std::optional<CtiSignatureHeader> parse_cti_signature_header(std::string_view header) {
  CtiSignatureHeader out;
  bool have_t = false;
  std::size_t i = 0;
  if (header.empty() || header.size() > 4096) return std::nullopt;
  while (i <= header.size()) {
    std::size_t comma = header.find(',', i);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view part = header.substr(i, comma - i);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    std::string_view key = part.substr(0, eq);
    std::string_view value = part.substr(eq + 1);
    if (key == "t") {
      // 1..12 digits: no sign, no overflow (year 33658 is far enough).
      // Canonical decimal (no leading zero): the signed text is exactly what to_string gives.
      if (have_t || value.empty() || value.size() > 12 || (value.size() > 1 && value[0] == '0') ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
      }
      for (char c : value) out.timestamp = out.timestamp * 10 + (c - '0');
      have_t = true;
    } else if (key == "v1") {
      if (value.size() != 64 || !is_lower_hex(value)) return std::nullopt;
      if (out.v1.size() >= 8) return std::nullopt;
      out.v1.emplace_back(value);
    }
    i = comma + 1;
  }
  if (!have_t || out.v1.empty()) return std::nullopt;
  return out;
}

SignatureCheck verify_cti(std::string_view secret, std::string_view header, std::string_view body,
                          std::int64_t now_unix, std::int64_t replay_window_seconds, std::string* accepted) {
  if (header.empty()) return SignatureCheck::missing;
  auto parsed = parse_cti_signature_header(header);
  if (!parsed) return SignatureCheck::malformed;
  // timestamp < 10^12 and a sane now: the difference cannot overflow.
  std::int64_t skew = now_unix - parsed->timestamp;
  if (skew < 0) skew = -skew;
  if (replay_window_seconds < 0 || skew > replay_window_seconds) return SignatureCheck::expired;
  std::string signed_payload = std::to_string(parsed->timestamp);
  signed_payload += '.';
  signed_payload.append(body.data(), body.size());
  std::string expected = hmac_sha256_hex(secret, signed_payload);
  const std::string* match = nullptr;
  for (const std::string& candidate : parsed->v1) {
    if (constant_time_equal(expected, candidate) && match == nullptr) match = &candidate;
  }
  if (match == nullptr) return SignatureCheck::mismatch;
  if (accepted != nullptr) *accepted = *match;
  return SignatureCheck::ok;
}

ReplayGuard::ReplayGuard(std::int64_t window_seconds, std::size_t capacity)
    : window_seconds_(window_seconds < 0 ? 0 : window_seconds), capacity_(capacity == 0 ? 1 : capacity) {}

void ReplayGuard::prune(std::int64_t now_unix) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first < now_unix) {
    expiry_of_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
}

bool ReplayGuard::admit(std::string_view signature, std::int64_t timestamp, std::int64_t now_unix) {
  prune(now_unix);
  std::string key(signature);
  if (expiry_of_.count(key) != 0) return false;
  // Fresh while now <= timestamp + window (verify_cti's rule); kept until then.
  std::int64_t expiry = timestamp + window_seconds_;
  while (expiry_of_.size() >= capacity_) {
    expiry_of_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
  expiry_of_.emplace(key, expiry);
  by_expiry_.emplace(expiry, std::move(key));
  return true;
}

SignatureCheck ReplayGuard::verify(std::string_view secret, std::string_view header, std::string_view body,
                                   std::int64_t now_unix) {
  prune(now_unix);
  std::string accepted;
  auto parsed = parse_cti_signature_header(header);
  SignatureCheck check = verify_cti(secret, header, body, now_unix, window_seconds_, &accepted);
  if (check != SignatureCheck::ok) return check;
  return admit(accepted, parsed->timestamp, now_unix) ? SignatureCheck::ok : SignatureCheck::replayed;
}

}  // namespace omnitrail::connectors::webhooks
