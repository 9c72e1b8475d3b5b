// Pop lifecycle: create on ring, update in place, answer (others end "answered_elsewhere"),
// end, time out, evict the least recently updated beyond the bound. See pop_book.hpp.
#include "daemon/screenpop/pop_book.hpp"

#include <algorithm>
#include <limits>
#include <random>

#include "daemon/timeline/queries.hpp"

namespace omnitrail::screenpop {

using nlohmann::json;

namespace {

// A bijection on 64 bits (splitmix64 finaliser): distinct sequences give distinct ids.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string hex16(std::uint64_t value) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) out[static_cast<std::size_t>(i)] = digits[value & 0xf];
  return out;
}

json string_or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

json trigger_json(const Trigger& t) {
  return json{{"channel", t.channel},
              {"kind", t.kind},
              {"conversation_id", string_or_null(t.conversation_id)},
              {"from", t.from},
              {"to", t.to},
              {"at", timeline::format_time(t.at_ms)},
              {"interaction_id", t.interaction_id}};
}

}  // namespace

TriggerKind classify(std::string_view channel, std::string_view kind) noexcept {
  if (kind.empty()) return TriggerKind::none;
  const bool pop_channel = channel == "phone" || channel == "chat" || channel == "email" || channel == "sms";
  if (kind == "conversation.ended") return TriggerKind::end;
  if (!pop_channel) return TriggerKind::none;
  if (channel == "phone") {
    if (kind == "call.ringing") return TriggerKind::ring;
    if (kind == "call.answered") return TriggerKind::answer;
    if (kind == "call.ended") return TriggerKind::end;
  } else if (channel == "chat") {
    if (kind == "chat.started" || kind == "chat.assigned") return TriggerKind::ring;
    if (kind == "chat.ended") return TriggerKind::end;
    if (kind == "chat.transferred") return TriggerKind::transfer;
  } else if (channel == "email") {
    if (kind == "email.received") return TriggerKind::ring;
  } else if (channel == "sms") {
    if (kind == "sms.received") return TriggerKind::ring;
  }
  return TriggerKind::update;
}

