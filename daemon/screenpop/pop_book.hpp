// The pops in progress, one per conversation, and the protocol messages their lifecycle produces
// (docs/agent-protocol.md). Pure: no I/O, no clock (callers pass now_ms).
// Thread contract: io thread only; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/screenpop/routing.hpp"

namespace omnitrail::screenpop {

/// One protocol message for every connection of `agent_id`. An agent with no connection (offline)
/// may be named: the hub drops those messages; the pop is replayed by pops_for() in `hello`.
/// Messages to several agents for the same event are equal and adjacent, so the hub may
/// serialise once per run of equal messages.
struct Outgoing {
  std::string agent_id;
  nlohmann::json message;  // {"type":"pop.ringing"|"pop.updated"|"pop.ended","pop":{...}}
};

/// How an interaction kind acts on pops.
enum class TriggerKind {
  ring,    ///< starts a pop, or rings new targets of an existing one
  answer,  ///< an agent took it: on_answered
  end,     ///< the conversation is over: on_ended
  update,  ///< updates an existing pop only, never starts one
  transfer,  ///< the conversation moved to `agent` alone (a chat transfer): on_transferred
  none,    ///< no effect on pops
};

/// Classifies an interaction (docs/agent-protocol.md "Routing details"):
/// ring: phone call.ringing, chat chat.started / chat.assigned, email email.received,
/// sms sms.received; answer: phone call.answered; end: phone call.ended, chat chat.ended, and
/// conversation.ended on any channel; transfer: chat chat.transferred; update: any other kind on
/// phone, chat, email or sms;
/// none: every other channel (api, note ...) or an empty kind. The hub also calls on_ended for
/// an interaction with `ends_conversation` whatever its kind.
TriggerKind classify(std::string_view channel, std::string_view kind) noexcept;

/// The pops in progress, keyed by conversation (pop_key()). A pop has a state (`ringing`,
/// `answered`; ended pops are forgotten), the agents that hold it, and the JSON of
/// docs/agent-protocol.md. Bounded by `max_pops`.
class PopBook {
 public:
  /// `max_pops` (at least 1): creating a pop beyond it first ends the least recently updated
  /// pop with "timeout". `ring_timeout`, `chat_timeout`: see expire().
  explicit PopBook(std::size_t max_pops = 10000,
                   std::chrono::milliseconds ring_timeout = std::chrono::seconds(120),
                   std::chrono::milliseconds chat_timeout = std::chrono::hours(24));

  /// A trigger for the conversation of `t` with its routed `targets` (Directory::targets).
  ///  - no pop yet: a `ring` kind with at least one target creates one (`ringing`) and sends
  ///    pop.ringing to each target; anything else is ignored;
  ///  - a pop exists: its trigger, updated_at and (when not null) customer_view are replaced;
  ///    pop.updated goes to its agents; for a `ring` kind only, targets not holding it yet get
  ///    pop.ringing and join it, and an `answered` pop goes back to `ringing` (a transfer or
  ///    re-queue rings someone else; answered_by keeps the last answerer). Other kinds ignore
  ///    `targets`: an update of a call in progress never pops the queue.
  /// `customer_view` is kept as is; the pop's `links` are customer_view["links"] (or {}).
  std::vector<Outgoing> on_trigger(const Trigger& t, const std::vector<std::string>& targets,
                                   nlohmann::json customer_view, std::int64_t now_ms);

  /// `t.agent` answered: the pop becomes `answered` with answered_by = t.agent; pop.updated to
  /// that agent (who joins if not a holder, and gets a new `answered` pop if there was none),
  /// then pop.ended "answered_elsewhere" to every other holder, who are removed.
  /// An answer without `t.agent` only updates the pop (pop.updated to its holders).
  std::vector<Outgoing> on_answered(const Trigger& t, nlohmann::json customer_view,
                                    std::int64_t now_ms);

  /// `t.agent` took the conversation over (a chat transfer): the pop (created when there is
  /// none) is held by `t.agent` alone and rings there: pop.ringing to `t.agent` (also when it
  /// held the pop already), pop.ended "transferred" to every other holder, who are removed.
  /// State `ringing`, answered_by kept. Without `t.agent` it only updates the pop.
  std::vector<Outgoing> on_transferred(const Trigger& t, nlohmann::json customer_view, std::int64_t now_ms);

  /// The conversation ended: pop.ended "ended" to every holder; the pop is forgotten.
  std::vector<Outgoing> on_ended(const Trigger& t, std::int64_t now_ms);

  /// Ends with "timeout" (pop.ended to its holders, then forgotten) every pop not updated for
  /// more than ring_timeout while `ringing`, or for more than 4 x ring_timeout while `answered`
  /// (calls are long; every event of the conversation refreshes it, call.ended ends it).
  /// Chat pops (trigger channel `chat`) in either state only after `chat_timeout` (at least
  /// ring_timeout): a chat is no ringing phone, and its connector ends it (chat.ended) on its
  /// own idle timeout; this is the safety net for chats whose end never comes.
  /// Oldest first. Call periodically (every few seconds).
  std::vector<Outgoing> expire(std::int64_t now_ms);

  /// The pop objects `agent_id` holds (ringing, or answered by them), oldest first: the `pops`
  /// of `hello` on (re)connect.
  std::vector<nlohmann::json> pops_for(const std::string& agent_id) const;

  /// True when `agent_id` holds the pop `pop_id` (to validate a client's `pop.ack`).
  bool holds(std::string_view agent_id, std::string_view pop_id) const;

  /// True when `agent_id` holds the pop of conversation key `key` (pop_key()).
  bool holds_conversation(std::string_view key, std::string_view agent_id) const;

  /// Pops in progress.
  std::size_t size() const noexcept { return pops_.size(); }

 private:
  enum class State { ringing, answered };
  struct Pop {
    std::string id;
    std::string conversation_id;  // may be empty (keyed by interaction id)
    State state = State::ringing;
    std::int64_t created_ms = 0;
    std::int64_t updated_ms = 0;
    std::uint64_t sequence = 0;  // creation order
    std::string answered_by;
    nlohmann::json trigger;
    nlohmann::json customer_view;
    std::vector<std::string> agents;  // holders, in the order they joined
    bool chat = false;                // trigger channel "chat": expires after chat_timeout
  };
  using AgeKey = std::pair<std::int64_t, std::uint64_t>;  // (updated_ms, sequence)

  Pop& create(const std::string& key, const Trigger& t, nlohmann::json customer_view,
              std::int64_t now_ms, std::vector<Outgoing>& out);
  void touch(Pop& pop, const Trigger& t, nlohmann::json customer_view, std::int64_t now_ms);
  void finish(const std::string& key, std::string_view end_reason, std::int64_t now_ms,
              std::vector<Outgoing>& out);
  static nlohmann::json to_json(const Pop& pop);
  static nlohmann::json message(std::string_view type, nlohmann::json pop);

  std::size_t max_pops_;
  std::int64_t ring_timeout_ms_;
  std::int64_t chat_timeout_ms_;
  std::uint64_t id_salt_;
  std::uint64_t next_sequence_ = 0;
  std::map<std::string, Pop, std::less<>> pops_;        // key -> pop
  std::map<AgeKey, std::string> by_age_;                // least recently updated first -> key
  std::map<std::string, std::string, std::less<>> by_id_;  // pop id -> key
};

}  // namespace omnitrail::screenpop
