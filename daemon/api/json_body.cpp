#include "daemon/api/json_body.hpp"

#include <chrono>
#include <ctime>

namespace omnitrail::api {
namespace {

using nlohmann::json;

// Maximum nesting of [ and { outside strings; stops counting at the first excess.
bool depth_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

bool get_string(const json& body, const char* key, std::string& out, std::string& error, bool required = false) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) error = std::string(key) + ": required";
    return !required;
  }
  if (!it->is_string()) {
    error = std::string(key) + ": must be a string";
    return false;
  }
  out = it->get<std::string>();
  return true;
}

int days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

bool digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<json> parse_object(std::string_view body, std::string& error, int max_depth) {
  if (!depth_within(body, max_depth)) {
    error = "JSON nested deeper than " + std::to_string(max_depth) + " levels";
    return std::nullopt;
  }
  json parsed = json::parse(body.begin(), body.end(), nullptr, false);
  if (parsed.is_discarded()) {
    error = "body is not valid JSON";
    return std::nullopt;
  }
  if (!parsed.is_object()) {
    error = "body must be a JSON object";
    return std::nullopt;
  }
  return parsed;
}

std::optional<std::int64_t> parse_time_text(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM)
  int year, month, day, hour, minute, second;
  if (t.size() < 20 || !digits(t, 0, 4, year) || t[4] != '-' || !digits(t, 5, 2, month) || t[7] != '-' ||
      !digits(t, 8, 2, day) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || !digits(t, 11, 2, hour) ||
      t[13] != ':' || !digits(t, 14, 2, minute) || t[16] != ':' || !digits(t, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    int count = 0;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (count < 3) millis = millis * 10 + (t[pos] - '0');
      ++count;
      ++pos;
    }
    if (count == 0) return std::nullopt;
    for (int i = count; i < 3; ++i) millis *= 10;
  }
  std::int64_t offset_minutes = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int oh, om;
    if (!digits(t, pos + 1, 2, oh) || pos + 3 >= t.size() || t[pos + 3] != ':' || !digits(t, pos + 4, 2, om) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (oh * 60 + om) * (t[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != t.size()) return std::nullopt;
  std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + std::min(second, 59) - offset_minutes * 60;
  return secs * 1000 + millis;
}

std::optional<std::int64_t> parse_time(const json& value) {
  if (value.is_number_integer()) {
    auto ms = value.get<std::int64_t>();
    if (ms <= 0) return std::nullopt;
    return ms;
  }
  if (value.is_string()) return parse_time_text(value.get_ref<const std::string&>());
  return std::nullopt;
}

std::optional<timeline::Interaction> interaction_from_json(const json& body, std::string& error) {
  static const char* const known[] = {"external_id", "channel", "direction", "kind", "occurred_at", "conversation_key",
                                      "from", "to", "agent", "subject", "text", "metadata", "identifiers",
                                      "display_name", "customer_id", "region", "ends_conversation"};
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok) {
      error = "unknown field \"" + it.key().substr(0, 64) + "\"";
      return std::nullopt;
    }
  }
  timeline::Interaction in;
  in.channel = "api";
  in.direction = "inbound";
  if (!get_string(body, "external_id", in.external_id, error, true) || !get_string(body, "kind", in.kind, error, true) ||
      !get_string(body, "channel", in.channel, error) || !get_string(body, "direction", in.direction, error) ||
      !get_string(body, "conversation_key", in.conversation_key, error) || !get_string(body, "from", in.from, error) ||
      !get_string(body, "to", in.to, error) || !get_string(body, "agent", in.agent, error) ||
      !get_string(body, "subject", in.subject, error) || !get_string(body, "text", in.text, error) ||
      !get_string(body, "display_name", in.customer_display_name, error) ||
      !get_string(body, "customer_id", in.customer_id, error) || !get_string(body, "region", in.region, error)) {
    return std::nullopt;
  }
  if (auto it = body.find("occurred_at"); it != body.end() && !it->is_null()) {
    auto ms = parse_time(*it);
    if (!ms) {
      error = "occurred_at: must be an RFC 3339 time (2026-11-24T13:00:00Z) or milliseconds since 1970";
      return std::nullopt;
    }
    in.occurred_at_ms = *ms;
  } else {
    in.occurred_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  }
  if (auto it = body.find("metadata"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) {
      error = "metadata: must be a JSON object";
      return std::nullopt;
    }
    in.metadata_json = it->dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (auto it = body.find("ends_conversation"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      error = "ends_conversation: must be true or false";
      return std::nullopt;
    }
    in.ends_conversation = it->get<bool>();
  }
  if (auto it = body.find("identifiers"); it != body.end() && !it->is_null()) {
    if (!it->is_array() || it->size() > 20) {
      error = "identifiers: must be an array of at most 20 {kind, value, trust} objects";
      return std::nullopt;
    }
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto& item = (*it)[i];
      const std::string where = "identifiers[" + std::to_string(i) + "]";
      if (!item.is_object()) {
        error = where + ": must be an object";
        return std::nullopt;
      }
      std::string kind_text, value, trust_text = "claimed";
      if (!get_string(item, "kind", kind_text, error, true) || !get_string(item, "value", value, error, true) ||
          !get_string(item, "trust", trust_text, error)) {
        error = where + "." + error;
        return std::nullopt;
      }
      auto kind = identity::parse_identifier_kind(kind_text);
      if (!kind) {
        error = where + ".kind: must be one of external, chat_user, email, phone, visitor";
        return std::nullopt;
      }
      auto trust = identity::parse_trust(trust_text);
      if (!trust) {
        error = where + ".trust: must be claimed or verified";
        return std::nullopt;
      }
      in.customer_identifiers.push_back({*kind, value, *trust});
    }
  }
  return in;
}

}  // namespace omnitrail::api
