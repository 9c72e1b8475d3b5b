// AgentHub implementation: one AgentConnection per WebSocket, agents keyed by id (several
// connections each), a PopBook for the pop lifecycle, and the store round trip that builds the
// customer view for a trigger (the same view builder as GET /api/v1/customers/{id}).
#include <utility>

#include "daemon/agents/agent_hub.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "daemon/api/auth.hpp"
#include "daemon/agents/agent_message.hpp"
#include "daemon/http/router.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/screenpop/pop_book.hpp"
#include "daemon/screenpop/routing.hpp"
#include "daemon/store/store.hpp"
#include "daemon/timeline/customer_view.hpp"
#include "daemon/util/log.hpp"

namespace omnitrail::agents {
namespace asio = boost::asio;
using nlohmann::json;
using screenpop::Presence;

namespace {

constexpr int protocol_version = 1;
constexpr int close_bad_token = 4001;
constexpr int close_not_agent = 4003;
constexpr int close_too_slow = 4008;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

class AgentConnection;
class HubChatDesk;

struct AgentHub::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& context, store::Store& s, metrics::Registry& m)
      : io(context),
        store(s),
        metrics(m),
        expiry(context),
        latency(m.histogram("omnitrail_pop_latency_seconds",
                            "Screen-pop latency: trigger bytes received to the pop frame written to the agent.")),
        drops(m.counter("omnitrail_agent_send_queue_drops_total",
                        "Agent connections closed because their send queue was full (client is too slow).")) {
    for (auto p : {Presence::available, Presence::away, Presence::busy, Presence::offline}) {
      presence_gauges[p] = &m.gauge("omnitrail_agents_connected", "Agents by presence (offline: configured, not connected).",
                                    {{"presence", std::string(screenpop::to_string(p))}});
    }
  }

  asio::io_context& io;
  store::Store& store;
  metrics::Registry& metrics;
  std::shared_ptr<const config::Config> config;
  std::unique_ptr<api::TokenAuthority> authority;
  std::unique_ptr<screenpop::Directory> directory;
  AgentHub::PopListener pop_listener;
  std::unique_ptr<screenpop::PopBook> book;
  std::map<std::string, std::set<AgentConnection*>> connections;  // agent id -> its connections
  std::map<std::string, Presence> presence;                        // connected agents only
  asio::steady_timer expiry;
  metrics::Histogram& latency;
  metrics::Counter& drops;
  std::map<Presence, metrics::Gauge*> presence_gauges;
  bool stopped = false;
  // Chat connectors' desks (weak: each connector owns its own), the agent of every assigned chat
  // (desk id, chat key) and each agent's number of assigned chats (for least busy first). Desk
  // ids are unique per desk, not per connector name: a connector restarted on reload gets a new
  // desk while the old one may still be alive, and the old one's end must not release the new
  // one's chats.
  std::uint64_t next_desk_id = 0;
  std::vector<std::weak_ptr<HubChatDesk>> desks;
  std::map<std::pair<std::string, std::string>, std::string> chat_agents;
  std::map<std::string, int> chat_load;

  int load_of(const std::string& agent) const {
    auto it = chat_load.find(agent);
    return it == chat_load.end() ? 0 : it->second;
  }
  void release_chat(const std::string& connector, const std::string& chat_key) {
    auto it = chat_agents.find({connector, chat_key});
    if (it == chat_agents.end()) return;
    if (auto load = chat_load.find(it->second); load != chat_load.end() && --load->second <= 0) chat_load.erase(load);
    chat_agents.erase(it);
  }
  void assign_chat(const std::string& connector, const std::string& chat_key, const std::string& agent) {
    release_chat(connector, chat_key);
    chat_agents[{connector, chat_key}] = agent;
    ++chat_load[agent];
  }
  // The live desks (expired handles are dropped).
  std::vector<std::shared_ptr<HubChatDesk>> live_desks();

  Presence presence_of(const std::string& agent) const {
    auto it = presence.find(agent);
    return it == presence.end() ? Presence::offline : it->second;
  }

