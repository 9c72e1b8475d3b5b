// webchat: the visitor WebSocket sessions, the chats they belong to, and the connector glue to
// the core (ingest, ChatDesk, outbound messages). Everything the visitor is told "stored" comes
// after the commit; everything refused before that is an error frame or a closed connection,
// never a silent drop. The pure parts (protocol, token, identity check, limits, origins,
// transcript) live in their own files and are unit-tested and fuzzed.
#include "connectors/webchat/webchat_connector.hpp"

#include <openssl/rand.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/webchat/chat_transcript.hpp"
#include "connectors/webchat/identity_verification.hpp"
#include "connectors/webchat/origin_policy.hpp"
#include "connectors/webchat/rate_limiter.hpp"
#include "connectors/webchat/visitor_protocol.hpp"
#include "connectors/webchat/visitor_token.hpp"
#include "connectors/webchat/webchat_settings.hpp"
#include "daemon/agents/chat_desk.hpp"
#include "daemon/config/connector_registry.hpp"
#include "daemon/http/router.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/util/log.hpp"
#include "daemon/web/web_assets.hpp"

namespace omnitrail::connectors::webchat {
namespace asio = boost::asio;
using nlohmann::json;

namespace {

// Close codes of the visitor protocol (README.md).
constexpr int kCloseMalformed = 1007;
constexpr int kClosePolicy = 1008;
constexpr int kCloseGoingAway = 1001;
constexpr int kCloseIdentity = 4003;
constexpr int kCloseRateLimited = 4029;
constexpr auto kHelloTimeout = std::chrono::seconds(10);
constexpr auto kSweepInterval = std::chrono::seconds(2);
constexpr std::size_t kMaxSessionsPerChat = 10;
constexpr int kMaxRefusedFrames = 20;  // rate-limited frames in a row before the connection is closed
constexpr std::int64_t kTypingIntervalMs = 2000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// `prefix` + 32 lower-case hex digits from the system's CSPRNG.
std::string random_id(const char* prefix) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(prefix);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

// "1.2.3.4:5678" -> "1.2.3.4", "[::1]:5678" -> "::1".
std::string address_of(const std::string& remote) {
  if (!remote.empty() && remote.front() == '[') {
    auto close = remote.find(']');
    return close == std::string::npos ? remote : remote.substr(1, close - 1);
  }
  auto colon = remote.rfind(':');
  return colon == std::string::npos ? remote : remote.substr(0, colon);
}

class VisitorSession;

// One chat: a visitor's conversation with (at most) one agent at a time.
struct Chat {
  enum class State { starting, open, ending };
  std::string key;              // conversation_key on the timeline: chat_<hex>
  std::string visitor_id;
  std::string conversation_id;  // v_... once chat.started is committed
  std::string customer_id;
  std::string agent;            // assigned agent, "" while waiting
  std::string verified_user;    // the chat_user id when the visitor's identity was verified
  State state = State::starting;
  ChatTranscript transcript;
  std::set<std::string> in_flight;   // visitor message ids being ingested
  std::set<std::string> delivered;   // agent message ids the visitor confirmed
  struct Queued {
    std::string id, text;
    std::int64_t at_ms;
  };
  std::vector<Queued> queued;        // messages waiting for chat.started to commit
  std::set<VisitorSession*> sessions;
  std::int64_t last_activity_ms = 0;
  std::int64_t agent_gone_since_ms = 0;  // the assigned agent has no connection since then
  std::int64_t visitor_typing_ms = 0;  // last chat.typing sent to the agent
  std::int64_t agent_typing_ms = 0;    // last typing frame sent to the visitor
  int sequence = 0;                  // for unique external ids of assignment events

  explicit Chat(std::size_t history) : transcript(history) {}
};

struct Shared;

// One visitor WebSocket connection.
class VisitorSession : public http::WebSocketSession, public std::enable_shared_from_this<VisitorSession> {
 public:
  VisitorSession(std::shared_ptr<Shared> shared, std::string address, std::string origin);
  ~VisitorSession() override;

  void on_open(std::shared_ptr<http::WebSocket> socket) override;
  void on_message(std::string text) override;
  void on_close(int code, const std::string& reason) override;

  void send(const json& frame);
  void close(int code, const std::string& reason) {
    if (socket_) socket_->close(code, reason);
  }
  bool open() const { return socket_ && socket_->is_open(); }

  const std::string& visitor_id() const { return visitor_id_; }
  void detach_chat() { chat_key_.clear(); }
  const std::string& chat_key() const { return chat_key_; }

 private:
  friend struct Shared;
  void on_hello(const VisitorMessage& m);
  void welcome(Chat* chat);
  void on_chat_message(const VisitorMessage& m);
  void error(const std::string& code, const std::string& message, const std::string& id = {});

  std::shared_ptr<Shared> shared_;
  std::string address_;
  std::string origin_;
  std::shared_ptr<http::WebSocket> socket_;
  asio::steady_timer hello_timer_;
  bool counted_ = true;  // holds a slot in the rate limiter and the visitor count
  bool greeted_ = false;
  bool waiting_for_restore_ = false;
  int refused_in_a_row_ = 0;
  std::string visitor_id_;
  std::string chat_key_;
  std::string page_;
  IdentityCheck identity_check_ = IdentityCheck::anonymous;
  IdentityClaim identity_;
  FormInput form_;
};

// The connector's state, shared by the connector object, its sessions and its callbacks.
struct Shared : std::enable_shared_from_this<Shared> {
  Shared(const config::ConnectorConfig& c, Context& context, const WebchatSettings& s)
      : io(context.io),
        metrics(context.metrics),
        ingest(context.ingest),
        load_conversation(context.load_conversation),
        report_delivery(context.report_delivery),
        desk(context.chat_desk),
        name(c.name),
        queue(c.queue),
        region(c.region),
        settings(s),
        origins(s.allowed_origins),
        limiter(s.rate_limits),
        sweep_timer(context.io),
        visitors_gauge(context.metrics.gauge("omnitrail_webchat_visitors", "Visitor WebSocket connections open.",
                                             {{"connector", c.name}})),
        chats_gauge(context.metrics.gauge("omnitrail_webchat_chats", "Chats in progress.", {{"connector", c.name}})) {
    token_secret = s.token_secret.value;
    if (token_secret.empty()) {
      token_secret = random_id("k");
      log::warning("webchat", name, ": no token_secret configured: visitor tokens are signed with a key of this run "
                                    "only, so visitors cannot resume their chats after a restart");
    }
    limits.max_text_bytes = s.max_text_bytes;
  }

