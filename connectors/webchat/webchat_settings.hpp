// The `webchat` connector's YAML block (README.md, "Configuration"), validated by the config
// loader (file:line:col errors) and read by the connector. Loading thread; then immutable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "connectors/webchat/rate_limiter.hpp"
#include "daemon/config/block_reader.hpp"
#include "daemon/config/config.hpp"

namespace omnitrail::connectors::webchat {

struct WebchatSettings : config::ConnectorSettings {
  std::vector<std::string> allowed_origins;  ///< canonical origins, "https://*.example.com" or "*"
  config::Secret token_secret;     ///< signs visitor tokens; empty: a random key per run
  config::Secret identity_secret;  ///< shared with the embedding site; empty: no verification
  std::vector<std::string> form_fields;    ///< pre-chat form: subset of name, email, phone
  std::vector<std::string> form_required;  ///< of form_fields
  std::uint64_t max_frame_bytes = 8 * 1024;  ///< a visitor frame above this closes the connection (1009)
  std::uint64_t max_text_bytes = 4000;       ///< a chat message's text
  RateLimits rate_limits;
  std::int64_t max_visitors = 10000;          ///< visitor connections at once (all addresses)
  config::Duration idle_timeout = std::chrono::minutes(15);  ///< chat.ended "idle" after this silence
  config::Duration token_ttl = std::chrono::hours(24 * 30);   ///< how long a visitor may resume
  config::Duration reassign_after = std::chrono::seconds(60);  ///< agent gone this long: the chat moves (0: never)
  int max_chats_per_agent = 5;                ///< 0: no limit
  int history_limit = 200;                    ///< messages kept per chat and replayed on resume
  std::string title = "Chat with us";
  std::string greeting = "Hello! How can we help?";
  std::string offline_message = "No one is available right now. Leave a message and we will get back to you.";
};

/// The validator registered for type "webchat".
std::shared_ptr<const config::ConnectorSettings> validate_webchat(config::BlockReader& block);

}  // namespace omnitrail::connectors::webchat