  void update_gauges() {
    std::map<Presence, int> counts;
    for (const auto& [agent, p] : presence) ++counts[p];
    int configured = config ? static_cast<int>(config->agents.size()) : 0;
    for (auto& [p, gauge] : presence_gauges) {
      if (p == Presence::offline) gauge->set(std::max(0, configured - static_cast<int>(presence.size())));
      else gauge->set(counts[p]);
    }
  }

  metrics::Counter& pops_counter(const std::string& channel, const std::string& outcome) {
    return metrics.counter("omnitrail_pops_total", "Pop messages sent to agents, by channel and outcome.",
                           {{"channel", channel}, {"outcome", outcome}});
  }

  void prepare(const timeline::Interaction& interaction, const timeline::IngestOutcome& outcome,
               std::chrono::steady_clock::time_point origin, const std::shared_ptr<json>& view);
  void flush();

  // Committed triggers waiting for their customer view, in commit order (bounded by the store's
  // read queue: a refused read completes its entry at once).
  struct PendingTrigger {
    std::uint64_t sequence;
    timeline::Interaction interaction;
    timeline::IngestOutcome outcome;
    std::chrono::steady_clock::time_point origin;
    json view;
    bool ready;
    bool skip;
  };
  std::deque<PendingTrigger> pending;
  std::uint64_t next_sequence = 0;
  void deliver(const std::vector<screenpop::Outgoing>& outgoing, std::chrono::steady_clock::time_point origin,
               bool measure);
  void route(const timeline::Interaction& in, const timeline::IngestOutcome& outcome, json view,
             std::chrono::steady_clock::time_point origin);
  void schedule_expiry();
  void attach(AgentConnection* c, const std::string& agent);
  void detach(AgentConnection* c, const std::string& agent);
  void set_presence(const std::string& agent, Presence p);
};

// One chat connector's view of the hub (chat_desk.hpp).
class HubChatDesk : public ChatDesk {
 public:
  HubChatDesk(std::weak_ptr<AgentHub::Impl> hub, std::string connector, std::uint64_t serial)
      : hub_(std::move(hub)), desk_key_(std::move(connector) + "#" + std::to_string(serial)) {}

  ~HubChatDesk() override {
    auto hub = hub_.lock();
    if (!hub) return;
    for (auto it = hub->chat_agents.begin(); it != hub->chat_agents.end();) {
      auto next = std::next(it);
      if (it->first.first == desk_key_) hub->release_chat(desk_key_, it->first.second);
      it = next;
    }
  }

  std::string assign(const std::string& chat_key, const std::string& queue, int max_chats,
                     const std::string& exclude) override {
    auto hub = hub_.lock();
    if (!hub) return {};
    hub->release_chat(desk_key_, chat_key);
    if (!hub->directory) return {};
    auto agent = pick(*hub, queue, max_chats, exclude);
    if (!agent.empty()) hub->assign_chat(desk_key_, chat_key, agent);
    return agent;
  }

  bool assign_to(const std::string& chat_key, const std::string& agent_id) override {
    auto hub = hub_.lock();
    if (!hub || !hub->directory || !hub->directory->find(agent_id)) return false;
    hub->assign_chat(desk_key_, chat_key, agent_id);
    return true;
  }

  void release(const std::string& chat_key) override {
    if (auto hub = hub_.lock()) hub->release_chat(desk_key_, chat_key);
  }

  bool available(const std::string& queue, int max_chats) const override {
    auto hub = hub_.lock();
    return hub && hub->directory && !pick(*hub, queue, max_chats, {}).empty();
  }

  bool connected(const std::string& agent_id) const override {
    auto hub = hub_.lock();
    return hub && hub->connections.count(agent_id) != 0;
  }

  std::string agent_name(const std::string& agent_id) const override {
    auto hub = hub_.lock();
    const auto* info = hub && hub->directory ? hub->directory->find(agent_id) : nullptr;
    return info ? info->name : std::string();
  }