  asio::io_context& io;
  metrics::Registry& metrics;
  IngestFunction ingest;
  ConversationLoadFunction load_conversation;
  DeliveryReportFunction report_delivery;
  std::shared_ptr<agents::ChatDesk> desk;
  std::string name;
  std::string queue;
  std::string region;
  WebchatSettings settings;
  std::string token_secret;
  ProtocolLimits limits;
  OriginPolicy origins;
  RateLimiter limiter;
  asio::steady_timer sweep_timer;
  metrics::Gauge& visitors_gauge;
  metrics::Gauge& chats_gauge;
  Health health;
  bool stopped = false;
  std::int64_t visitors = 0;
  std::set<VisitorSession*> sessions;                            // every open visitor connection
  std::map<std::string, std::unique_ptr<Chat>> chats;            // by chat key
  std::map<std::string, std::string> chat_by_conversation;       // v_... -> chat key
  std::map<std::string, std::vector<std::weak_ptr<VisitorSession>>> restoring;  // chat key -> waiting sessions

  void count(const std::string& name_, const std::string& help, const metrics::Labels& labels) {
    metrics::Labels all = labels;
    all.emplace_back("connector", name);
    metrics.counter(name_, help, all).inc();
  }
  void refused(const std::string& reason) {
    count("omnitrail_webchat_refused_total", "Visitor connections and frames refused, by reason.", {{"reason", reason}});
  }

  Chat* find_chat(const std::string& key) {
    auto it = chats.find(key);
    return it == chats.end() ? nullptr : it->second.get();
  }
  Chat* find_by_conversation(const std::string& conversation_id) {
    auto it = chat_by_conversation.find(conversation_id);
    return it == chat_by_conversation.end() ? nullptr : find_chat(it->second);
  }

  std::string sign(const std::string& visitor_id, const std::string& chat_key) const {
    VisitorToken token{visitor_id, chat_key, now_ms() / 1000};
    return sign_token(token_secret, name, token);
  }

  bool agents_available() const { return desk && desk->available(queue, settings.max_chats_per_agent); }

  std::string agent_name(const std::string& agent) const {
    if (agent.empty() || !desk) return {};
    auto n = desk->agent_name(agent);
    return n.empty() ? agent : n;
  }

  json chat_status(const Chat& chat) const {
    json status{{"id", chat.key},
                {"state", chat.agent.empty() ? "waiting" : "assigned"},
                {"agent", chat.agent.empty() ? json(nullptr) : json{{"name", agent_name(chat.agent)}}},
                {"agents_available", !chat.agent.empty() || agents_available()}};
    return status;
  }

  void broadcast(Chat& chat, const json& frame, VisitorSession* except = nullptr) {
    for (auto* s : std::vector<VisitorSession*>(chat.sessions.begin(), chat.sessions.end())) {
      if (s != except) s->send(frame);
    }
  }

  void to_agent(const Chat& chat, const json& message) {
    if (desk && !chat.agent.empty()) desk->send(chat.agent, message);
  }

  void update_gauges() {
    visitors_gauge.set(static_cast<double>(visitors));
    chats_gauge.set(static_cast<double>(chats.size()));
  }

  // ---- chat lifecycle ---------------------------------------------------------------------

  // Builds the interaction of one chat event.
  timeline::Interaction event(const Chat& chat, const std::string& kind, const std::string& external_id) const {
    timeline::Interaction in;
    in.channel = "chat";
    in.direction = "inbound";
    in.kind = kind;
    in.occurred_at_ms = now_ms();
    in.source = name;
    in.external_id = external_id;
    in.conversation_key = chat.key;
    in.from = chat.visitor_id;
    in.agent = chat.agent;
    in.customer_id = chat.customer_id;
    in.region = region;
    return in;
  }

  // The first message of a visitor with no chat: a new chat, assigned (least busy available
  // agent of the queue) or waiting, and chat.started on the timeline. Its messages wait for
  // that commit (they attach to its customer).
  Chat* start_chat(VisitorSession& session, const FormInput& form, const IdentityClaim& claim, IdentityCheck check,
                   const std::string& page) {
    auto owned = std::make_unique<Chat>(static_cast<std::size_t>(settings.history_limit));
    Chat* chat = owned.get();
    chat->key = random_id("chat_");
    chat->visitor_id = session.visitor_id();
    chat->last_activity_ms = now_ms();
    if (check == IdentityCheck::verified && !claim.user_id.empty()) chat->verified_user = claim.user_id;
    if (desk) chat->agent = desk->assign(chat->key, queue, settings.max_chats_per_agent);
    chats.emplace(chat->key, std::move(owned));
    update_gauges();

    auto in = event(*chat, "chat.started", "started:" + chat->key);
    in.customer_id.clear();
    using identity::IdentifierKind;
    using identity::Trust;
    in.customer_identifiers.push_back({IdentifierKind::visitor, chat->visitor_id, Trust::claimed});
    const Trust trust = check == IdentityCheck::verified ? Trust::verified : Trust::claimed;
    if (check == IdentityCheck::verified || check == IdentityCheck::claimed) {
      // Only a verified login is a tier-A chat user; an unsigned id identifies nobody.
      if (!claim.user_id.empty() && trust == Trust::verified) {
        in.customer_identifiers.push_back({IdentifierKind::chat_user, claim.user_id, trust});
      }
      if (!claim.email.empty()) in.customer_identifiers.push_back({IdentifierKind::email, claim.email, trust});
      if (!claim.phone.empty()) in.customer_identifiers.push_back({IdentifierKind::phone, claim.phone, trust});
      in.customer_display_name = claim.name;
    }
    if (!form.email.empty() && form.email != claim.email) {
      in.customer_identifiers.push_back({IdentifierKind::email, form.email, Trust::claimed});
    }
    if (!form.phone.empty() && form.phone != claim.phone) {
      in.customer_identifiers.push_back({IdentifierKind::phone, form.phone, Trust::claimed});
    }
    if (in.customer_display_name.empty()) in.customer_display_name = form.name;
    json metadata{{"visitor_id", chat->visitor_id}, {"identity", std::string(to_string(check))}};
    // The queue only with an agent: a waiting chat must not pop the queue's agents who are at
    // their max_chats (routing pops every available member of metadata.queue); the fallback
    // agents get it instead.
    if (!queue.empty() && !chat->agent.empty()) metadata["queue"] = queue;
    if (!page.empty()) metadata["page"] = page;
    if (!chat->verified_user.empty()) metadata["verified_user"] = chat->verified_user;
    json form_json = json::object();
    if (!form.name.empty()) form_json["name"] = form.name;
    if (!form.email.empty()) form_json["email"] = form.email;
    if (!form.phone.empty()) form_json["phone"] = form.phone;
    if (!form_json.empty()) metadata["form"] = form_json;
    if (chat->agent.empty()) metadata["waiting"] = true;
    in.metadata_json = dump(metadata);
    in.text = chat->agent.empty() ? "Chat started; no agent available" : "Chat started";

    const std::string key = chat->key;
    std::weak_ptr<Shared> weak = weak_from_this();
    bool queued = ingest && ingest(std::move(in), std::chrono::steady_clock::now(), [weak, key](IngestResult r) {
                    if (auto self = weak.lock()) self->on_started(key, r);
                  });
    if (!queued) {
      drop_chat(key);
      return nullptr;
    }
    count("omnitrail_webchat_chats_total", "Chats started, by whether an agent was assigned at once.",
          {{"assigned", chat->agent.empty() ? "false" : "true"}});
    return chat;
  }

