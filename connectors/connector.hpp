// The seam between the channel-blind core and one channel connector (see DESIGN.md).
// Connectors are created from their validated config block by a registered factory, run on the
// shared io_context and report their health for /readyz and /metrics.
// Thread contract: every method is called on the io thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <chrono>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "daemon/config/config.hpp"
#include "daemon/http/router.hpp"
#include "daemon/timeline/interaction.hpp"

namespace boost::asio {
class io_context;
}
namespace omnitrail::metrics {
class Registry;
}
namespace omnitrail::util {
class BlockingPool;
}
namespace omnitrail::agents {
class ChatDesk;
}

namespace omnitrail::connectors {

/// What /readyz and /metrics show for a connector.
struct Health {
  enum class State { starting, up, degraded, down, stopped };
  State state = State::starting;
  std::string last_error;  // human text, never a secret
};

const char* to_string(Health::State state);

/// The result of ingesting one interaction: committed (durable, deduplicated) or an error.
struct IngestResult {
  bool committed = false;
  bool duplicate = false;     // already stored earlier (same source + external_id)
  std::string interaction_id;
  std::string customer_id;
  std::string conversation_id;  // public id (v_...) when the interaction has a conversation_key
  std::string error;          // when not committed; safe to log
  bool retryable = false;     // the store was busy or stopping: try again later
};

/// Hands one interaction to the core: store (identity resolution, one commit) then screen-pop.
/// Call on the io thread; `done` runs later on the io thread. A connector acknowledges its peer
/// (or advances its checkpoint) only after `done` says committed. Returns false when the store
/// queue is full (back-pressure: retry later, do not acknowledge).
using IngestFunction = std::function<bool(timeline::Interaction, std::chrono::steady_clock::time_point received_at,
                                          std::function<void(IngestResult)> done)>;

/// One connector checkpoint (an IMAP folder's UIDVALIDITY:UID, a poll cursor): a value under a
/// key of the connector's own (table connector_state; the connector's name is added by the core,
/// so a connector only ever sees its own checkpoints).
struct Checkpoint {
  std::string key;
  std::string value;
};

/// Like IngestFunction, and writes `checkpoint` in the SAME store transaction as the interaction
/// (also when the interaction turns out to be a duplicate): the checkpoint can never run ahead of
/// the data, nor the data ahead of the checkpoint. `done` runs on the io thread.
using CheckpointedIngestFunction =
    std::function<bool(timeline::Interaction, Checkpoint, std::chrono::steady_clock::time_point received_at,
                       std::function<void(IngestResult)> done)>;

/// Writes checkpoints alone, for progress past input that yields no interaction (a message the
/// parser refuses). `done` (io thread) says committed or the error. Returns false when the store
/// queue is full.
using CheckpointSaveFunction = std::function<bool(std::vector<Checkpoint>, std::function<void(IngestResult)> done)>;

/// Reads the connector's checkpoints `keys` off the io thread; `done` (io thread) gets the ones
/// that exist, or a non-empty error. Returns false when the store queue is full.
using CheckpointLoadFunction =
    std::function<bool(std::vector<std::string> keys,
                       std::function<void(std::map<std::string, std::string> values, std::string error)> done)>;

/// A delivery report from the provider (Kannel DLR, Twilio status callback) about a message this
/// connector sent: it updates that message's status on the timeline (metadata.delivery) and in
/// GET /api/v1/messages/{id}. The message is found by `message_id` (our m_... id, when the
/// provider echoes it back, e.g. in a dlr-url) or else by `provider_id` (the id send() reported),
/// among this connector's messages only. `status`: "sent" (accepted by the network), "delivered"
/// or "failed" (with `error`, the provider's reason, no secrets). A report for an unknown message
/// is counted and dropped (IngestResult.error says so); a report never moves a message backwards
/// (delivered/failed are final). `done` runs on the io thread.
struct DeliveryReport {
  std::string message_id;
  std::string provider_id;
  std::string status;
  std::string error;
  std::int64_t occurred_at_ms = 0;
};
using DeliveryReportFunction = std::function<bool(DeliveryReport, std::function<void(IngestResult)> done)>;

/// Reads one of the connector's conversations back from the timeline (a chat resumed after a
/// restart), off the io thread: `done` (io thread) gets timeline::conversation_transcript()'s
/// document for (this connector, `conversation_key`) with at most `limit` interactions, or a
/// non-empty error. Returns false when the store's read queue is full.
using ConversationLoadFunction = std::function<bool(std::string conversation_key, int limit,
                                                    std::function<void(nlohmann::json transcript, std::string error)> done)>;

/// What the core lends a connector; connectors only ever see this narrow view.
struct Context {
  boost::asio::io_context& io;
  metrics::Registry& metrics;
  IngestFunction ingest;
  std::shared_ptr<const config::Config> config;  // the whole config (agents' extensions, identity)
  // Checkpoints committed with ingests (polling connectors: IMAP). Empty in builds/tests that
  // do not provide them; a connector that needs them refuses to start without.
  CheckpointedIngestFunction ingest_with_checkpoint = {};
  CheckpointSaveFunction save_checkpoints = {};
  CheckpointLoadFunction load_checkpoints = {};
  // For CPU-heavy work that must not run on the io thread (MIME parsing). May be null.
  util::BlockingPool* blocking = nullptr;
  // Delivery reports of sent messages (SMS connectors). Empty in builds/tests without outbound.
  DeliveryReportFunction report_delivery = {};
  // Live chats (web chat): the agent hub's desk for this connector (daemon/agents/chat_desk.hpp):
  // assignment to agents, chat.* messages to and from them. Null without an agent hub.
  std::shared_ptr<agents::ChatDesk> chat_desk = {};
  // Conversations read back from the timeline. Empty in builds/tests without a store.
  ConversationLoadFunction load_conversation = {};
};

/// An outbound message (an agent's reply by email / SMS / chat) on its way through the durable
/// outbox (docs/messages.md). The core fills the first block from POST /api/v1/messages, asks the
/// connector to prepare() it (io thread, synchronous), then commits in ONE transaction the
/// outbound interaction (kind "<channel>.sent", external_id, conversation_key, from, subject and
/// metadata as prepared) and the outbox row holding this whole value. The dispatcher later hands
/// the same value, read back from the outbox, to send(): a send after a restart sees exactly what
/// was prepared, so ids derived from `id` (an email's Message-ID) stay the same on every attempt.
struct OutboundMessage {
  // --- set by the core ---
  std::string id;           ///< public id "m_<16 hex>": unique, stable; the idempotency key
  std::string channel;      ///< email | sms | chat (the connector's outbound_channel())
  std::string connector;    ///< the connector's name (the interaction's source)
  std::string customer_id;  ///< the customer the agent wrote to (public id)
  std::string agent;        ///< agent id (or "admin" / "api") who wrote it
  std::string to;           ///< recipient as given, or the parent's sender; prepare() normalises
  std::string subject;      ///< email: may be empty (prepare derives "Re: ..." from the parent)
  std::string text;         ///< UTF-8, non-empty, bounded by the API
  std::int64_t created_at_ms = 0;
  /// The interaction replied to, as GET /api/v1/interactions/{id} shows it (external_id, from,
  /// to, subject, metadata, conversation_id ...), or null for a new conversation.
  nlohmann::json parent;
  // --- set by prepare() ---
  std::string from;              ///< our address / number used to send
  std::string external_id;       ///< the interaction's external_id (unique within the connector)
  std::string conversation_key;  ///< the thread / number pair / chat session it belongs to
  std::string kind;              ///< the interaction's kind; empty: "<channel>.sent"
  nlohmann::json metadata = nlohmann::json::object();  ///< channel data kept on the interaction
  // --- set by the dispatcher for send() ---
  int attempt = 0;  ///< 1 for the first attempt
};

/// The outcome of one send() attempt.
struct SendResult {
  enum class Outcome {
    sent,    ///< the provider accepted it (SMTP 250, HTTP 2xx): final unless a delivery report follows
    retry,   ///< temporary (connection refused, timeout, SMTP 4xx, HTTP 5xx / 429): try again later
    failed,  ///< permanent (SMTP 5xx, HTTP 4xx, recipient refused): never retried automatically
  };
  Outcome outcome = Outcome::retry;
  std::string provider_id;  ///< the provider's id (Twilio SID, Kannel id, Message-ID); may be empty
  int provider_code = 0;    ///< SMTP reply code or HTTP status, 0 when none
  std::string error;        ///< short reason for retry / failed, never a secret
};

/// Click-to-call: ring the agent's own device, then dial the customer's number.
struct CallRequest {
  std::string agent_id;
  std::string extension;  // the agent's device/extension
  std::string number;     // E.164, already normalised
};
/// Progress of a CallRequest: "queued" (the PBX accepted it), "answered" (the agent picked up and
/// the customer is being dialled), or "failed" with a reason. The last report is answered/failed.
struct CallProgress {
  std::string state;
  std::string reason;
};

class Connector {
 public:
  virtual ~Connector() = default;
  /// Starts connecting / listening. Must not block.
  virtual void start() = 0;
  /// Graceful stop: finish or hand back in-flight work, then call `done` (exactly once, on the
  /// io thread). The service forces its own deadline on top.
  virtual void stop(std::function<void()> done) = 0;
  virtual Health health() const = 0;
  /// Adds the connector's HTTP endpoints (webhooks) to the router being built. Handlers run on
  /// the io thread. Default: none.
  virtual void add_routes(http::Router& router) { (void)router; }
  /// Places a click-to-call. Returns false when this connector cannot (not a phone connector, or
  /// its link is down); otherwise `progress` is called (io thread) until answered or failed.
  virtual bool place_call(const CallRequest& request, std::function<void(CallProgress)> progress) {
    (void)request;
    (void)progress;
    return false;
  }
  /// The channel this connector sends messages on ("email", "sms", "chat"), or "" when it sends
  /// none (the default). Only connectors with a channel get prepare() and send().
  virtual std::string outbound_channel() const { return {}; }
  /// Validates and completes a message before it is queued: normalises `to` (refusing what this
  /// channel cannot reach), sets from, external_id, conversation_key, subject and metadata.
  /// Returns "" when the message can be queued, else a message for the API client (400), naming
  /// the field, never a secret. Synchronous, cheap, io thread; must not do I/O.
  virtual std::string prepare(OutboundMessage& message) {
    (void)message;
    return "this connector does not send messages";
  }
  /// Sends one prepared message (one attempt). `done` is called exactly once, on the io thread,
  /// never inline; after stop() began it may report retry ("stopping"). The connector bounds
  /// every attempt with its own timeouts.
  virtual void send(const OutboundMessage& message, std::function<void(SendResult)> done) {
    (void)message;
    SendResult r;
    r.outcome = SendResult::Outcome::failed;
    r.error = "this connector does not send messages";
    done(std::move(r));
  }
};

/// Builds a connector from its validated block. Returns null (with `error` set) when it can't.
using Factory = std::function<std::unique_ptr<Connector>(const config::ConnectorConfig&, Context&, std::string& error)>;

/// Registers the factory of a connector type (called from register_all()). Any thread, before start.
void register_factory(const std::string& type, Factory factory);
/// The factory for `type`, or null.
const Factory* find_factory(const std::string& type);

}  // namespace omnitrail::connectors