  bool send(const std::string& agent_id, const json& message) override;

  void set_handlers(Handlers handlers) override { handlers_ = std::move(handlers); }

  const Handlers& handlers() const { return handlers_; }

 private:
  static std::string pick(const AgentHub::Impl& hub, const std::string& queue, int max_chats, const std::string& exclude) {
    return hub.directory->least_busy(
        queue, [&hub](const std::string& agent) { return hub.presence_of(agent); },
        [&hub](const std::string& agent) { return hub.load_of(agent); }, max_chats, exclude);
  }

  std::weak_ptr<AgentHub::Impl> hub_;
  std::string desk_key_;
  Handlers handlers_;
};

std::vector<std::shared_ptr<HubChatDesk>> AgentHub::Impl::live_desks() {
  std::vector<std::shared_ptr<HubChatDesk>> out;
  for (auto it = desks.begin(); it != desks.end();) {
    if (auto desk = it->lock()) {
      out.push_back(std::move(desk));
      ++it;
    } else {
      it = desks.erase(it);
    }
  }
  return out;
}

// One WebSocket of one agent.
class AgentConnection : public http::WebSocketSession, public std::enable_shared_from_this<AgentConnection> {
 public:
  AgentConnection(std::shared_ptr<AgentHub::Impl> hub, std::optional<api::Principal> preauthenticated)
      : hub_(std::move(hub)), principal_(std::move(preauthenticated)), auth_timer_(hub_->io) {}