  void on_started(const std::string& key, const IngestResult& r) {
    Chat* chat = find_chat(key);
    if (!chat) return;
    if (!r.committed) {
      log::warning("webchat", name, ": chat.started for ", key, " not stored: ", r.error);
      for (const auto& q : chat->queued) {
        broadcast(*chat, json{{"type", "error"}, {"code", r.retryable ? "retry" : "refused"},
                              {"message", "the message could not be stored; it will be sent again"}, {"id", q.id}});
      }
      for (auto* s : chat->sessions) s->detach_chat();
      drop_chat(key);
      return;
    }
    chat->state = Chat::State::open;
    chat->customer_id = r.customer_id;
    chat->conversation_id = r.conversation_id;
    if (!chat->conversation_id.empty()) chat_by_conversation[chat->conversation_id] = key;
    // The visitor's token now names the chat, so a reload resumes it.
    const auto token = sign(chat->visitor_id, key);
    for (auto* s : std::vector<VisitorSession*>(chat->sessions.begin(), chat->sessions.end())) {
      s->send(json{{"type", "token"}, {"token", token}});
      s->send(json{{"type", "status"}, {"chat", chat_status(*chat)}});
    }
    auto queued = std::move(chat->queued);
    chat->queued.clear();
    for (auto& q : queued) submit_message(*chat, q.id, q.text, q.at_ms);
  }

  // One visitor message onto the timeline; acknowledged (ack + message to every tab of the
  // visitor, chat.message to the agent) only after its commit.
  void submit_message(Chat& chat, const std::string& id, const std::string& text, std::int64_t at_ms) {
    if (chat.transcript.contains(id)) {  // a resend of a stored message: it is stored
      broadcast(chat, json{{"type", "ack"}, {"id", id}, {"duplicate", true}});
      return;
    }
    if (chat.in_flight.count(id)) return;  // its commit will acknowledge it to every tab
    if (chat.state == Chat::State::starting) {
      for (const auto& q : chat.queued) {
        if (q.id == id) return;
      }
      chat.queued.push_back({id, text, at_ms});
      return;
    }
    // Scoped by visitor, not chat: a resend that lands in another chat of the same visitor (its
    // page reloaded before the first chat's start committed) is still the same message.
    auto in = event(chat, "chat.message", "msg:" + chat.visitor_id + ":" + id);
    in.occurred_at_ms = at_ms;
    in.text = text;
    in.metadata_json = dump(json{{"message_id", id}});
    chat.in_flight.insert(id);
    chat.last_activity_ms = now_ms();
    const std::string key = chat.key;
    std::weak_ptr<Shared> weak = weak_from_this();
    bool queued = ingest && ingest(std::move(in), std::chrono::steady_clock::now(), [weak, key, id, text, at_ms](IngestResult r) {
                    if (auto self = weak.lock()) self->on_message_stored(key, id, text, at_ms, r);
                  });
    if (!queued) {
      chat.in_flight.erase(id);
      broadcast(chat, json{{"type", "error"}, {"code", "busy"}, {"message", "the server is busy; the message will be sent again"},
                           {"id", id}});
    }
  }

  void on_message_stored(const std::string& key, const std::string& id, const std::string& text, std::int64_t at_ms,
                         const IngestResult& r) {
    Chat* chat = find_chat(key);
    if (!chat) return;
    chat->in_flight.erase(id);
    if (!r.committed) {
      log::warning("webchat", name, ": message ", id, " of ", key, " not stored: ", r.error);
      broadcast(*chat, json{{"type", "error"}, {"code", r.retryable ? "retry" : "refused"},
                            {"message", r.retryable ? "the message could not be stored yet; it will be sent again"
                                                    : "the message was refused"},
                            {"id", id}});
      return;
    }
    ChatLine line{id, "visitor", {}, {}, text, at_ms};
    const bool added = chat->transcript.add(line);
    broadcast(*chat, json{{"type", "ack"}, {"id", id}, {"duplicate", r.duplicate}});
    if (!added) return;
    count("omnitrail_webchat_messages_total", "Chat messages, by direction.", {{"direction", "inbound"}});
    broadcast(*chat, json{{"type", "message"}, {"message", visitor_json(line)}});
    to_agent(*chat, json{{"type", "chat.message"}, {"chat_id", chat->conversation_id}, {"message", agent_json(line)}});
  }

  // chat.ended on the timeline, then the chat is forgotten (a visitor's next message starts a new one).
  void end_chat(Chat& chat, const std::string& reason) {
    if (chat.state == Chat::State::ending) return;
    if (chat.state == Chat::State::starting) {  // nothing stored yet to end
      for (auto* s : chat.sessions) {
        s->send(json{{"type", "ended"}, {"reason", reason}});
        s->detach_chat();
      }
      drop_chat(chat.key);
      return;
    }
    chat.state = Chat::State::ending;
    auto in = event(chat, "chat.ended", "ended:" + chat.key);
    in.ends_conversation = true;
    in.metadata_json = dump(json{{"reason", reason}});
    in.text = reason == "visitor" ? "Chat ended by the visitor" : reason == "agent" ? "Chat ended by the agent" : "Chat ended (idle)";
    const std::string key = chat.key;
    std::weak_ptr<Shared> weak = weak_from_this();
    auto finish = [weak, key, reason](IngestResult r) {
      auto self = weak.lock();
      if (!self) return;
      Chat* c = self->find_chat(key);
      if (!c) return;
      if (!r.committed && r.retryable) {
        c->state = Chat::State::open;  // the sweep tries again
        return;
      }
      self->finish_chat(*c, reason);
    };
    if (!(ingest && ingest(std::move(in), std::chrono::steady_clock::now(), finish))) chat.state = Chat::State::open;
  }

