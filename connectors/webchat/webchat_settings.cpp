#include "connectors/webchat/webchat_settings.hpp"

#include <algorithm>

#include "connectors/webchat/origin_policy.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::connectors::webchat {
namespace {

std::string read_text(config::BlockReader& block, const char* key, std::string fallback, std::size_t max) {
  std::string value = block.string(key, fallback);
  if (value.size() > max) block.error(key, "must be at most " + std::to_string(max) + " bytes");
  if (!timeline::is_valid_utf8(value)) block.error(key, "must be valid UTF-8");
  return value;
}

}  // namespace

std::shared_ptr<const config::ConnectorSettings> validate_webchat(config::BlockReader& block) {
  auto s = std::make_shared<WebchatSettings>();
  for (const auto& item : block.string_items("allowed_origins")) {
    if (item.value == "*") {
      block.warning("allowed_origins", "\"*\" lets any web site embed this chat");
      s->allowed_origins.push_back(item.value);
      continue;
    }
    auto canonical = canonical_origin(item.value, true);
    if (!canonical) {
      block.context().error(item.where, item.path,
                            "\"" + item.value + "\" is not an origin (scheme://host[:port] with no path, e.g. "
                            "https://www.example.com or https://*.example.com)");
      continue;
    }
    s->allowed_origins.push_back(*canonical);
  }
  if (s->allowed_origins.empty() && !block.has("allowed_origins")) {
    block.error("allowed_origins", "missing required key \"allowed_origins\": the web sites that may embed the chat "
                                   "(e.g. [\"https://www.example.com\"])");
  } else if (s->allowed_origins.empty()) {
    block.error("allowed_origins", "must list at least one origin");
  }
  if (auto secret = block.secret("token_secret", false)) {
    s->token_secret = *secret;
    if (s->token_secret.value.size() < 16) block.error("token_secret", "must be at least 16 bytes (e.g. openssl rand -hex 32)");
  }
  if (auto secret = block.secret("identity_secret", false)) {
    s->identity_secret = *secret;
    if (s->identity_secret.value.size() < 16) {
      block.error("identity_secret", "must be at least 16 bytes (e.g. openssl rand -hex 32)");
    }
  }
  if (auto form = block.map("pre_chat_form")) {
    s->form_fields = form->choice_list("fields", {"name", "email", "phone"});
    s->form_required = form->choice_list("required", {"name", "email", "phone"});
    for (const auto& field : s->form_required) {
      if (std::find(s->form_fields.begin(), s->form_fields.end(), field) == s->form_fields.end()) {
        form->error("required", "\"" + field + "\" is required but not one of the form's fields");
      }
    }
  }
  s->max_frame_bytes = block.size("max_frame_bytes", s->max_frame_bytes, 1024, 64 * 1024);
  s->max_text_bytes = block.size("max_text_bytes", s->max_text_bytes, 100, 32 * 1024);
  if (s->max_text_bytes + 256 > s->max_frame_bytes) {
    block.error("max_text_bytes", "must be at most max_frame_bytes - 256 (" + std::to_string(s->max_frame_bytes) +
                                      " - 256): a message frame carries the text and its id");
  }
  if (auto limits = block.map("rate_limits")) {
    auto& r = s->rate_limits;
    r.max_connections_per_address = static_cast<int>(
        limits->integer("max_connections_per_address", r.max_connections_per_address, 1, 10000));
    r.connections_per_minute = static_cast<double>(
        limits->integer("connections_per_minute", static_cast<std::int64_t>(r.connections_per_minute), 1, 100000));
    r.connection_burst = static_cast<int>(limits->integer("connection_burst", r.connection_burst, 1, 10000));
    r.messages_per_minute = static_cast<double>(
        limits->integer("messages_per_minute", static_cast<std::int64_t>(r.messages_per_minute), 1, 100000));
    r.message_burst = static_cast<int>(limits->integer("message_burst", r.message_burst, 1, 10000));
  }
  s->max_visitors = block.integer("max_visitors", s->max_visitors, 1, 1000000);
  s->rate_limits.max_addresses = static_cast<std::size_t>(std::max<std::int64_t>(s->max_visitors, 1000));
  s->idle_timeout = block.duration("idle_timeout", s->idle_timeout, std::chrono::seconds(10), std::chrono::hours(12));
  s->token_ttl = block.duration("token_ttl", s->token_ttl, std::chrono::minutes(1), std::chrono::hours(24 * 365));
  s->reassign_after = block.duration("reassign_after", s->reassign_after, std::chrono::seconds(0), std::chrono::hours(1));
  if (s->reassign_after.count() > 0 && s->reassign_after < std::chrono::seconds(5)) {
    block.error("reassign_after", "must be 0s (never) or at least 5s");
  }
  s->max_chats_per_agent = static_cast<int>(block.integer("max_chats_per_agent", s->max_chats_per_agent, 0, 1000));
  s->history_limit = static_cast<int>(block.integer("history_limit", s->history_limit, 10, 1000));
  s->title = read_text(block, "title", s->title, 100);
  s->greeting = read_text(block, "greeting", s->greeting, 1000);
  s->offline_message = read_text(block, "offline_message", s->offline_message, 1000);
  return s;
}

}  // namespace omnitrail::connectors::webchat