  void on_open(std::shared_ptr<http::WebSocket> socket) override {
    socket_ = socket;
    if (principal_) return welcome();
    auth_timer_.expires_after(std::chrono::seconds(10));
    auth_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->agent_ || !self->socket_) return;
      self->socket_->close(close_bad_token, "authentication timed out");
    });
  }

  void on_message(std::string text) override {
    AgentMessageError error;
    auto message = parse_agent_message(text, error);
    if (!message) return reply_error(error.ref, error.code, error.message);
    const json& ref = message->ref;
    using Type = AgentMessage::Type;
    if (!agent_) {
      if (message->type != Type::auth) {
        return reply_error(ref, "unauthenticated", "send {\"type\":\"auth\",\"token\":...} first");
      }
      auto principal = hub_->authority ? hub_->authority->authenticate("Bearer " + message->token) : std::nullopt;
      if (!principal) return socket_->close(close_bad_token, "invalid token");
      principal_ = principal;
      return welcome();
    }
    switch (message->type) {
      case Type::auth:
        return reply_error(ref, "invalid_message", "already authenticated");
      case Type::presence:
        hub_->set_presence(*agent_, message->presence);
        return ack(ref);
      case Type::pop_ack:
        hub_->metrics.counter("omnitrail_pops_acknowledged_total", "Pops the agents' consoles confirmed displaying.").inc();
        return ack(ref);
      case Type::ping:
        return send(json{{"type", "pong"}});
      case Type::chat_send:
      case Type::chat_typing:
      case Type::chat_end:
      case Type::chat_transfer:
        return chat_command(*message);
    }
  }

  void on_close(int, const std::string&) override {
    auth_timer_.cancel();
    if (agent_) hub_->detach(this, *agent_);
    socket_.reset();
  }

  bool send_frame(http::Frame frame) {
    if (!socket_ || !socket_->is_open()) return false;
    if (!socket_->send(std::move(frame))) {
      if (!socket_->is_open()) hub_->drops.inc();
      return false;
    }
    return true;
  }

  void close(int code, const std::string& reason) {
    if (socket_) socket_->close(code, reason);
  }

  const std::optional<std::string>& agent() const { return agent_; }

 private:
  void welcome() {
    auth_timer_.cancel();
    const auto* info = hub_->directory ? hub_->directory->find(principal_->id) : nullptr;
    if (!info) return socket_->close(close_not_agent, "this token is not an agent's");
    agent_ = info->id;
    hub_->attach(this, *agent_);
    json pops = json::array();
    if (hub_->book) {
      for (auto& pop : hub_->book->pops_for(*agent_)) pops.push_back(std::move(pop));
    }
    send(json{{"type", "hello"},
              {"protocol", protocol_version},
              {"agent", {{"id", info->id}, {"name", info->name}, {"extensions", info->extensions}, {"queues", info->queues}}},
              {"presence", std::string(screenpop::to_string(hub_->presence_of(*agent_)))},
              {"heartbeat_seconds", 20},
              {"pops", pops}});
    // Chat connectors send this connection the state of the agent's chats (history).
    std::weak_ptr<AgentConnection> weak = shared_from_this();
    auto send_here = [weak](const json& message) {
      if (auto self = weak.lock()) self->send(message);
    };
    for (const auto& desk : hub_->live_desks()) {
      if (desk->handlers().agent_connected) desk->handlers().agent_connected(*agent_, send_here);
    }
  }

  // A chat.* frame goes to the chat connector whose chat it is.
  void chat_command(const AgentMessage& message) {
    ChatCommand command;
    using Type = AgentMessage::Type;
    command.type = message.type == Type::chat_send       ? ChatCommand::Type::send
                   : message.type == Type::chat_end      ? ChatCommand::Type::end
                   : message.type == Type::chat_transfer ? ChatCommand::Type::transfer
                                                         : ChatCommand::Type::typing;
    command.agent_id = *agent_;
    command.chat_id = message.chat_id;
    command.text = message.text;
    command.client_message_id = message.client_message_id;
    command.to_agent = message.to_agent;
    auto desks = hub_->live_desks();
    if (desks.empty()) return reply_error(message.ref, "no_chat", "no web chat connector is configured");
    for (const auto& desk : desks) {
      if (!desk->handlers().command) continue;
      auto reply = desk->handlers().command(command);
      if (!reply.handled) continue;
      if (!reply.error_code.empty()) return reply_error(message.ref, reply.error_code, reply.error_message);
      if (message.ref.is_null()) return;
      json out{{"type", "ack"}, {"ref", message.ref}};
      for (auto& [key, value] : reply.extra.items()) out[key] = value;
      return send(out);
    }
    reply_error(message.ref, "not_found", "no open chat " + message.chat_id);
  }

  void send(const json& message) { send_frame(http::Frame{std::make_shared<const std::string>(dump(message))}); }
  void ack(const json& ref) {
    if (!ref.is_null()) send(json{{"type", "ack"}, {"ref", ref}});
  }
  void reply_error(const json& ref, const std::string& code, const std::string& message) {
    json out{{"type", "error"}, {"code", code}, {"message", message}};
    if (!ref.is_null()) out["ref"] = ref;
    send(out);
  }

  std::shared_ptr<AgentHub::Impl> hub_;
  std::shared_ptr<http::WebSocket> socket_;
  std::optional<api::Principal> principal_;
  std::optional<std::string> agent_;
  asio::steady_timer auth_timer_;
};

void AgentHub::Impl::attach(AgentConnection* c, const std::string& agent) {
  connections[agent].insert(c);
  if (!presence.count(agent)) presence[agent] = Presence::available;
  update_gauges();
}

void AgentHub::Impl::detach(AgentConnection* c, const std::string& agent) {
  auto it = connections.find(agent);
  if (it == connections.end()) return;
  it->second.erase(c);
  if (it->second.empty()) {
    connections.erase(it);
    presence.erase(agent);  // no connection left: offline (pops in progress replay on reconnect)
  }
  update_gauges();
}

void AgentHub::Impl::set_presence(const std::string& agent, Presence p) {
  presence[agent] = p;
  update_gauges();
  auto text = std::make_shared<const std::string>(dump(json{{"type", "presence"}, {"presence", screenpop::to_string(p)}}));
  if (auto it = connections.find(agent); it != connections.end()) {
    for (auto* c : std::vector<AgentConnection*>(it->second.begin(), it->second.end())) c->send_frame(http::Frame{text});
  }
}

