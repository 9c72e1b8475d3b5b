// Fuzzes the parser of agent WebSocket frames (docs/agent-protocol.md).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/agents/agent_message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  omnitrail::agents::AgentMessageError error;
  auto message = omnitrail::agents::parse_agent_message(std::string_view(reinterpret_cast<const char*>(data), size), error);
  if (!message && error.message.empty()) __builtin_trap();  // every refusal says why
  if (message && message->type == omnitrail::agents::AgentMessage::Type::auth && message->token.empty()) __builtin_trap();
  using Type = omnitrail::agents::AgentMessage::Type;
  if (message && (message->type == Type::chat_send || message->type == Type::chat_typing ||
                  message->type == Type::chat_end || message->type == Type::chat_transfer)) {
    if (message->chat_id.empty() || message->chat_id.size() > 64) __builtin_trap();
    if (message->type == Type::chat_send && (message->text.empty() || message->text.size() > 10000)) __builtin_trap();
    if (message->type == Type::chat_transfer && message->to_agent.empty()) __builtin_trap();
  }
  return 0;
}
