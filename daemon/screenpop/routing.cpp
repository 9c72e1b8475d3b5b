// Routing rules: personal targets (ringing extension, assigned agent), else available queue
// members, else connected fallback agents. See routing.hpp for the contract.
#include "daemon/screenpop/routing.hpp"

#include <algorithm>
#include <utility>

namespace omnitrail::screenpop {

std::string_view to_string(Presence presence) noexcept {
  switch (presence) {
    case Presence::available: return "available";
    case Presence::away: return "away";
    case Presence::busy: return "busy";
    case Presence::offline: return "offline";
  }
  return "offline";
}

std::optional<Presence> parse_presence(std::string_view text) noexcept {
  for (const auto presence : {Presence::available, Presence::away, Presence::busy, Presence::offline}) {
    if (to_string(presence) == text) return presence;
  }
  return std::nullopt;
}

const std::string& pop_key(const Trigger& trigger) noexcept {
  return trigger.conversation_id.empty() ? trigger.interaction_id : trigger.conversation_id;
}

Directory::Directory(std::vector<AgentInfo> agents, std::vector<std::string> fallback_agents) {
  agents_.reserve(agents.size());
  for (auto& agent : agents) {
    if (by_id_.count(agent.id) != 0) continue;
    by_id_.emplace(agent.id, agents_.size());
    agents_.push_back(std::move(agent));
  }
  for (std::size_t i = 0; i < agents_.size(); ++i) {
    for (const auto& ext : agents_[i].extensions) {
      auto& indexes = by_extension_[ext];
      // An agent listing the same extension twice must not pop twice.
      if (std::find(indexes.begin(), indexes.end(), i) == indexes.end()) indexes.push_back(i);
    }
  }
  for (auto& id : fallback_agents) {
    if (by_id_.count(id) == 0) continue;
    if (std::find(fallback_.begin(), fallback_.end(), id) != fallback_.end()) continue;
    fallback_.push_back(std::move(id));
  }
}

const AgentInfo* Directory::find(std::string_view id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &agents_[it->second];
}

const AgentInfo* Directory::by_extension(std::string_view ext) const {
  const auto it = by_extension_.find(ext);
  return it == by_extension_.end() || it->second.empty() ? nullptr : &agents_[it->second.front()];
}

std::vector<std::string> Directory::targets(
    const Trigger& trigger, const std::function<Presence(const std::string&)>& presence_of) const {
  std::vector<std::string> out;
  const auto add = [&out](const std::string& id) {
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  };
  const auto add_extension = [&](std::string_view ext) {
    if (const auto it = by_extension_.find(ext); it != by_extension_.end()) {
      for (const auto index : it->second) add(agents_[index].id);
    }
  };

  // Personal: the agent's own phone rings, or the contact was assigned to them. Presence does
  // not filter these (the protocol's "own extension" exception; an assignment is as personal).
  for (const auto& ext : trigger.extensions) add_extension(ext);
  if (trigger.channel == "phone" && !trigger.to.empty()) add_extension(trigger.to);
  if (!trigger.agent.empty()) {
    if (const auto* agent = find(trigger.agent)) add(agent->id);
  }

  if (out.empty() && !trigger.queue.empty()) {
    for (const auto& agent : agents_) {
      const bool member = std::find(agent.queues.begin(), agent.queues.end(), trigger.queue) != agent.queues.end();
      if (member && presence_of(agent.id) == Presence::available) add(agent.id);
    }
  }

  // Nobody connected to see it now (nobody found, or every personal target offline): the
  // fallback agents who are connected. Offline personal targets stay for the replay.
  const bool someone_connected = std::any_of(
      out.begin(), out.end(), [&](const std::string& id) { return presence_of(id) != Presence::offline; });
  if (!someone_connected) {
    for (const auto& id : fallback_) {
      if (presence_of(id) != Presence::offline) add(id);
    }
  }
  return out;
}

std::string Directory::least_busy(std::string_view queue,
                                  const std::function<Presence(const std::string&)>& presence_of,
                                  const std::function<int(const std::string&)>& load_of, int max_chats,
                                  std::string_view exclude) const {
  const AgentInfo* best = nullptr;
  int best_load = 0;
  for (const auto& agent : agents_) {
    if (agent.id == exclude) continue;
    if (!queue.empty() && std::find(agent.queues.begin(), agent.queues.end(), queue) == agent.queues.end()) continue;
    if (presence_of(agent.id) != Presence::available) continue;
    const int load = load_of(agent.id);
    if (max_chats > 0 && load >= max_chats) continue;
    if (!best || load < best_load) {  // strictly fewer: ties keep the earlier agent (config order)
      best = &agent;
      best_load = load;
    }
  }
  return best ? best->id : std::string();
}

}  // namespace omnitrail::screenpop