void AgentHub::Impl::deliver(const std::vector<screenpop::Outgoing>& outgoing,
                             std::chrono::steady_clock::time_point origin, bool measure) {
  // One event gives every agent the same message per (type, pop): serialise it once and share the
  // buffer (the customer view inside is the bulk of a pop).
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const std::string>> serialised;
  for (const auto& out : outgoing) {
    auto it = connections.find(out.agent_id);
    if (it == connections.end()) continue;  // offline: replayed in hello if still in progress
    const std::string type = out.message.value("type", std::string());
    std::string channel = "unknown";
    std::string pop_id;
    if (auto pop = out.message.find("pop"); pop != out.message.end() && pop->is_object()) {
      pop_id = pop->value("id", std::string());
      if (auto trigger = pop->find("trigger"); trigger != pop->end() && trigger->is_object()) {
        channel = trigger->value("channel", std::string("unknown"));
      }
    }
    auto& text = serialised[{type, pop_id}];
    if (!text || pop_id.empty()) text = std::make_shared<const std::string>(dump(out.message));
    bool sent = false;
    for (auto* c : std::vector<AgentConnection*>(it->second.begin(), it->second.end())) {
      http::Frame frame{text};
      if (measure && type == "pop.ringing") {
        frame.origin = origin;
        frame.latency = &latency;
      }
      sent = c->send_frame(std::move(frame)) || sent;
    }
    if (sent) pops_counter(channel, type == "pop.ringing" ? "ringing" : type == "pop.ended" ? "ended" : "updated").inc();
    if (sent && measure && type == "pop.ringing" && pop_listener) {
      if (auto pop = out.message.find("pop"); pop != out.message.end()) pop_listener(out.agent_id, *pop);
    }
  }
}

void AgentHub::Impl::route(const timeline::Interaction& in, const timeline::IngestOutcome& outcome, json view,
                           std::chrono::steady_clock::time_point origin) {
  if (stopped || !book || !directory) return;
  screenpop::Trigger t;
  t.channel = in.channel;
  t.kind = in.kind;
  t.conversation_id = outcome.conversation_id;
  t.interaction_id = outcome.interaction_id;
  t.customer_id = outcome.customer_id;
  t.from = in.from;
  t.to = in.to;
  t.at_ms = in.occurred_at_ms;
  t.agent = in.agent;
  auto metadata = json::parse(in.metadata_json, nullptr, false);
  if (metadata.is_object()) {
    if (auto e = metadata.find("extension"); e != metadata.end() && e->is_string()) t.extensions.push_back(*e);
    if (auto e = metadata.find("extensions"); e != metadata.end() && e->is_array()) {
      for (const auto& x : *e) {
        if (x.is_string()) t.extensions.push_back(x);
      }
    }
    if (auto q = metadata.find("queue"); q != metadata.end() && q->is_string()) t.queue = *q;
  }
  if (t.to.empty() && !t.extensions.empty()) t.to = t.extensions.front();  // what the card shows as "to"
  const auto now = now_ms();
  std::vector<screenpop::Outgoing> outgoing;
  auto kind = screenpop::classify(t.channel, t.kind);
  if (in.ends_conversation && kind != screenpop::TriggerKind::none) kind = screenpop::TriggerKind::end;
  // An agent writing in a chat it holds has taken it: its pop is answered by that agent.
  if (kind == screenpop::TriggerKind::update && t.channel == "chat" && in.direction == "outbound" && !t.agent.empty() &&
      book->holds_conversation(screenpop::pop_key(t), t.agent)) {
    kind = screenpop::TriggerKind::answer;
  }
  switch (kind) {
    case screenpop::TriggerKind::ring: {
      auto targets = directory->targets(t, [this](const std::string& agent) { return presence_of(agent); });
      outgoing = book->on_trigger(t, targets, std::move(view), now);
      break;
    }
    case screenpop::TriggerKind::answer:
      outgoing = book->on_answered(t, std::move(view), now);
      break;
    case screenpop::TriggerKind::end:
      outgoing = book->on_ended(t, now);
      break;
    case screenpop::TriggerKind::update:
      outgoing = book->on_trigger(t, {}, std::move(view), now);
      break;
    case screenpop::TriggerKind::transfer:
      outgoing = book->on_transferred(t, std::move(view), now);
      break;
    case screenpop::TriggerKind::none:
      return;
  }
  deliver(outgoing, origin, true);
}