PopBook::PopBook(std::size_t max_pops, std::chrono::milliseconds ring_timeout, std::chrono::milliseconds chat_timeout)
    : max_pops_(std::max<std::size_t>(max_pops, 1)),
      ring_timeout_ms_(std::max<std::int64_t>(ring_timeout.count(), 0)),
      chat_timeout_ms_(std::max<std::int64_t>(chat_timeout.count(), ring_timeout_ms_)),
      id_salt_((static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()) {}

// One message for several agents: copies for all but the last, which takes it (a pop usually
// goes to one agent, and its customer view is the bulk of the message).
static void append_for(const std::vector<std::string>& agents, json msg, std::vector<Outgoing>& out) {
  for (std::size_t i = 0; i < agents.size(); ++i) {
    if (i + 1 == agents.size()) {
      out.push_back({agents[i], std::move(msg)});
    } else {
      out.push_back({agents[i], msg});
    }
  }
}

json PopBook::message(std::string_view type, json pop) {
  return json{{"type", type}, {"pop", std::move(pop)}};
}

json PopBook::to_json(const Pop& pop) {
  json links = json::object();
  if (pop.customer_view.is_object()) {
    if (const auto it = pop.customer_view.find("links"); it != pop.customer_view.end() && it->is_object()) {
      links = *it;
    }
  }
  return json{{"id", pop.id},
              {"state", pop.state == State::ringing ? "ringing" : "answered"},
              {"conversation_id", string_or_null(pop.conversation_id)},
              {"created_at", timeline::format_time(pop.created_ms)},
              {"updated_at", timeline::format_time(pop.updated_ms)},
              {"answered_by", string_or_null(pop.answered_by)},
              {"end_reason", nullptr},
              {"trigger", pop.trigger},
              {"customer_view", pop.customer_view},
              {"links", std::move(links)}};
}

PopBook::Pop& PopBook::create(const std::string& key, const Trigger& t, json customer_view,
                              std::int64_t now_ms, std::vector<Outgoing>& out) {
  while (pops_.size() >= max_pops_ && !by_age_.empty()) {
    finish(by_age_.begin()->second, "timeout", now_ms, out);
  }
  Pop pop;
  pop.sequence = next_sequence_++;
  pop.id = "p_" + hex16(mix(id_salt_ ^ mix(pop.sequence)));
  pop.conversation_id = t.conversation_id;
  pop.created_ms = now_ms;
  pop.updated_ms = now_ms;
  pop.trigger = trigger_json(t);
  pop.chat = t.channel == "chat";
  pop.customer_view = customer_view.is_null() ? json::object() : std::move(customer_view);
  by_age_.emplace(AgeKey{pop.updated_ms, pop.sequence}, key);
  by_id_.emplace(pop.id, key);
  return pops_.emplace(key, std::move(pop)).first->second;
}

void PopBook::touch(Pop& pop, const Trigger& t, json customer_view, std::int64_t now_ms) {
  by_age_.erase(AgeKey{pop.updated_ms, pop.sequence});
  pop.updated_ms = now_ms;
  by_age_.emplace(AgeKey{pop.updated_ms, pop.sequence}, pop_key(t));
  pop.trigger = trigger_json(t);
  if (!customer_view.is_null()) pop.customer_view = std::move(customer_view);
}

void PopBook::finish(const std::string& key, std::string_view end_reason, std::int64_t now_ms,
                     std::vector<Outgoing>& out) {
  // `key` may live in by_age_ (eviction): it dies with the erase below and is not used after.
  const auto it = pops_.find(key);
  if (it == pops_.end()) return;
  Pop& pop = it->second;
  json ended = to_json(pop);
  ended["state"] = "ended";
  ended["end_reason"] = end_reason;
  ended["updated_at"] = timeline::format_time(now_ms);
  const json msg = message("pop.ended", std::move(ended));
  for (const auto& agent : pop.agents) out.push_back({agent, msg});
  by_age_.erase(AgeKey{pop.updated_ms, pop.sequence});
  by_id_.erase(pop.id);
  pops_.erase(it);
}

std::vector<Outgoing> PopBook::on_trigger(const Trigger& t, const std::vector<std::string>& targets,
                                          json customer_view, std::int64_t now_ms) {
  std::vector<Outgoing> out;
  const std::string& key = pop_key(t);
  if (key.empty()) return out;
  const bool ring = classify(t.channel, t.kind) == TriggerKind::ring;
  auto it = pops_.find(key);
  if (it == pops_.end()) {
    if (!ring || targets.empty()) return out;
    Pop& pop = create(key, t, std::move(customer_view), now_ms, out);
    for (const auto& agent : targets) {
      if (std::find(pop.agents.begin(), pop.agents.end(), agent) == pop.agents.end()) pop.agents.push_back(agent);
    }
    json msg = message("pop.ringing", to_json(pop));
    append_for(pop.agents, std::move(msg), out);
    return out;
  }

  Pop& pop = it->second;
  std::vector<std::string> joining;
  if (ring) {
    for (const auto& agent : targets) {
      const bool holds = std::find(pop.agents.begin(), pop.agents.end(), agent) != pop.agents.end();
      if (!holds && std::find(joining.begin(), joining.end(), agent) == joining.end()) joining.push_back(agent);
    }
  }
  touch(pop, t, std::move(customer_view), now_ms);
  if (!joining.empty()) pop.state = State::ringing;
  const json updated = message("pop.updated", to_json(pop));
  for (const auto& agent : pop.agents) out.push_back({agent, updated});
  if (!joining.empty()) {
    const json ringing = message("pop.ringing", to_json(pop));
    for (auto& agent : joining) {
      out.push_back({agent, ringing});
      pop.agents.push_back(std::move(agent));
    }
  }
  return out;
}

std::vector<Outgoing> PopBook::on_answered(const Trigger& t, json customer_view, std::int64_t now_ms) {
  std::vector<Outgoing> out;
  const std::string& key = pop_key(t);
  if (key.empty()) return out;
  auto it = pops_.find(key);
  if (it == pops_.end()) {
    // Answered with no pop (it timed out while ringing, the daemon restarted, or the peer
    // reports no ringing): the answering agent still gets the customer.
    if (t.agent.empty()) return out;
    Pop& pop = create(key, t, std::move(customer_view), now_ms, out);
    pop.state = State::answered;
    pop.answered_by = t.agent;
    pop.agents.push_back(t.agent);
    out.push_back({t.agent, message("pop.updated", to_json(pop))});
    return out;
  }

  Pop& pop = it->second;
  touch(pop, t, std::move(customer_view), now_ms);
  if (t.agent.empty()) {
    append_for(pop.agents, message("pop.updated", to_json(pop)), out);
    return out;
  }
  pop.state = State::answered;
  pop.answered_by = t.agent;
  std::vector<std::string> others;
  for (auto& agent : pop.agents) {
    if (agent != t.agent) others.push_back(std::move(agent));
  }
  pop.agents.assign(1, t.agent);
  json pop_json = to_json(pop);
  out.push_back({t.agent, message("pop.updated", pop_json)});
  if (!others.empty()) {
    pop_json["state"] = "ended";
    pop_json["end_reason"] = "answered_elsewhere";
    const json ended = message("pop.ended", std::move(pop_json));
    for (auto& agent : others) out.push_back({std::move(agent), ended});
  }
  return out;
}

std::vector<Outgoing> PopBook::on_transferred(const Trigger& t, json customer_view, std::int64_t now_ms) {
  std::vector<Outgoing> out;
  const std::string& key = pop_key(t);
  if (key.empty()) return out;
  auto it = pops_.find(key);
  if (it == pops_.end()) {
    if (t.agent.empty()) return out;
    Pop& pop = create(key, t, std::move(customer_view), now_ms, out);
    pop.agents.push_back(t.agent);
    out.push_back({t.agent, message("pop.ringing", to_json(pop))});
    return out;
  }
  Pop& pop = it->second;
  touch(pop, t, std::move(customer_view), now_ms);
  if (t.agent.empty()) {
    append_for(pop.agents, message("pop.updated", to_json(pop)), out);
    return out;
  }
  std::vector<std::string> others;
  for (auto& agent : pop.agents) {
    if (agent != t.agent) others.push_back(std::move(agent));
  }
  pop.agents.assign(1, t.agent);
  pop.state = State::ringing;
  json pop_json = to_json(pop);
  out.push_back({t.agent, message("pop.ringing", pop_json)});
  if (!others.empty()) {
    pop_json["state"] = "ended";
    pop_json["end_reason"] = "transferred";
    const json ended = message("pop.ended", std::move(pop_json));
    for (auto& agent : others) out.push_back({std::move(agent), ended});
  }
  return out;
}

std::vector<Outgoing> PopBook::on_ended(const Trigger& t, std::int64_t now_ms) {
  std::vector<Outgoing> out;
  const std::string& key = pop_key(t);
  const auto it = pops_.find(key);
  if (it == pops_.end()) return out;
  touch(it->second, t, nullptr, now_ms);
  finish(key, "ended", now_ms, out);
  return out;
}

std::vector<Outgoing> PopBook::expire(std::int64_t now_ms) {
  std::vector<Outgoing> out;
  const std::int64_t answered_timeout =
      ring_timeout_ms_ > std::numeric_limits<std::int64_t>::max() / 4 ? std::numeric_limits<std::int64_t>::max()
                                                                       : ring_timeout_ms_ * 4;
  std::vector<std::string> expired;
  for (const auto& [age_key, key] : by_age_) {
    const std::int64_t age = now_ms - age_key.first;  // updated_ms <= now in practice; no overflow
    if (age <= ring_timeout_ms_) break;  // younger pops expire in neither state
    const Pop& pop = pops_.at(key);
    const std::int64_t limit = pop.chat ? chat_timeout_ms_
                               : pop.state == State::ringing ? ring_timeout_ms_
                                                             : answered_timeout;
    if (age > limit) expired.push_back(key);
  }
  for (const auto& key : expired) finish(key, "timeout", now_ms, out);
  return out;
}

std::vector<json> PopBook::pops_for(const std::string& agent_id) const {
  std::vector<const Pop*> held;
  for (const auto& [key, pop] : pops_) {
    // Holding is enough: an answered pop's only holder is its answerer (on_answered removes the
    // others; a ring that adds holders puts it back to ringing).
    if (std::find(pop.agents.begin(), pop.agents.end(), agent_id) != pop.agents.end()) held.push_back(&pop);
  }
  std::sort(held.begin(), held.end(), [](const Pop* a, const Pop* b) { return a->sequence < b->sequence; });
  std::vector<json> out;
  out.reserve(held.size());
  for (const Pop* pop : held) out.push_back(to_json(*pop));
  return out;
}

bool PopBook::holds(std::string_view agent_id, std::string_view pop_id) const {
  const auto id = by_id_.find(pop_id);
  if (id == by_id_.end()) return false;
  const Pop& pop = pops_.at(id->second);
  return std::find(pop.agents.begin(), pop.agents.end(), agent_id) != pop.agents.end();
}

bool PopBook::holds_conversation(std::string_view key, std::string_view agent_id) const {
  const auto it = pops_.find(key);
  if (it == pops_.end()) return false;
  const auto& agents = it->second.agents;
  return std::find(agents.begin(), agents.end(), agent_id) != agents.end();
}

}  // namespace omnitrail::screenpop