  void finish_chat(Chat& chat, const std::string& reason) {
    count("omnitrail_webchat_chats_ended_total", "Chats ended, by reason.", {{"reason", reason}});
    to_agent(chat, json{{"type", "chat.ended"}, {"chat_id", chat.conversation_id}, {"reason", reason}});
    const auto token = sign(chat.visitor_id, {});
    for (auto* s : std::vector<VisitorSession*>(chat.sessions.begin(), chat.sessions.end())) {
      s->send(json{{"type", "ended"}, {"reason", reason}});
      s->send(json{{"type", "token"}, {"token", token}});
      s->detach_chat();
    }
    drop_chat(chat.key);
  }

  void drop_chat(const std::string& key) {
    auto it = chats.find(key);
    if (it == chats.end()) return;
    if (desk) desk->release(key);
    if (!it->second->conversation_id.empty()) chat_by_conversation.erase(it->second->conversation_id);
    chats.erase(it);
    update_gauges();
  }

  // The chat now belongs to `agent` (a waiting chat picked up, or a transfer): kind chat.assigned
  // or chat.transferred on the timeline, which pops that agent (and ends the previous agent's pop).
  void reassign(Chat& chat, const std::string& agent, const std::string& kind, const std::string& from_agent) {
    chat.agent = agent;
    auto in = event(chat, kind, kind + ":" + chat.key + ":" + std::to_string(++chat.sequence) + ":" + random_id(""));
    json metadata{{"queue", queue}};
    if (!from_agent.empty()) metadata["from_agent"] = from_agent;
    in.metadata_json = dump(metadata);
    in.text = kind == "chat.transferred" ? "Chat transferred to " + agent_name(agent) : "Chat assigned to " + agent_name(agent);
    if (ingest) {
      std::weak_ptr<Shared> weak = weak_from_this();
      std::string key = chat.key;
      (void)ingest(std::move(in), std::chrono::steady_clock::now(), [weak, key](IngestResult r) {
        auto self = weak.lock();
        if (!self || r.committed) return;
        log::warning("webchat", self->name, ": assignment of ", key, " not stored: ", r.error);
      });
    }
    send_history(chat, agent, [this, &agent](const json& m) { desk->send(agent, m); });
    broadcast(chat, json{{"type", "status"}, {"chat", chat_status(chat)}});
  }

  void send_history(const Chat& chat, const std::string& agent, const std::function<void(const json&)>& send) {
    (void)agent;
    if (chat.conversation_id.empty()) return;
    json messages = json::array();
    for (const auto& line : chat.transcript.lines()) {
      auto m = agent_json(line);
      if (line.from == "agent") m["delivered"] = chat.delivered.count(line.id) != 0;
      messages.push_back(std::move(m));
    }
    send(json{{"type", "chat.history"},
              {"chat_id", chat.conversation_id},
              {"customer_id", chat.customer_id},
              {"messages", std::move(messages)},
              {"truncated", chat.transcript.truncated()}});
  }

  // ---- periodic work ------------------------------------------------------------------------

  void schedule_sweep() {
    sweep_timer.expires_after(kSweepInterval);
    std::weak_ptr<Shared> weak = weak_from_this();
    sweep_timer.async_wait([weak](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopped) return;
      self->sweep();
      self->schedule_sweep();
    });
  }

  // Idle chats end; waiting chats whose visitor is still here get an agent who became available;
  // chats whose agent has been gone (no connection) for reassign_after move to another agent.
  void sweep() {
    const auto now = now_ms();
    const auto idle = static_cast<std::int64_t>(settings.idle_timeout.count());
    const auto grace = static_cast<std::int64_t>(settings.reassign_after.count());
    std::vector<std::string> to_end;
    std::vector<std::string> to_assign;
    std::vector<std::string> to_move;
    for (auto& [key, chat] : chats) {
      if (chat->state != Chat::State::open) continue;
      if (now - chat->last_activity_ms > idle) {
        to_end.push_back(key);
      } else if (chat->agent.empty() && !chat->sessions.empty()) {
        to_assign.push_back(key);
      } else if (!chat->agent.empty() && desk && !desk->connected(chat->agent)) {
        if (chat->agent_gone_since_ms == 0) chat->agent_gone_since_ms = now;
        if (grace > 0 && now - chat->agent_gone_since_ms >= grace && !chat->sessions.empty()) to_move.push_back(key);
      } else {
        chat->agent_gone_since_ms = 0;
      }
    }
    for (const auto& key : to_move) {
      Chat* chat = find_chat(key);
      if (!chat) continue;
      const std::string previous = chat->agent;
      auto agent = desk->assign(key, queue, settings.max_chats_per_agent, previous);
      if (agent.empty()) {
        (void)desk->assign_to(key, previous);  // nobody else: it stays theirs
        continue;
      }
      chat->agent_gone_since_ms = 0;
      log::info("webchat", name, ": chat ", key, " moved from ", previous, " (gone) to ", agent);
      reassign(*chat, agent, "chat.transferred", previous);
    }
    for (const auto& key : to_end) {
      if (Chat* chat = find_chat(key)) end_chat(*chat, "idle");
    }
    for (const auto& key : to_assign) {
      Chat* chat = find_chat(key);
      if (!chat || !desk) continue;
      auto agent = desk->assign(key, queue, settings.max_chats_per_agent);
      if (!agent.empty()) reassign(*chat, agent, "chat.assigned", {});
    }
  }

  // ---- agents' commands ---------------------------------------------------------------------