void AgentHub::Impl::schedule_expiry() {
  expiry.expires_after(std::chrono::seconds(5));
  expiry.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopped) return;
    if (self->book) self->deliver(self->book->expire(now_ms()), {}, false);
    self->schedule_expiry();
  });
}

AgentHub::AgentHub(asio::io_context& io, store::Store& store, metrics::Registry& metrics)
    : impl_(std::make_shared<Impl>(io, store, metrics)) {
  impl_->schedule_expiry();
}

AgentHub::~AgentHub() { stop(); }

void AgentHub::configure(std::shared_ptr<const config::Config> config) {
  auto& impl = *impl_;
  // Agents whose token changed (rotated after a leak) must sign in again with the new one.
  std::set<std::string> rotated;
  if (impl.config) {
    for (const auto& old_agent : impl.config->agents) {
      for (const auto& new_agent : config->agents) {
        if (new_agent.id == old_agent.id && new_agent.token.value != old_agent.token.value) rotated.insert(new_agent.id);
      }
    }
  }
  impl.config = config;
  impl.authority = std::make_unique<api::TokenAuthority>(*config);
  std::vector<screenpop::AgentInfo> agents;
  for (const auto& a : config->agents) agents.push_back({a.id, a.name, a.extensions, a.queues});
  impl.directory = std::make_unique<screenpop::Directory>(agents, config->screen_pop.fallback_agents);
  if (!impl.book) impl.book = std::make_unique<screenpop::PopBook>(10000, config->screen_pop.ring_timeout);
  // Agents removed from the config lose their connections.
  std::vector<AgentConnection*> orphaned;
  std::vector<AgentConnection*> revoked;
  for (const auto& [agent, set] : impl.connections) {
    if (!impl.directory->find(agent)) orphaned.insert(orphaned.end(), set.begin(), set.end());
    else if (rotated.count(agent)) revoked.insert(revoked.end(), set.begin(), set.end());
  }
  for (auto* c : orphaned) c->close(close_bad_token, "agent removed from the configuration");
  for (auto* c : revoked) c->close(close_bad_token, "token changed; sign in again");
  impl.update_gauges();
}

http::WebSocketFactory AgentHub::websocket_factory() {
  std::weak_ptr<Impl> weak = impl_;
  return [weak](const http::Request& upgrade, http::WebSocketOptions& options) -> std::shared_ptr<http::WebSocketSession> {
    auto impl = weak.lock();
    if (!impl || impl->stopped) return nullptr;
    options.max_message_bytes = 64 * 1024;
    std::optional<api::Principal> principal;
    if (const auto* header = upgrade.header("authorization")) {
      principal = impl->authority ? impl->authority->authenticate(*header) : std::nullopt;
      if (!principal) return nullptr;  // 403 before the upgrade: a wrong header token
    }
    return std::make_shared<AgentConnection>(impl, principal);
  };
}

void AgentHub::on_committed(const timeline::Interaction& interaction, const timeline::IngestOutcome& outcome,
                            std::chrono::steady_clock::time_point origin, std::shared_ptr<json> view) {
  if (outcome.duplicate || outcome.customer_id.empty()) return;  // never pop twice; internal calls never pop
  if (screenpop::classify(interaction.channel, interaction.kind) == screenpop::TriggerKind::none) return;
  // Called on the store's writer thread: everything else happens on the io thread.
  asio::post(impl_->io, [impl = impl_, interaction, outcome, origin, view = std::move(view)] {
    impl->prepare(interaction, outcome, origin, view);
  });
}

