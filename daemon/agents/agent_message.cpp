#include "daemon/agents/agent_message.hpp"

#include "daemon/api/json_body.hpp"

namespace omnitrail::agents {

std::optional<AgentMessage> parse_agent_message(std::string_view text, AgentMessageError& error) {
  std::string parse_error;
  auto message = api::parse_object(text, parse_error, 8);
  if (!message) {
    error.message = parse_error;
    return std::nullopt;
  }
  AgentMessage out;
  if (auto id = message->find("id"); id != message->end() && (id->is_string() || id->is_number_integer())) {
    if (!id->is_string() || id->get_ref<const std::string&>().size() <= 128) out.ref = *id;
  }
  error.ref = out.ref;
  auto type_it = message->find("type");
  if (type_it == message->end() || !type_it->is_string()) {
    error.message = "every message needs a string \"type\"";
    return std::nullopt;
  }
  const auto& type = type_it->get_ref<const std::string&>();
  auto string_field = [&](const char* name, std::string& target, std::size_t max) {
    auto it = message->find(name);
    if (it == message->end() || !it->is_string() || it->get_ref<const std::string&>().empty() ||
        it->get_ref<const std::string&>().size() > max) {
      error.message = std::string(name) + ": required string of at most " + std::to_string(max) + " bytes";
      return false;
    }
    target = it->get<std::string>();
    return true;
  };
  if (type == "auth") {
    out.type = AgentMessage::Type::auth;
    if (!string_field("token", out.token, 4096)) return std::nullopt;
  } else if (type == "presence") {
    out.type = AgentMessage::Type::presence;
    std::string status;
    if (!string_field("status", status, 32)) return std::nullopt;
    auto presence = screenpop::parse_presence(status);
    if (!presence || *presence == screenpop::Presence::offline) {
      error.message = "status: must be available, away or busy";
      return std::nullopt;
    }
    out.presence = *presence;
  } else if (type == "pop.ack") {
    out.type = AgentMessage::Type::pop_ack;
    if (!string_field("pop_id", out.pop_id, 64)) return std::nullopt;
  } else if (type == "ping") {
    out.type = AgentMessage::Type::ping;
  } else if (type == "chat.send" || type == "chat.typing" || type == "chat.end" || type == "chat.transfer") {
    // Parsed here; whether a chat connector owns chat_id is the hub's question ("no_chat").
    if (!string_field("chat_id", out.chat_id, 64)) return std::nullopt;
    if (type == "chat.send") {
      out.type = AgentMessage::Type::chat_send;
      if (!string_field("text", out.text, 10000)) return std::nullopt;
      if (message->contains("client_message_id") && !string_field("client_message_id", out.client_message_id, 128)) {
        return std::nullopt;
      }
    } else if (type == "chat.typing") {
      out.type = AgentMessage::Type::chat_typing;
    } else if (type == "chat.end") {
      out.type = AgentMessage::Type::chat_end;
    } else {
      out.type = AgentMessage::Type::chat_transfer;
      if (!string_field("to_agent", out.to_agent, 64)) return std::nullopt;
    }
  } else {
    error.message = "unknown message type \"" + type.substr(0, 32) + "\"";
    return std::nullopt;
  }
  return out;
}

}  // namespace omnitrail::agents
