#include "connectors/webchat/visitor_token.hpp"

#include <algorithm>
#include <vector>

#include "daemon/util/hmac.hpp"

namespace omnitrail::connectors::webchat {
namespace {

constexpr std::int64_t kClockSkewSeconds = 300;

std::string signed_part(std::string_view connector, std::string_view payload) {
  std::string data = "omnitrail-webchat-token|";
  data.append(connector);
  data += '|';
  data.append(payload);
  return data;
}

bool lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

bool valid_generated_id(std::string_view id, std::string_view prefix) noexcept {
  if (id.substr(0, prefix.size()) != prefix) return false;
  auto hex = id.substr(prefix.size());
  return hex.size() >= 16 && hex.size() <= 32 && lower_hex(hex);
}

std::string sign_token(std::string_view secret, std::string_view connector, const VisitorToken& token) {
  std::string payload = token.visitor_id + "." + (token.chat_key.empty() ? std::string("-") : token.chat_key) + "." +
                        std::to_string(token.issued_at_s);
  return payload + "." + util::hmac_sha256_hex(secret, signed_part(connector, payload));
}

TokenCheck verify_token(std::string_view secret, std::string_view connector, std::string_view text,
                        std::int64_t now_s, std::int64_t ttl_s, VisitorToken& out) noexcept {
  try {
    if (text.size() > 256 || secret.empty()) return TokenCheck::malformed;
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (parts.size() < 5) {
      auto dot = text.find('.', start);
      parts.push_back(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    if (parts.size() != 4) return TokenCheck::malformed;
    const auto visitor = parts[0];
    const auto chat = parts[1];
    const auto issued = parts[2];
    const auto mac = parts[3];
    if (!valid_generated_id(visitor, "vis_")) return TokenCheck::malformed;
    if (chat != "-" && !valid_generated_id(chat, "chat_")) return TokenCheck::malformed;
    if (issued.empty() || issued.size() > 12 || (issued.size() > 1 && issued.front() == '0') ||
        !std::all_of(issued.begin(), issued.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return TokenCheck::malformed;
    }
    if (mac.size() != 64 || !lower_hex(mac)) return TokenCheck::malformed;
    const auto payload = text.substr(0, text.size() - mac.size() - 1);
    const auto expected = util::hmac_sha256_hex(secret, signed_part(connector, payload));
    if (!util::constant_time_equal(expected, mac)) return TokenCheck::bad_signature;
    std::int64_t issued_s = 0;
    for (char c : issued) issued_s = issued_s * 10 + (c - '0');
    if (issued_s > now_s + kClockSkewSeconds || issued_s < now_s - ttl_s) return TokenCheck::expired;
    out.visitor_id.assign(visitor);
    out.chat_key = chat == "-" ? std::string() : std::string(chat);
    out.issued_at_s = issued_s;
    return TokenCheck::ok;
  } catch (...) {
    return TokenCheck::malformed;
  }
}

}  // namespace omnitrail::connectors::webchat
