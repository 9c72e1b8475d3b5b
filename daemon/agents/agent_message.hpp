// Parsing one text frame from an agent connection (docs/agent-protocol.md) into a typed
// message. Pure and bounded (nesting <= 8, fields checked); fuzzed by fuzz/agent_message_fuzz.cpp.
// Any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/screenpop/routing.hpp"

namespace omnitrail::agents {

struct AgentMessage {
  enum class Type { auth, presence, pop_ack, ping, chat_send, chat_typing, chat_end, chat_transfer };
  Type type = Type::ping;
  nlohmann::json ref;     // the client's "id" (string or integer), null when absent
  std::string token;      // auth
  screenpop::Presence presence = screenpop::Presence::available;  // presence
  std::string pop_id;     // pop.ack
  std::string chat_id;    // chat.*: the chat's conversation id
  std::string text;       // chat.send
  std::string client_message_id;  // chat.send
  std::string to_agent;   // chat.transfer
};

struct AgentMessageError {
  std::string code = "invalid_message";
  nlohmann::json ref;     // the client's "id" when it could be read
  std::string message;    // for the {"type":"error","code":"invalid_message"} reply
};

/// Parses a frame. On failure returns nullopt and fills `error`; never throws.
std::optional<AgentMessage> parse_agent_message(std::string_view text, AgentMessageError& error);

}  // namespace omnitrail::agents