void AgentHub::Impl::prepare(const timeline::Interaction& interaction, const timeline::IngestOutcome& outcome,
                             std::chrono::steady_clock::time_point origin, const std::shared_ptr<json>& view) {
  if (stopped || !config) return;
  // Triggers are routed strictly in commit order even though their views are read in parallel
  // (two reader threads): a fast ringing -> answered pair must never arrive answered-first.
  const auto sequence = next_sequence++;
  pending.push_back(PendingTrigger{sequence, interaction, outcome, origin, json(), false, false});
  if (view) {  // read in the ingest's transaction
    pending.back().view = std::move(*view);
    pending.back().ready = true;
    return flush();
  }
  if (screenpop::classify(interaction.channel, interaction.kind) == screenpop::TriggerKind::end) {
    pending.back().view = json::object();  // no view needed to end a pop
    pending.back().ready = true;
    return flush();
  }
  timeline::ViewOptions options;
  options.recent_interactions = config->screen_pop.recent_interactions;
  options.crm_url_template = config->screen_pop.crm_url_template;
  options.repeat_contact_window = config->identity.repeat_contact_window;
  options.now_ms = now_ms();
  auto customer = outcome.customer_id;
  std::weak_ptr<Impl> weak = weak_from_this();
  auto complete = [weak, sequence](std::optional<json> view) {
    auto self = weak.lock();
    if (!self) return;
    asio::post(self->io, [self, sequence, view = std::move(view)]() mutable {
      for (auto& p : self->pending) {
        if (p.sequence != sequence) continue;
        p.ready = true;
        p.skip = !view;
        if (view) p.view = std::move(*view);
      }
      self->flush();
    });
  };
  bool queued = store.submit_read<json>(
      [customer, options](store::ReadContext& r) { return timeline::customer_view(r.db(), customer, options); },
      [complete, customer](store::Result<json> r) {
        if (!r.ok()) {
          log::warning("screenpop", "no customer view for ", customer, ": ", r.status().to_string());
          return complete(std::nullopt);
        }
        complete(std::move(*r));
      });
  if (!queued) {
    log::warning("screenpop", "read queue full: pop for ", customer, " dropped");
    pending.back().ready = true;
    pending.back().skip = true;
    flush();
  }
}

void AgentHub::Impl::flush() {
  while (!pending.empty() && pending.front().ready) {
    auto p = std::move(pending.front());
    pending.pop_front();
    if (!p.skip) route(p.interaction, p.outcome, std::move(p.view), p.origin);
  }
}

bool HubChatDesk::send(const std::string& agent_id, const json& message) {
  auto hub = hub_.lock();
  if (!hub) return false;
  auto it = hub->connections.find(agent_id);
  if (it == hub->connections.end()) return false;
  auto frame = std::make_shared<const std::string>(dump(message));
  bool sent = false;
  for (auto* c : std::vector<AgentConnection*>(it->second.begin(), it->second.end())) {
    sent = c->send_frame(http::Frame{frame}) || sent;
  }
  return sent;
}

std::shared_ptr<ChatDesk> AgentHub::chat_desk(const std::string& connector) {
  auto desk = std::make_shared<HubChatDesk>(impl_, connector, ++impl_->next_desk_id);
  impl_->desks.push_back(desk);
  return desk;
}

bool AgentHub::send_to_agent(const std::string& agent_id, std::string text) {
  auto it = impl_->connections.find(agent_id);
  if (it == impl_->connections.end()) return false;
  auto frame = std::make_shared<const std::string>(std::move(text));
  bool sent = false;
  for (auto* c : std::vector<AgentConnection*>(it->second.begin(), it->second.end())) {
    sent = c->send_frame(http::Frame{frame}) || sent;
  }
  return sent;
}

void AgentHub::set_pop_listener(PopListener listener) { impl_->pop_listener = std::move(listener); }

void AgentHub::stop() {
  impl_->stopped = true;
  impl_->expiry.cancel();
}

std::size_t AgentHub::connection_count() const {
  std::size_t n = 0;
  for (const auto& [agent, set] : impl_->connections) n += set.size();
  return n;
}

}  // namespace omnitrail::agents
