// The visitor side of web chat: parsing one text frame from a visitor's browser (the widget) into
// a typed message, and the frames the server sends back (README.md, "Visitor protocol").
// Everything here reads hostile bytes: bounded (nesting <= 4, every field checked for type,
// length and UTF-8), never throws, fuzzed by fuzz/webchat_fuzz.cpp. Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace omnitrail::connectors::webchat {

/// Limits a parser applies; the connector fills them from its config block.
struct ProtocolLimits {
  std::size_t max_text_bytes = 4000;  ///< a chat message's text, after trimming
};

/// What the embedding site says about its signed-in user (all optional), with the HMAC-SHA256
/// it computed on its server (identity_verification.hpp).
struct IdentityClaim {
  std::string user_id;
  std::string email;
  std::string phone;
  std::string name;
  std::string user_hash;  ///< lower-cased hex; empty when none was sent
  bool empty() const { return user_id.empty() && email.empty() && phone.empty() && name.empty() && user_hash.empty(); }
};

/// The pre-chat form, as typed by the visitor (claimed).
struct FormInput {
  std::string name;
  std::string email;
  std::string phone;
};

struct VisitorMessage {
  enum class Type {
    hello,     ///< first frame: token (resume), identity
    form,      ///< the pre-chat form
    message,   ///< a chat message with the client's id
    typing,    ///< the visitor is typing
    received,  ///< delivery acknowledgements of agent messages
    end,       ///< the visitor ends the chat
    ping,
  };
  Type type = Type::ping;
  std::string token;          ///< hello: the signed token from a previous welcome, may be empty
  IdentityClaim identity;     ///< hello
  std::string page;           ///< hello: the page URL the widget runs on (shown to the agent), may be empty
  FormInput form;             ///< form
  std::string id;             ///< message: the client's message id ([A-Za-z0-9_-]{8,64})
  std::string text;           ///< message: trimmed, non-empty, valid UTF-8, <= max_text_bytes
  std::vector<std::string> ids;  ///< received: message ids (1..100)
};

/// Parses a frame. On failure returns nullopt and sets `error` to a short reason for the close
/// frame (no input echoed beyond the type name, cut to 32 bytes). Never throws.
std::optional<VisitorMessage> parse_visitor_message(std::string_view text, const ProtocolLimits& limits,
                                                    std::string& error) noexcept;

/// True for ids the widget generates and for ours: 8..64 of [A-Za-z0-9_-].
bool valid_message_id(std::string_view id) noexcept;

/// One message of a chat as the visitor (and the agent) sees it.
struct ChatLine {
  std::string id;          ///< the visitor's client id, or the agent message's m_... id
  std::string from;        ///< "visitor" or "agent"
  std::string agent_id;    ///< for agent lines
  std::string agent_name;  ///< for agent lines (what the visitor sees)
  std::string text;
  std::int64_t at_ms = 0;
};

/// {"id","from","text","at"} plus "agent" (the agent's display name) for agent lines. The
/// visitor never sees agent ids.
nlohmann::json visitor_json(const ChatLine& line);

/// The agent protocol's message object: {"id","from" (visitor or the agent id),"text","at"}.
nlohmann::json agent_json(const ChatLine& line);

/// JSON text of a frame (invalid UTF-8 replaced, never throws).
std::string dump(const nlohmann::json& frame);

}  // namespace omnitrail::connectors::webchat
