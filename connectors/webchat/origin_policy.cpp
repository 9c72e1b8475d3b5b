#include "connectors/webchat/origin_policy.hpp"

#include <algorithm>

namespace omnitrail::connectors::webchat {
namespace {

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::optional<std::string> canonical_origin(std::string_view text, bool allow_wildcard) {
  if (text.empty() || text.size() > 300) return std::nullopt;
  if (text.back() == '/') text.remove_suffix(1);
  std::string value = lower(text);
  std::string scheme;
  if (value.rfind("https://", 0) == 0) {
    scheme = "https://";
  } else if (value.rfind("http://", 0) == 0) {
    scheme = "http://";
  } else {
    return std::nullopt;
  }
  std::string rest = value.substr(scheme.size());
  std::string host = rest;
  std::string port;
  if (!rest.empty() && rest.front() == '[') {
    // IPv6 literal: [..]:port
    auto close = rest.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = rest.substr(0, close + 1);
    for (char c : host.substr(1, host.size() - 2)) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.')) return std::nullopt;
    }
    port = rest.substr(close + 1);
    if (!port.empty() && port.front() != ':') return std::nullopt;
    if (!port.empty()) port.erase(0, 1);
  } else {
    auto colon = rest.find(':');
    if (colon != std::string::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
    std::string_view check = host;
    if (allow_wildcard && check.rfind("*.", 0) == 0) check.remove_prefix(2);
    if (check.empty() || check.front() == '.' || check.back() == '.' || check.find("..") != std::string_view::npos) {
      return std::nullopt;
    }
    if (!std::all_of(check.begin(), check.end(), host_char)) return std::nullopt;
  }
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    const long number = std::stol(port);
    if (number < 1 || number > 65535) return std::nullopt;
    port = std::to_string(number);
    if ((scheme == "https://" && number == 443) || (scheme == "http://" && number == 80)) port.clear();
  }
  return scheme + host + (port.empty() ? "" : ":" + port);
}

OriginPolicy::OriginPolicy(std::vector<std::string> allowed) {
  for (auto& entry : allowed) {
    if (entry == "*") {
      any_ = true;
      continue;
    }
    auto canonical = canonical_origin(entry, true);
    if (!canonical) continue;  // the config validator refuses these; ignore defensively
    const auto scheme_end = canonical->find("://") + 3;
    if (canonical->compare(scheme_end, 2, "*.") == 0) {
      Wildcard w;
      w.scheme = canonical->substr(0, scheme_end);
      std::string host_port = canonical->substr(scheme_end + 1);  // ".example.com[:port]"
      auto colon = host_port.find(':');
      w.suffix = host_port.substr(0, colon);
      if (colon != std::string::npos) w.port = host_port.substr(colon);
      wildcard_.push_back(std::move(w));
    } else {
      exact_.push_back(std::move(*canonical));
    }
  }
}

bool OriginPolicy::allows(std::string_view origin) const {
  auto canonical = canonical_origin(origin, false);
  if (!canonical) return false;
  if (any_) return true;
  if (std::find(exact_.begin(), exact_.end(), *canonical) != exact_.end()) return true;
  for (const auto& w : wildcard_) {
    if (canonical->rfind(w.scheme, 0) != 0) continue;
    std::string host_port = canonical->substr(w.scheme.size());
    std::string host = host_port;
    std::string port;
    if (auto colon = host_port.rfind(':'); colon != std::string::npos && host_port.front() != '[') {
      host = host_port.substr(0, colon);
      port = host_port.substr(colon);
    }
    if (port != w.port) continue;
    if (host.size() > w.suffix.size() && host.compare(host.size() - w.suffix.size(), w.suffix.size(), w.suffix) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace omnitrail::connectors::webchat
