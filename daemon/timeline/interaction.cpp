#include "daemon/timeline/interaction.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace omnitrail::timeline {
namespace {

bool valid_kind(std::string_view kind) {
  if (kind.empty() || kind.size() > 64) return false;
  bool previous_dot = true;
  for (char c : kind) {
    if (c == '.') {
      if (previous_dot) return false;
      previous_dot = true;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      previous_dot = false;
    } else {
      return false;
    }
  }
  return !previous_dot;
}

std::string quote_json(std::string_view value) {
  nlohmann::json j = std::string(value);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

const std::vector<std::string>& channels() {
  static const std::vector<std::string> list{"phone", "email", "sms", "chat", "api", "note"};
  return list;
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
    else return false;
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool truncate_utf8(std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return false;
  std::size_t cut = max_bytes;
  // Step back over continuation bytes so a multi-byte sequence is never split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return true;
}

std::string validate(const Interaction& in) {
  const auto& known = channels();
  if (std::find(known.begin(), known.end(), in.channel) == known.end()) {
    return "channel: " + quote_json(in.channel) + " is not one of phone, email, sms, chat, api, note";
  }
  if (in.direction != "inbound" && in.direction != "outbound") {
    return "direction: " + quote_json(in.direction) + " is not one of inbound, outbound";
  }
  if (!valid_kind(in.kind)) return "kind: " + quote_json(in.kind) + " must be lower-case dotted words such as call.ringing";
  if (in.occurred_at_ms <= 0) return "occurred_at: must be a positive time";
  if (in.source.empty() || in.source.size() > 128) return "source: must be 1..128 bytes";
  if (in.external_id.empty() || in.external_id.size() > 512) return "external_id: must be 1..512 bytes";
  if (in.conversation_key.size() > 512) return "conversation_key: must be at most 512 bytes";
  struct Field {
    const char* name;
    const std::string* value;
  };
  for (const Field& f : {Field{"source", &in.source}, Field{"external_id", &in.external_id},
                         Field{"conversation_key", &in.conversation_key}, Field{"from", &in.from}, Field{"to", &in.to},
                         Field{"agent", &in.agent}, Field{"subject", &in.subject}, Field{"text", &in.text},
                         Field{"customer_display_name", &in.customer_display_name}}) {
    if (!is_valid_utf8(*f.value)) return std::string(f.name) + ": not valid UTF-8";
  }
  for (const auto& claim : in.customer_identifiers) {
    if (!is_valid_utf8(claim.raw)) return "identifiers: value is not valid UTF-8";
    if (claim.raw.size() > 512) return "identifiers: value longer than 512 bytes";
  }
  auto metadata = nlohmann::json::parse(in.metadata_json, nullptr, false);
  if (metadata.is_discarded() || !metadata.is_object()) return "metadata: must be a JSON object";
  return {};
}

}  // namespace omnitrail::timeline
