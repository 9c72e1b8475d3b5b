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
  enum class Type { auth, presence, pop_ack, ping };
  Type type = Type::ping;
  nlohmann::json ref;     // the client's "id" (string or integer), null when absent
  std::string token;      // auth
  screenpop::Presence presence = screenpop::Presence::available;  // presence
  std::string pop_id;     // pop.ack
};

struct AgentMessageError {
  std::string code = "invalid_message";  // or "no_chat" for chat.* messages without a chat connector
  nlohmann::json ref;     // the client's "id" when it could be read
  std::string message;    // for the {"type":"error","code":"invalid_message"} reply
};

/// Parses a frame. On failure returns nullopt and fills `error`; never throws.
std::optional<AgentMessage> parse_agent_message(std::string_view text, AgentMessageError& error);

}  // namespace omnitrail::agents