  agents::ChatReply on_command(const agents::ChatCommand& command) {
    using Type = agents::ChatCommand::Type;
    Chat* chat = find_by_conversation(command.chat_id);
    if (!chat) return agents::ChatReply::not_mine();
    if (chat->state != Chat::State::open) return agents::ChatReply::error("chat_ended", "the chat has ended");
    if (chat->agent != command.agent_id) {
      return agents::ChatReply::error("not_assigned", "chat " + command.chat_id + " is not assigned to you");
    }
    switch (command.type) {
      case Type::typing: {
        const auto now = now_ms();
        if (now - chat->agent_typing_ms >= kTypingIntervalMs / 2) {
          chat->agent_typing_ms = now;
          broadcast(*chat, json{{"type", "typing"}, {"from", "agent"}, {"name", agent_name(chat->agent)}});
        }
        return agents::ChatReply::ok();
      }
      case Type::end:
        end_chat(*chat, "agent");
        return agents::ChatReply::ok();
      case Type::transfer: {
        if (command.to_agent == chat->agent) return agents::ChatReply::error("invalid_argument", "to_agent: the chat is already yours");
        if (!desk->connected(command.to_agent)) {
          return agents::ChatReply::error("agent_unavailable", "to_agent: " + command.to_agent.substr(0, 64) +
                                                                   " is not a connected agent");
        }
        if (!desk->assign_to(chat->key, command.to_agent)) {
          return agents::ChatReply::error("invalid_argument", "to_agent: no such agent");
        }
        const std::string previous = chat->agent;
        reassign(*chat, command.to_agent, "chat.transferred", previous);
        return agents::ChatReply::ok();
      }
      case Type::send:
        // Replies are durable outbound messages: the core queues them (outbox) and calls send().
        return agents::ChatReply::error(
            "use_messages_api",
            "send chat replies with POST /api/v1/messages {\"customer_id\", \"channel\": \"chat\", \"to\": chat_id, \"text\"}");
    }
    return agents::ChatReply::error("invalid_message", "unknown chat command");
  }

  void on_agent_connected(const std::string& agent, const std::function<void(const json&)>& send) {
    for (auto& [key, chat] : chats) {
      if (chat->agent == agent && chat->state == Chat::State::open) send_history(*chat, agent, send);
    }
  }

  // ---- outbound -----------------------------------------------------------------------------

  // Which chat a reply goes to: the chat of the interaction replied to (in_reply_to), else `to`
  // as a chat id (v_...), chat key or visitor id, else the customer's most recently active chat.
  std::string prepare(OutboundMessage& m) {
    Chat* chat = nullptr;
    std::string key;
    if (m.parent.is_object() && m.parent.value("source", std::string()) == name) {
      key = m.parent.value("conversation_key", std::string());
      if (key.empty()) {
        if (auto c = find_by_conversation(m.parent.value("conversation_id", std::string()))) key = c->key;
      }
      if (key.empty()) return "in_reply_to: the interaction belongs to no chat";
      chat = find_chat(key);
      // Not in memory (the daemon restarted since): the reply is stored and the visitor gets it
      // when it comes back (the chat is read back from the timeline).
      if (!chat && !valid_generated_id(key, "chat_")) return "in_reply_to: the interaction belongs to no chat";
    } else if (m.parent.is_object()) {
      return "in_reply_to: not a message of connector " + name;
    }
    if (key.empty() && !m.to.empty()) {
      chat = find_by_conversation(m.to);
      if (!chat) chat = find_chat(m.to);
      if (!chat) {
        for (auto& [k, c] : chats) {
          if (c->visitor_id == m.to && c->state == Chat::State::open) chat = c.get();
        }
      }
      if (chat) {
        if (!m.customer_id.empty() && !chat->customer_id.empty() && chat->customer_id != m.customer_id) {
          return "to: that chat belongs to another customer";
        }
        key = chat->key;
      }
    }
    if (key.empty()) {
      for (auto& [k, c] : chats) {
        if (c->state != Chat::State::open || c->customer_id.empty() || c->customer_id != m.customer_id) continue;
        if (!chat || c->last_activity_ms > chat->last_activity_ms) chat = c.get();
      }
      if (!chat) return "to: the customer has no open chat on connector " + name + " (give the chat_id, or in_reply_to)";
      key = chat->key;
    }
    if (chat && chat->state != Chat::State::open) return "the chat has ended";
    m.conversation_key = key;
    m.external_id = m.id;
    m.from = m.agent;
    m.to = chat ? chat->visitor_id : std::string();
    m.kind = "chat.message";
    m.metadata = json{{"message_id", m.id}};
    if (chat && !chat->conversation_id.empty()) m.metadata["chat_id"] = chat->conversation_id;
    return {};
  }

