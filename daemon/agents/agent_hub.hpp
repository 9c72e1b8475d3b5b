// AgentHub: the agents' WebSocket connections (/api/v1/agents/ws), their presence, and the
// delivery of screen-pops for committed interactions (docs/agent-protocol.md).
// Thread contract: io thread only, except on_committed() (any thread: it posts to the io thread).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/agents/chat_desk.hpp"
#include "daemon/config/config.hpp"
#include "daemon/http/websocket.hpp"
#include "daemon/timeline/ingest.hpp"

namespace boost::asio {
class io_context;
}
namespace omnitrail::store {
class Store;
}
namespace omnitrail::metrics {
class Registry;
}

namespace omnitrail::agents {

class AgentHub {
 public:
  AgentHub(boost::asio::io_context& io, store::Store& store, metrics::Registry& metrics);
  ~AgentHub();
  AgentHub(const AgentHub&) = delete;
  AgentHub& operator=(const AgentHub&) = delete;

  /// Applies a (re)loaded config: agents, tokens, routing, screen_pop options. Connections of
  /// agents that no longer exist (or whose token changed) are closed with 4001.
  void configure(std::shared_ptr<const config::Config> config);

  /// The factory for the /api/v1/agents/ws route.
  http::WebSocketFactory websocket_factory();

  /// An interaction was committed (any thread). Ringing/answered/ended kinds become pops for the
  /// right agents; `origin` is when its bytes arrived (pop latency is measured from there).
  /// `view`, when given, is the customer view read in the ingest's transaction (no reader trip).
  void on_committed(const timeline::Interaction& interaction, const timeline::IngestOutcome& outcome,
                    std::chrono::steady_clock::time_point origin, std::shared_ptr<nlohmann::json> view = {});

  /// The desk through which chat connector `connector` (its name) assigns chats and talks to
  /// agents (chat_desk.hpp). The connector owns it; destroying it releases its chats. io thread.
  std::shared_ptr<ChatDesk> chat_desk(const std::string& connector);

  /// Sends one protocol message (JSON text) to every connection of `agent_id`; false when the
  /// agent has none. io thread.
  bool send_to_agent(const std::string& agent_id, std::string text);

  /// Called on the io thread when a new pop (pop.ringing) was handed to at least one connection
  /// of `agent_id`, with the pop object sent (for the pop.delivered webhook event).
  using PopListener = std::function<void(const std::string& agent_id, const nlohmann::json& pop)>;
  void set_pop_listener(PopListener listener);

  /// Stops the expiry timer (the HTTP server closes the sockets with 1001).
  void stop();

  std::size_t connection_count() const;

  struct Impl;  // implementation detail (agent_hub.cpp)

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace omnitrail::agents
