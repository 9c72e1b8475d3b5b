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
  return 0;
}
