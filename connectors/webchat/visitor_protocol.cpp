#include "connectors/webchat/visitor_protocol.hpp"

#include <algorithm>

#include "daemon/api/json_body.hpp"
#include "daemon/timeline/interaction.hpp"
#include "daemon/timeline/queries.hpp"

namespace omnitrail::connectors::webchat {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 4;
constexpr std::size_t kMaxTokenBytes = 512;
constexpr std::size_t kMaxReceivedIds = 100;

// Trims ASCII whitespace at both ends.
std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// No C0 controls except tab / newline / carriage return, no DEL.
bool printable(std::string_view text, bool allow_newlines) {
  for (unsigned char c : text) {
    if (c == 0x7f) return false;
    if (c < 0x20) {
      if (!allow_newlines) return false;
      if (c != '\n' && c != '\t' && c != '\r') return false;
    }
  }
  return true;
}

// Reads an optional string field: absent/null -> "" (true); wrong type, too long, bad bytes -> false.
bool optional_string(const json& object, const char* key, std::size_t max, std::string& out, std::string& error,
                     bool allow_newlines = false) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  if (!it->is_string()) {
    error = std::string(key) + ": must be a string";
    return false;
  }
  std::string_view value = trim(it->get_ref<const std::string&>());
  if (value.size() > max) {
    error = std::string(key) + ": longer than " + std::to_string(max) + " bytes";
    return false;
  }
  if (!timeline::is_valid_utf8(value) || !printable(value, allow_newlines)) {
    error = std::string(key) + ": contains invalid characters";
    return false;
  }
  out.assign(value);
  return true;
}

bool is_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

bool read_identity(const json& value, IdentityClaim& out, std::string& error) {
  if (value.is_null()) return true;
  if (!value.is_object()) {
    error = "identity: must be an object";
    return false;
  }
  for (const auto& [key, v] : value.items()) {
    if (key != "user_id" && key != "email" && key != "phone" && key != "name" && key != "user_hash") {
      error = "identity: unknown field \"" + key.substr(0, 32) + "\"";
      return false;
    }
    (void)v;
  }
  if (!optional_string(value, "user_id", 256, out.user_id, error) ||
      !optional_string(value, "email", 254, out.email, error) ||
      !optional_string(value, "phone", 64, out.phone, error) || !optional_string(value, "name", 128, out.name, error) ||
      !optional_string(value, "user_hash", 64, out.user_hash, error)) {
    error = "identity." + error;
    return false;
  }
  if (!out.user_hash.empty()) {
    if (out.user_hash.size() != 64 || !is_hex(out.user_hash)) {
      error = "identity.user_hash: must be 64 hex digits (HMAC-SHA256)";
      return false;
    }
    std::transform(out.user_hash.begin(), out.user_hash.end(), out.user_hash.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  return true;
}

}  // namespace

bool valid_message_id(std::string_view id) noexcept {
  if (id.size() < 8 || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::optional<VisitorMessage> parse_visitor_message(std::string_view text, const ProtocolLimits& limits,
                                                    std::string& error) noexcept {
  try {
    auto frame = api::parse_object(text, error, kMaxDepth);
    if (!frame) return std::nullopt;
    auto type_it = frame->find("type");
    if (type_it == frame->end() || !type_it->is_string()) {
      error = "every frame needs a string \"type\"";
      return std::nullopt;
    }
    const auto& type = type_it->get_ref<const std::string&>();
    VisitorMessage out;
    if (type == "hello") {
      out.type = VisitorMessage::Type::hello;
      if (!optional_string(*frame, "token", kMaxTokenBytes, out.token, error)) return std::nullopt;
      if (!optional_string(*frame, "page", 2048, out.page, error)) return std::nullopt;
      if (auto it = frame->find("identity"); it != frame->end() && !read_identity(*it, out.identity, error)) {
        return std::nullopt;
      }
    } else if (type == "form") {
      out.type = VisitorMessage::Type::form;
      if (!optional_string(*frame, "name", 128, out.form.name, error) ||
          !optional_string(*frame, "email", 254, out.form.email, error) ||
          !optional_string(*frame, "phone", 64, out.form.phone, error)) {
        return std::nullopt;
      }
    } else if (type == "message") {
      out.type = VisitorMessage::Type::message;
      auto id = frame->find("id");
      if (id == frame->end() || !id->is_string() || !valid_message_id(id->get_ref<const std::string&>())) {
        error = "id: required, 8 to 64 of A-Z a-z 0-9 _ -";
        return std::nullopt;
      }
      out.id = id->get<std::string>();
      auto body = frame->find("text");
      if (body == frame->end() || !body->is_string()) {
        error = "text: required string";
        return std::nullopt;
      }
      if (!optional_string(*frame, "text", limits.max_text_bytes, out.text, error, true)) return std::nullopt;
      if (out.text.empty()) {
        error = "text: must not be empty";
        return std::nullopt;
      }
    } else if (type == "typing") {
      out.type = VisitorMessage::Type::typing;
    } else if (type == "received") {
      out.type = VisitorMessage::Type::received;
      auto ids = frame->find("ids");
      if (ids == frame->end() || !ids->is_array() || ids->empty() || ids->size() > kMaxReceivedIds) {
        error = "ids: required list of 1 to 100 message ids";
        return std::nullopt;
      }
      for (const auto& id : *ids) {
        if (!id.is_string() || !valid_message_id(id.get_ref<const std::string&>())) {
          error = "ids: every item must be a message id";
          return std::nullopt;
        }
        out.ids.push_back(id.get<std::string>());
      }
    } else if (type == "end") {
      out.type = VisitorMessage::Type::end;
    } else if (type == "ping") {
      out.type = VisitorMessage::Type::ping;
    } else {
      error = "unknown frame type \"" + type.substr(0, 32) + "\"";
      if (!timeline::is_valid_utf8(error)) error = "unknown frame type";
      return std::nullopt;
    }
    return out;
  } catch (const std::exception&) {
    error = "frame could not be read";
    return std::nullopt;
  }
}

nlohmann::json visitor_json(const ChatLine& line) {
  json out{{"id", line.id}, {"from", line.from}, {"text", line.text}, {"at", timeline::format_time(line.at_ms)}};
  if (line.from == "agent") out["agent"] = line.agent_name;
  return out;
}

nlohmann::json agent_json(const ChatLine& line) {
  return json{{"id", line.id},
              {"from", line.from == "agent" ? line.agent_id : std::string("visitor")},
              {"text", line.text},
              {"at", timeline::format_time(line.at_ms)}};
}

std::string dump(const nlohmann::json& frame) { return frame.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace omnitrail::connectors::webchat
