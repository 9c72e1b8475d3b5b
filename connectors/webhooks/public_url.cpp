#include "connectors/webhooks/public_url.hpp"

#include <string_view>

namespace omnitrail::connectors::webhooks {

std::string check_public_url(const std::string& url) {
  const std::string hint = " (the URL configured in the Twilio console, e.g. https://cc.example.com/webhooks/twilio)";
  std::string_view rest;
  if (url.rfind("https://", 0) == 0) {
    rest = std::string_view(url).substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = std::string_view(url).substr(7);
  } else {
    return "must start with https:// or http://" + hint;
  }
  if (rest.empty() || rest.front() == '/') return "must name a host" + hint;
  for (char ch : url) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) return "must not contain spaces or control characters";
    if (ch == '?' || ch == '#') return "must not contain a query or fragment (Twilio adds the query it calls with)";
  }
  return {};
}

}  // namespace omnitrail::connectors::webhooks
