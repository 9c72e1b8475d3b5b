// ChatDesk: the agents' side of live chats, lent by the agent hub to a chat connector (webchat)
// through its connectors::Context. It assigns chats to agents (least busy first, counting every
// chat connector's chats), delivers chat.* messages to agents' connections, and hands the
// agents' chat.* commands (docs/agent-protocol.md "Chat messages") to the connector.
// The core stays channel-blind: a chat is an opaque key of the connector's, its messages are
// JSON the connector builds. Each connector owns its desk (shared_ptr); the hub only keeps a weak
// handle, and a desk's destruction releases its assignments.
// Thread contract: io thread only.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace omnitrail::agents {

/// One chat command of an agent (a `chat.*` frame on the agent WebSocket).
struct ChatCommand {
  enum class Type { send, typing, end, transfer };
  Type type = Type::typing;
  std::string agent_id;           ///< the authenticated sender
  std::string chat_id;            ///< the chat's conversation id (v_...)
  std::string text;               ///< send
  std::string client_message_id;  ///< send: the agent's idempotency key
  std::string to_agent;           ///< transfer
};

/// What the connector makes of a command. `handled` false: not one of this connector's chats
/// (the hub asks the next one). Otherwise `error_code` empty means done: the agent gets `ack`
/// (plus `extra`'s fields); else `error` with that code and `error_message` (no secrets).
struct ChatReply {
  bool handled = false;
  std::string error_code;
  std::string error_message;
  nlohmann::json extra = nlohmann::json::object();

  static ChatReply not_mine() { return {}; }
  static ChatReply ok(nlohmann::json extra = nlohmann::json::object()) { return {true, {}, {}, std::move(extra)}; }
  static ChatReply error(std::string code, std::string message) {
    return {true, std::move(code), std::move(message), nlohmann::json::object()};
  }
};

class ChatDesk {
 public:
  virtual ~ChatDesk() = default;

  /// Assigns `chat_key` to the least busy `available` agent serving `queue` (every agent when
  /// empty) who holds fewer than `max_chats` chats (<= 0: no limit), never `exclude`
  /// (screenpop::Directory::least_busy). Returns the agent id, or "" when nobody can take it
  /// (the chat stays unassigned). A chat already assigned is first released.
  virtual std::string assign(const std::string& chat_key, const std::string& queue, int max_chats,
                             const std::string& exclude = {}) = 0;

  /// Assigns `chat_key` to `agent_id` whatever their load (a transfer, or an assignment restored
  /// after a restart). False when `agent_id` is not a configured agent.
  virtual bool assign_to(const std::string& chat_key, const std::string& agent_id) = 0;

  /// The chat ended (or went back to waiting): its agent's load goes down.
  virtual void release(const std::string& chat_key) = 0;

  /// True when assign() would find an agent right now.
  virtual bool available(const std::string& queue, int max_chats) const = 0;

  /// True when `agent_id` has at least one agent WebSocket connection.
  virtual bool connected(const std::string& agent_id) const = 0;

  /// The configured display name of `agent_id` ("" when unknown): what a visitor is shown.
  virtual std::string agent_name(const std::string& agent_id) const = 0;

  /// Sends one chat.* message to every connection of `agent_id`; false when it has none.
  virtual bool send(const std::string& agent_id, const nlohmann::json& message) = 0;

  struct Handlers {
    /// An agent's chat command. Must answer synchronously (the hub sends ack / error).
    std::function<ChatReply(const ChatCommand&)> command;
    /// An agent connection was authenticated: `send` reaches that one connection (for the
    /// state of the agent's chats, e.g. chat.history).
    std::function<void(const std::string& agent_id, const std::function<void(const nlohmann::json&)>& send)>
        agent_connected;
  };
  /// Sets the connector's handlers (replacing earlier ones).
  virtual void set_handlers(Handlers handlers) = 0;
};

}  // namespace omnitrail::agents
