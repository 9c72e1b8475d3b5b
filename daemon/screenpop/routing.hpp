// Screen-pop routing: which agents get a pop for a contact (docs/agent-protocol.md, "Routing" and
// "Routing details"). Pure: no I/O. Directory is immutable (any thread); the hub calls it from
// the io thread and rebuilds it on config reload.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <map>
#include <vector>

namespace omnitrail::screenpop {

/// An agent's presence. `offline` means no connection at all (the hub's view), the others are
/// what the agent set (`presence` message).
enum class Presence { available, away, busy, offline };

/// "available", "away", "busy", "offline".
std::string_view to_string(Presence presence) noexcept;

/// Inverse of to_string(Presence); exact, case-sensitive. nullopt for any other text.
std::optional<Presence> parse_presence(std::string_view text) noexcept;

/// One configured agent (from config::AgentConfig, without the token).
struct AgentInfo {
  std::string id, name;
  std::vector<std::string> extensions, queues;
};

/// What may pop: built by the hub from a committed interaction.
struct Trigger {
  std::string channel, kind;            // "phone", "call.ringing" ...
  std::string conversation_id;          // public v_...; the pop key (fallback: interaction_id)
  std::string interaction_id, customer_id, from, to;
  std::int64_t at_ms = 0;               // when it happened (interaction.occurred_at_ms)
  std::string agent;                    // assigned / answering agent (interaction.agent)
  std::vector<std::string> extensions;  // ringing extensions (metadata.extension(s)), extracted
  std::string queue;                    // metadata.queue, or the connector's queue
};

/// The key a trigger's pop is filed under: conversation_id, or interaction_id when empty.
const std::string& pop_key(const Trigger& trigger) noexcept;

/// The agents and the fallback list, indexed for routing. Immutable once built.
class Directory {
 public:
  /// Agents in config order (that order makes routing deterministic). Duplicate ids keep the
  /// first; fallback ids that name no agent are dropped (nobody could hold their pop).
  Directory(std::vector<AgentInfo> agents, std::vector<std::string> fallback_agents);

  /// The agent `id`, or nullptr.
  const AgentInfo* find(std::string_view id) const;

  /// The first agent (config order) that has extension `ext`, or nullptr.
  const AgentInfo* by_extension(std::string_view ext) const;

  const std::vector<AgentInfo>& agents() const noexcept { return agents_; }
  const std::vector<std::string>& fallback_agents() const noexcept { return fallback_; }

  /// Which agents should hold the pop of `trigger` (docs/agent-protocol.md "Routing details"):
  ///  - personal: phone -> every agent whose extension rings (`extensions`, and `to` when it is an
  ///    agent's extension); chat/email/sms -> the assigned agent (`agent`) when it is known.
  ///    Personal targets are kept whatever their presence, offline included (their pop is
  ///    recorded and replayed in `hello` when they connect while it is in progress);
  ///  - else the members of `queue` whose presence is `available`;
  ///  - when none of those is connected (every target offline, or none at all): the fallback
  ///    agents who are connected (any presence but offline), appended.
  /// No duplicates. Order: personal in the order of `extensions` then `to` (each extension's
  /// agents in config order), queue members in config order, fallback in config order.
  /// `presence_of` is called only for known agent ids.
  std::vector<std::string> targets(const Trigger& trigger,
                                   const std::function<Presence(const std::string&)>& presence_of) const;

  /// The agent a new chat goes to (docs/agent-protocol.md "Chat assignment"): among the members
  /// of `queue` (every agent when `queue` is empty) who are `available`, hold fewer than
  /// `max_chats` chats (`load_of`; max_chats <= 0: no limit) and are not `exclude`, the one with
  /// the fewest chats; ties go to config order. "" when nobody qualifies. Pure.
  std::string least_busy(std::string_view queue, const std::function<Presence(const std::string&)>& presence_of,
                         const std::function<int(const std::string&)>& load_of, int max_chats,
                         std::string_view exclude = {}) const;

 private:
  std::vector<AgentInfo> agents_;
  std::vector<std::string> fallback_;
  std::map<std::string, std::size_t, std::less<>> by_id_;                      // id -> index
  std::map<std::string, std::vector<std::size_t>, std::less<>> by_extension_;  // ext -> indexes
};

}  // namespace omnitrail::screenpop
