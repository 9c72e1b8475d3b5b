// Which web pages may open the visitor WebSocket: the browser's Origin header against the
// connector's allowed_origins. Browsers always send Origin on a WebSocket handshake and scripts
// cannot change it, so this stops other sites from embedding the chat; it is not an
// authentication of non-browser clients (the rate limits are what bound those). Pure; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace omnitrail::connectors::webchat {

/// An origin in canonical form: lower-case scheme and host, no default port
/// ("https://Example.com:443" -> "https://example.com"). nullopt when `text` is not
/// http(s)://host[:port] without a path (a trailing "/" is tolerated). With `allow_wildcard`,
/// the host may start with "*." (any subdomain, not the domain itself).
std::optional<std::string> canonical_origin(std::string_view text, bool allow_wildcard = false);

class OriginPolicy {
 public:
  /// `allowed`: canonical origins (or "https://*.example.com"); "*" allows every origin.
  explicit OriginPolicy(std::vector<std::string> allowed);

  /// True when the Origin header value `origin` may connect. With "*" any well-formed origin
  /// may; absent (empty), "null" (sandboxed frames, file: pages) and malformed values never do.
  bool allows(std::string_view origin) const;

  bool allows_any() const noexcept { return any_; }

 private:
  std::vector<std::string> exact_;
  struct Wildcard {
    std::string scheme;  // "https://"
    std::string suffix;  // ".example.com"
    std::string port;    // ":8443" or ""
  };
  std::vector<Wildcard> wildcard_;
  bool any_ = false;
};

}  // namespace omnitrail::connectors::webchat