  void send(const OutboundMessage& m, std::function<void(SendResult)> done) {
    SendResult result;
    Chat* chat = find_chat(m.conversation_key);
    if (stopped) {
      result.outcome = SendResult::Outcome::retry;
      result.error = "stopping";
    } else if (chat && chat->state != Chat::State::open) {
      result.outcome = SendResult::Outcome::failed;
      result.error = "the chat ended before the message could be shown";
    } else {
      result.outcome = SendResult::Outcome::sent;
      result.provider_id = m.id;
      if (chat) {
        ChatLine line{m.id, "agent", m.agent, agent_name(m.agent), m.text, m.created_at_ms > 0 ? m.created_at_ms : now_ms()};
        chat->last_activity_ms = now_ms();
        if (chat->transcript.add(line)) {
          count("omnitrail_webchat_messages_total", "Chat messages, by direction.", {{"direction", "outbound"}});
          broadcast(*chat, json{{"type", "message"}, {"message", visitor_json(line)}});
          const json frame{{"type", "chat.message"}, {"chat_id", chat->conversation_id}, {"message", agent_json(line)}};
          to_agent(*chat, frame);
          if (!m.agent.empty() && m.agent != chat->agent && desk) desk->send(m.agent, frame);
        }
      }
    }
    asio::post(io, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
  }

  // The visitor confirmed it displayed agent messages: delivery reports for the outbox, and
  // chat.delivered for the agent's ticks.
  void on_received(Chat& chat, const std::vector<std::string>& ids) {
    json confirmed = json::array();
    for (const auto& id : ids) {
      const ChatLine* line = chat.transcript.find(id);
      if (!line || line->from != "agent" || chat.delivered.count(id)) continue;
      chat.delivered.insert(id);
      confirmed.push_back(id);
      if (report_delivery) {
        DeliveryReport report;
        report.message_id = id;
        report.provider_id = id;
        report.status = "delivered";
        report.occurred_at_ms = now_ms();
        (void)report_delivery(report, [](IngestResult) {});
      }
    }
    if (!confirmed.empty()) {
      to_agent(chat, json{{"type", "chat.delivered"}, {"chat_id", chat.conversation_id}, {"message_ids", confirmed}});
    }
  }

  // ---- resume after a restart -----------------------------------------------------------------

  // A visitor's token names a chat this run does not know: read it back from the timeline. The
  // sessions waiting for it get their welcome when it is read.
  void restore(const std::string& key, const std::string& visitor_id, const std::shared_ptr<VisitorSession>& session) {
    auto& waiting = restoring[key];
    waiting.push_back(session);
    if (waiting.size() > 1) return;  // already being read
    std::weak_ptr<Shared> weak = weak_from_this();
    auto done = [weak, key, visitor_id](json transcript, std::string error) {
      if (auto self = weak.lock()) self->on_restored(key, visitor_id, std::move(transcript), error);
    };
    if (!load_conversation || !load_conversation(key, settings.history_limit, done)) {
      asio::post(io, [done] { done(json(), "the store is busy"); });
    }
  }

  void on_restored(const std::string& key, const std::string& visitor_id, json transcript, const std::string& error) {
    auto waiting = std::move(restoring[key]);
    restoring.erase(key);
    Chat* chat = find_chat(key);
    if (!chat && error.empty() && transcript.is_object() && transcript["conversation_id"].is_string() &&
        !transcript.value("ended", false) && chats.size() < static_cast<std::size_t>(settings.max_visitors)) {
      chat = rebuild(key, visitor_id, transcript);
    }
    if (!error.empty()) log::warning("webchat", name, ": chat ", key, " could not be read back: ", error);
    for (auto& weak : waiting) {
      if (auto s = weak.lock(); s && s->open()) s->welcome(chat && chat->visitor_id == s->visitor_id() ? chat : nullptr);
    }
  }

  Chat* rebuild(const std::string& key, const std::string& visitor_id, const json& transcript) {
    auto owned = std::make_unique<Chat>(static_cast<std::size_t>(settings.history_limit));
    Chat* chat = owned.get();
    chat->key = key;
    chat->conversation_id = transcript["conversation_id"].get<std::string>();
    chat->customer_id = transcript.value("customer_id", json()).is_string() ? transcript["customer_id"].get<std::string>() : "";
    chat->state = Chat::State::open;
    std::string previous_agent;
    std::string stored_visitor;
    std::int64_t last = 0;
    const auto string_of = [](const json& item, const char* key) {
      auto it = item.find(key);
      return it != item.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    const auto items = transcript.find("items");
    for (const auto& item : items != transcript.end() && items->is_array() ? *items : json::array()) {
      if (!item.is_object()) continue;
      const auto kind = string_of(item, "kind");
      const auto meta_it = item.find("metadata");
      const json metadata = meta_it != item.end() && meta_it->is_object() ? *meta_it : json::object();
      // Times are RFC 3339 (timeline::format_time); the order of items is what matters.
      const std::int64_t at = parse_rfc3339_ms(string_of(item, "occurred_at"));
      last = std::max(last, at);
      const auto agent = string_of(item, "agent");
      if (!agent.empty() && (kind == "chat.started" || kind == "chat.assigned" || kind == "chat.transferred")) {
        previous_agent = agent;
      }
      if (kind == "chat.started") {
        stored_visitor = string_of(metadata, "visitor_id");
        chat->verified_user = string_of(metadata, "verified_user");
      } else if (kind == "chat.message") {
        const bool outbound = string_of(item, "direction") == "outbound";
        ChatLine line;
        line.id = string_of(metadata, "message_id");
        if (line.id.empty()) line.id = string_of(item, "external_id");
        line.from = outbound ? "agent" : "visitor";
        if (outbound) {
          line.agent_id = agent;
          line.agent_name = agent_name(agent);
        }
        line.text = string_of(item, "text");
        line.at_ms = at;
        if (!line.id.empty()) chat->transcript.add(std::move(line));
      }
    }
    if (stored_visitor.empty() || stored_visitor != visitor_id) return nullptr;  // not this visitor's chat
    chat->visitor_id = visitor_id;
    chat->last_activity_ms = std::max(last, now_ms() - static_cast<std::int64_t>(settings.idle_timeout.count()) / 2);
    chats.emplace(key, std::move(owned));
    chat_by_conversation[chat->conversation_id] = key;
    update_gauges();
    // Back to its agent when they can take it, else the least busy one; either way a pop.
    std::string agent;
    if (desk && !previous_agent.empty() && desk->connected(previous_agent) && desk->assign_to(key, previous_agent)) {
      agent = previous_agent;
    } else if (desk) {
      agent = desk->assign(key, queue, settings.max_chats_per_agent);
    }
    if (!agent.empty()) reassign(*chat, agent, "chat.assigned", {});
    log::info("webchat", name, ": chat ", key, " resumed from the timeline (", chat->transcript.size(), " messages)");
    return chat;
  }

  static std::int64_t parse_rfc3339_ms(const std::string& text) {
    // "2026-11-24T13:00:00.000Z" as written by timeline::format_time.
    if (text.size() < 24) return 0;
    std::tm tm{};
    try {
      tm.tm_year = std::stoi(text.substr(0, 4)) - 1900;
      tm.tm_mon = std::stoi(text.substr(5, 2)) - 1;
      tm.tm_mday = std::stoi(text.substr(8, 2));
      tm.tm_hour = std::stoi(text.substr(11, 2));
      tm.tm_min = std::stoi(text.substr(14, 2));
      tm.tm_sec = std::stoi(text.substr(17, 2));
      const int ms = std::stoi(text.substr(20, 3));
      return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
    } catch (...) {
      return 0;
    }
  }
};

// ---- VisitorSession -------------------------------------------------------------------------------

VisitorSession::VisitorSession(std::shared_ptr<Shared> shared, std::string address, std::string origin)
    : shared_(std::move(shared)), address_(std::move(address)), origin_(std::move(origin)), hello_timer_(shared_->io) {
  shared_->sessions.insert(this);
  ++shared_->visitors;
  shared_->update_gauges();
}

VisitorSession::~VisitorSession() {
  shared_->sessions.erase(this);
  if (Chat* chat = shared_->find_chat(chat_key_)) chat->sessions.erase(this);
  if (counted_) {
    shared_->limiter.close(address_, now_ms());
    --shared_->visitors;
    shared_->update_gauges();
  }
}

void VisitorSession::on_open(std::shared_ptr<http::WebSocket> socket) {
  socket_ = std::move(socket);
  hello_timer_.expires_after(kHelloTimeout);
  std::weak_ptr<VisitorSession> weak = weak_from_this();
  hello_timer_.async_wait([weak](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->greeted_) return;
    self->shared_->refused("hello_timeout");
    self->close(kClosePolicy, "no hello within 10 seconds");
  });
}

void VisitorSession::on_close(int, const std::string&) {
  hello_timer_.cancel();
  if (Chat* chat = shared_->find_chat(chat_key_)) chat->sessions.erase(this);
  chat_key_.clear();
  shared_->sessions.erase(this);
  if (counted_) {
    counted_ = false;
    shared_->limiter.close(address_, now_ms());
    --shared_->visitors;
    shared_->update_gauges();
  }
  socket_.reset();
}

void VisitorSession::send(const json& frame) {
  if (socket_ && socket_->is_open()) socket_->send(http::Frame{std::make_shared<const std::string>(dump(frame))});
}

void VisitorSession::error(const std::string& code, const std::string& message, const std::string& id) {
  json frame{{"type", "error"}, {"code", code}, {"message", message}};
  if (!id.empty()) frame["id"] = id;
  send(frame);
}

void VisitorSession::on_message(std::string text) {
  if (!socket_ || !socket_->is_open()) return;
  std::string problem;
  auto m = parse_visitor_message(text, shared_->limits, problem);
  if (!m) {
    shared_->refused("malformed");
    log::info("webchat", shared_->name, ": closed a visitor connection from ", address_, ": malformed frame: ", problem);
    return close(kCloseMalformed, "malformed frame: " + problem.substr(0, 100));
  }
  using Type = VisitorMessage::Type;
  if (!greeted_) {
    if (m->type != Type::hello) {
      shared_->refused("no_hello");
      return close(kClosePolicy, "send hello first");
    }
    return on_hello(*m);
  }
  if (m->type == Type::hello) return close(kClosePolicy, "hello was already sent");
  if (m->type == Type::ping) return send(json{{"type", "pong"}});
  std::int64_t retry_after = 0;
  if (!shared_->limiter.frame(address_, now_ms(), retry_after)) {
    shared_->refused("rate_limited");
    if (++refused_in_a_row_ >= kMaxRefusedFrames) return close(kCloseRateLimited, "rate limit exceeded");
    json frame{{"type", "error"}, {"code", "rate_limited"}, {"message", "too many messages; slow down"},
               {"retry_after_ms", retry_after}};
    if (m->type == Type::message) frame["id"] = m->id;
    return send(frame);
  }
  refused_in_a_row_ = 0;
  if (waiting_for_restore_) return error("not_ready", "the conversation is being loaded; send again after welcome", m->id);
  Chat* chat = shared_->find_chat(chat_key_);
  switch (m->type) {
    case Type::form:
      if (chat) return error("chat_started", "the form is sent before the chat starts");
      form_ = m->form;
      return send(json{{"type", "ack"}, {"id", "form"}});
    case Type::message:
      return on_chat_message(*m);
    case Type::typing:
      if (chat && chat->state == Chat::State::open) {
        const auto now = now_ms();
        if (now - chat->visitor_typing_ms >= kTypingIntervalMs) {
          chat->visitor_typing_ms = now;
          shared_->to_agent(*chat, json{{"type", "chat.typing"}, {"chat_id", chat->conversation_id}, {"from", "visitor"}});
        }
      }
      return;
    case Type::received:
      if (chat) shared_->on_received(*chat, m->ids);
      return;
    case Type::end:
      if (chat) shared_->end_chat(*chat, "visitor");
      return;
    case Type::hello:
    case Type::ping:
      return;
  }
}

void VisitorSession::on_hello(const VisitorMessage& m) {
  greeted_ = true;
  hello_timer_.cancel();
  identity_ = m.identity;
  page_ = m.page;
  identity_check_ = verify_identity(shared_->settings.identity_secret.value, identity_);
  if (identity_check_ == IdentityCheck::forged || identity_check_ == IdentityCheck::not_configured) {
    // Refused, never downgraded: a forged identity must not reach the identity resolver.
    shared_->refused(identity_check_ == IdentityCheck::forged ? "identity_forged" : "identity_not_configured");
    log::warning("webchat", shared_->name, ": refused a visitor from ", address_, " (origin ", origin_,
                 "): identity ", to_string(identity_check_));
    error("identity_refused", identity_check_ == IdentityCheck::forged
                                  ? "the identity could not be verified (user_hash does not match)"
                                  : "identity verification is not configured for this chat");
    return close(kCloseIdentity, "identity verification failed");
  }
  VisitorToken token;
  const auto check = m.token.empty() ? TokenCheck::malformed
                                     : verify_token(shared_->token_secret, shared_->name, m.token, now_ms() / 1000,
                                                    std::chrono::duration_cast<std::chrono::seconds>(shared_->settings.token_ttl).count(),
                                                    token);
  if (!m.token.empty() && check != TokenCheck::ok) {
    shared_->refused(check == TokenCheck::bad_signature ? "token_signature" : check == TokenCheck::expired ? "token_expired" : "token_malformed");
    log::info("webchat", shared_->name, ": visitor from ", address_, " presented an unusable token; starting afresh");
  }
  if (check == TokenCheck::ok) {
    visitor_id_ = token.visitor_id;
  } else {
    visitor_id_ = random_id("vis_");
    token.chat_key.clear();
  }
  if (token.chat_key.empty()) return welcome(nullptr);
  Chat* chat = shared_->find_chat(token.chat_key);
  if (chat) return welcome(chat->visitor_id == visitor_id_ ? chat : nullptr);
  waiting_for_restore_ = true;
  shared_->restore(token.chat_key, visitor_id_, shared_from_this());
}

void VisitorSession::welcome(Chat* chat) {
  waiting_for_restore_ = false;
  // A signed-in user of the site must not see a chat started by someone else on this browser
  // (a shared computer), nor an anonymous visitor a signed-in user's chat.
  if (chat) {
    const std::string user = identity_check_ == IdentityCheck::verified ? identity_.user_id : std::string();
    // (an anonymous visitor who signs in on the site later starts a new, verified chat)
    if (user != chat->verified_user) {
      chat = nullptr;
      visitor_id_ = random_id("vis_");
    }
  }
  if (chat && chat->sessions.size() >= kMaxSessionsPerChat) {
    shared_->refused("too_many_tabs");
    return close(kClosePolicy, "too many windows open on this chat");
  }
  json messages = json::array();
  json chat_json = nullptr;
  if (chat) {
    chat->sessions.insert(this);
    chat_key_ = chat->key;
    for (const auto& line : chat->transcript.lines()) messages.push_back(visitor_json(line));
    chat_json = shared_->chat_status(*chat);
  }
  const auto& s = shared_->settings;
  json form = nullptr;
  if (!s.form_fields.empty() && identity_check_ != IdentityCheck::verified) {
    form = json{{"fields", s.form_fields}, {"required", s.form_required}};
  }
  send(json{{"type", "welcome"},
            {"protocol", 1},
            {"visitor_id", visitor_id_},
            {"token", shared_->sign(visitor_id_, chat ? chat->key : std::string())},
            {"chat", chat_json},
            {"messages", std::move(messages)},
            {"agents_available", shared_->agents_available()},
            {"form", form},
            {"identity", std::string(to_string(identity_check_))},
            {"texts", {{"title", s.title}, {"greeting", s.greeting}, {"offline", s.offline_message}}},
            {"limits", {{"max_text_bytes", s.max_text_bytes}}}});
}

void VisitorSession::on_chat_message(const VisitorMessage& m) {
  Chat* chat = shared_->find_chat(chat_key_);
  if (chat && chat->state == Chat::State::ending) return error("chat_ended", "the chat is ending", m.id);
  if (!chat) {
    const auto& s = shared_->settings;
    if (identity_check_ != IdentityCheck::verified) {
      for (const auto& field : s.form_required) {
        const std::string& value = field == "name" ? form_.name : field == "email" ? form_.email : form_.phone;
        if (value.empty()) return error("form_required", "fill in the form first (" + field + " is required)", m.id);
      }
    }
    if (shared_->chats.size() >= static_cast<std::size_t>(s.max_visitors)) {
      shared_->refused("too_many_chats");
      return error("busy", "too many chats in progress; try again later", m.id);
    }
    chat = shared_->start_chat(*this, form_, identity_, identity_check_, page_);
    if (!chat) return error("busy", "the server is busy; the message will be sent again", m.id);
    chat->sessions.insert(this);
    chat_key_ = chat->key;
  }
  shared_->submit_message(*chat, m.id, m.text, now_ms());
}

// ---- the connector ---------------------------------------------------------------------------------

class WebchatConnector : public Connector {
 public:
  explicit WebchatConnector(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  ~WebchatConnector() override {
    if (shared_->desk) shared_->desk->set_handlers({});
  }

  void start() override {
    shared_->stopped = false;
    if (shared_->desk) {
      std::weak_ptr<Shared> weak = shared_;
      agents::ChatDesk::Handlers handlers;
      handlers.command = [weak](const agents::ChatCommand& command) {
        auto self = weak.lock();
        return self ? self->on_command(command) : agents::ChatReply::not_mine();
      };
      handlers.agent_connected = [weak](const std::string& agent, const std::function<void(const json&)>& send) {
        if (auto self = weak.lock()) self->on_agent_connected(agent, send);
      };
      shared_->desk->set_handlers(std::move(handlers));
    } else {
      log::warning("webchat", shared_->name, ": no agent hub: chats are stored but no agent is assigned");
    }
    shared_->schedule_sweep();
    shared_->health.state = Health::State::up;
    log::info("webchat", shared_->name, ": visitors at /webchat/", shared_->name, "/ws, widget at /webchat/",
              shared_->name, "/widget.js");
  }

  void stop(std::function<void()> done) override {
    // Chats stay open on the timeline: visitors resume them (read back from the store) when
    // the connector or the daemon is back.
    shared_->stopped = true;
    shared_->sweep_timer.cancel();
    shared_->health.state = Health::State::stopped;
    for (auto* s : std::vector<VisitorSession*>(shared_->sessions.begin(), shared_->sessions.end())) {
      s->close(kCloseGoingAway, "chat service restarting");
    }
    if (shared_->desk) shared_->desk->set_handlers({});
    asio::post(shared_->io, std::move(done));
  }

  Health health() const override { return shared_->health; }

  void add_routes(http::Router& router) override {
    const std::string base = "/webchat/" + shared_->name;
    std::weak_ptr<Shared> weak = shared_;
    router.add("GET", base + "/widget.js", [](http::Request&&, http::Respond respond) {
      for (const auto& asset : web::assets()) {
        if (asset.name != "widget/widget.js") continue;
        auto r = http::Response::text(200, std::string(asset.content), "text/javascript; charset=utf-8");
        r.headers.emplace_back("Cache-Control", "public, max-age=300");
        r.headers.emplace_back("Cross-Origin-Resource-Policy", "cross-origin");
        r.headers.emplace_back("X-Content-Type-Options", "nosniff");
        return respond(std::move(r));
      }
      respond(http::Response::error(404, "not_found", "the widget is not in this build"));
    });
    router.add_websocket(base + "/ws", [weak](const http::Request& upgrade, http::WebSocketOptions& options)
                                           -> std::shared_ptr<http::WebSocketSession> {
      auto self = weak.lock();
      if (!self || self->stopped) return nullptr;
      const std::string* origin = upgrade.header("origin");
      const std::string address = address_of(upgrade.remote_address);
      if (!origin || !self->origins.allows(*origin)) {
        self->refused("origin");
        log::info("webchat", self->name, ": refused a visitor connection from ", address, ": origin ",
                  origin ? origin->substr(0, 100) : std::string("(none)"), " is not allowed");
        return nullptr;
      }
      if (self->visitors >= self->settings.max_visitors) {
        self->refused("too_many_visitors");
        return nullptr;
      }
      const auto verdict = self->limiter.open(address, now_ms());
      if (verdict != RateLimiter::Verdict::allowed) {
        self->refused(std::string(to_string(verdict)));
        log::info("webchat", self->name, ": refused a visitor connection from ", address, ": ", to_string(verdict));
        return nullptr;
      }
      options.max_message_bytes = self->settings.max_frame_bytes;
      options.max_queue_messages = 128;
      options.max_queue_bytes = 1024 * 1024;
      options.heartbeat = std::chrono::seconds(20);
      return std::make_shared<VisitorSession>(self, address, *origin);
    });
  }

  std::string outbound_channel() const override { return "chat"; }
  std::string prepare(OutboundMessage& message) override { return shared_->prepare(message); }
  void send(const OutboundMessage& message, std::function<void(SendResult)> done) override {
    shared_->send(message, std::move(done));
  }

 private:
  std::shared_ptr<Shared> shared_;
};

std::unique_ptr<Connector> make_webchat(const config::ConnectorConfig& c, Context& context, std::string& error) {
  const auto* settings = dynamic_cast<const WebchatSettings*>(c.settings.get());
  if (!settings) {
    error = "invalid settings";
    return nullptr;
  }
  auto shared = std::make_shared<Shared>(c, context, *settings);
  return std::make_unique<WebchatConnector>(std::move(shared));
}

}  // namespace

void register_webchat() {
  config::register_connector_type("webchat", validate_webchat);
  register_factory("webchat", make_webchat);
}

}  // namespace omnitrail::connectors::webchat
