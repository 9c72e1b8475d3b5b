#include "connectors/asterisk_ami/call_model.hpp"

#include <algorithm>
#include <charconv>
#include <deque>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace omnitrail::connectors::ami {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxFieldBytes = 256;     // stored per leg field (Asterisk names are < 100)
constexpr std::size_t kMaxLegsPerCall = 32;     // legs beyond are ignored (ring groups of 30 fit)
constexpr std::size_t kMaxTargetsPerCall = 64;  // distinct ring / answer targets per call
constexpr std::size_t kMaxRegexInput = 256;     // channel names fed to std::regex (stack depth)

enum class Direction { unknown, inbound, outbound, internal };

struct Leg {
  std::string channel, context, exten, caller_num, caller_name, connected_num, extension;
  int state = 0;
  bool internal = false;
};

struct Call {
  std::string linkedid;
  std::int64_t created_ms = 0, last_ms = 0, ring_ms = 0, answer_ms = 0;
  std::uint64_t last_seq = 0;
  Direction direction = Direction::unknown;
  bool answered = false, abandoned = false, adopted = false;
  std::map<std::string, Leg, std::less<>> legs;  // by Uniqueid
  std::string customer_uid, customer_num, customer_name, dialed, caller_extension;
  bool origin_seen = false, origin_internal = false;
  std::string origin_num, origin_name, origin_exten;
  std::string queue;
  std::set<std::string, std::less<>> rung, answered_targets;
  std::string answered_extension, answered_agent, last_dial_status;
  std::string cause, cause_txt;
  bool cause_from_customer = false;
  int transfers = 0;
  json queue_stats = json::object();
};

std::string clip(std::string_view text) { return std::string(text.substr(0, kMaxFieldBytes)); }

bool usable_number(std::string_view number) {
  return !number.empty() && number.size() <= 64 && std::any_of(number.begin(), number.end(), [](char c) {
           return c >= '0' && c <= '9';
         }) && number.find('<') == std::string_view::npos;
}

bool looks_like_number(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '+' || c == ' ' || c == '-' || c == '(' || c == ')' || c == '.';
  });
}

std::string display_name(std::string_view name, std::string_view number) {
  if (name.empty() || name == "<unknown>" || name == number || looks_like_number(name)) return {};
  return std::string(name);
}

/// "1795390255.123456" -> ms, or -1.
std::int64_t parse_timestamp(std::string_view text) {
  auto dot = text.find('.');
  auto whole = text.substr(0, dot);
  std::int64_t seconds = 0;
  auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
  if (ec != std::errc() || p != whole.data() + whole.size() || seconds <= 0 || seconds > 40000000000LL) return -1;
  std::int64_t ms = seconds * 1000;
  if (dot != std::string_view::npos) {
    auto fraction = text.substr(dot + 1);
    int scale = 100;
    for (std::size_t i = 0; i < fraction.size() && i < 3; ++i) {
      if (fraction[i] < '0' || fraction[i] > '9') return -1;
      ms += (fraction[i] - '0') * scale;
      scale /= 10;
    }
  }
  return ms;
}

/// "HH:MM:SS" -> ms, or 0.
std::int64_t parse_duration(std::string_view text) {
  std::int64_t total = 0, part = 0;
  int parts = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (part > 1000000) return 0;
      part = part * 10 + (c - '0');
    } else if (c == ':') {
      total = total * 60 + part;
      part = 0;
      if (++parts > 2) return 0;
    } else {
      return 0;
    }
  }
  total = total * 60 + part;
  return total * 1000;
}

std::int64_t parse_int(std::string_view text, std::int64_t fallback) {
  std::int64_t value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return (ec == std::errc() && p == text.data() + text.size()) ? value : fallback;
}

}  // namespace

std::string check_extension_pattern(const std::string& pattern) {
  try {
    std::regex re(pattern, std::regex::ECMAScript);
    if (re.mark_count() < 1) return "extension_pattern: \"" + pattern + "\" needs one capture group, e.g. " +
                                      std::string(kDefaultExtensionPattern);
  } catch (const std::regex_error& e) {
    return "extension_pattern: \"" + pattern + "\" is not a valid regular expression (" + e.what() + ")";
  }
  return {};
}

struct CallTracker::Impl {
  TrackerConfig config;
  Clock clock;
  std::regex pattern;
  std::string config_error;
  std::unordered_set<std::string> internal_contexts;
  std::unordered_map<std::string, Call> calls;
  std::unordered_set<std::string> ended;  // tombstones: late events of an ended call are ignored
  std::deque<std::string> ended_order;
  std::uint64_t seq = 0, resync_seq = 0;
  bool resync_marked = false;

  Impl(TrackerConfig c, Clock k) : config(std::move(c)), clock(std::move(k)) {
    config_error = check_extension_pattern(config.extension_pattern);
    if (!config_error.empty()) config.extension_pattern = std::string(kDefaultExtensionPattern);
    pattern = std::regex(config.extension_pattern, std::regex::ECMAScript);
    if (config.max_calls == 0) config.max_calls = 1;
    internal_contexts.insert(config.internal_contexts.begin(), config.internal_contexts.end());
    if (!clock) clock = [] { return std::int64_t{0}; };
  }

  std::int64_t now() const {
    auto t = clock();
    return t > 0 ? t : 1;
  }

  std::int64_t event_time(const Message& m) const {
    if (auto ts = m.get("Timestamp")) {
      auto ms = parse_timestamp(*ts);
      if (ms > 0) return ms;
    }
    return now();
  }

  std::string extension_of(std::string_view channel) const {
    channel = channel.substr(0, kMaxRegexInput);
    std::match_results<std::string_view::const_iterator> match;
    try {
      if (std::regex_search(channel.begin(), channel.end(), match, pattern) && match.size() > 1 && match[1].matched) {
        return clip(std::string_view(&*match[1].first, static_cast<std::size_t>(match[1].length())));
      }
    } catch (const std::exception&) {  // regex_error (complexity / stack): no extension
    }
    return {};
  }

  std::string agent_of(const std::string& extension) const {
    auto it = config.agent_by_extension.find(extension);
    return it == config.agent_by_extension.end() ? std::string{} : it->second;
  }

  bool is_agent_number(std::string_view number) const {
    return !number.empty() && config.agent_by_extension.find(number) != config.agent_by_extension.end();
  }

  // ---- legs --------------------------------------------------------------------------------

  /// Updates (or adds) the leg described by the `prefix` fields ("" or "Dest") of `m`.
  Leg* update_leg(Call& call, const Message& m, std::string_view prefix) {
    std::string key(prefix);
    auto field = [&](std::string_view name) {
      key.resize(prefix.size());
      key.append(name);
      return m.value(key);
    };
    auto uid = field("Uniqueid");
    if (uid.empty() || uid.size() > 64) return nullptr;
    auto it = call.legs.find(uid);
    if (it == call.legs.end()) {
      if (call.legs.size() >= kMaxLegsPerCall) return nullptr;
      it = call.legs.emplace(std::string(uid), Leg{}).first;
    }
    Leg& leg = it->second;
    if (auto channel = field("Channel"); !channel.empty() && channel != leg.channel) {
      leg.channel = clip(channel);
      leg.extension = extension_of(channel);
    }
    if (auto v = field("Context"); !v.empty()) leg.context = clip(v);
    if (auto v = field("Exten"); !v.empty()) leg.exten = clip(v);
    if (auto v = field("CallerIDNum"); !v.empty()) leg.caller_num = clip(v);
    if (auto v = field("CallerIDName"); !v.empty()) leg.caller_name = clip(v);
    if (auto v = field("ConnectedLineNum"); !v.empty()) leg.connected_num = clip(v);
    if (auto v = field("ChannelState"); !v.empty()) leg.state = static_cast<int>(parse_int(v, leg.state));
    leg.internal = internal_contexts.count(leg.context) > 0 || is_agent_number(leg.extension);
    if (uid == call.linkedid) {
      if (!call.origin_seen) {
        call.origin_seen = true;
        call.origin_internal = leg.internal;
      }
      if (usable_number(leg.caller_num)) {
        call.origin_num = leg.caller_num;
        call.origin_name = leg.caller_name;
      }
      if (call.origin_exten.empty()) call.origin_exten = leg.exten;
    }
    if (uid == call.customer_uid && !usable_number(call.customer_num) && call.direction == Direction::inbound &&
        usable_number(leg.caller_num)) {
      call.customer_num = leg.caller_num;
      call.customer_name = leg.caller_name;
    }
    return &leg;
  }

  // ---- interactions ------------------------------------------------------------------------

  timeline::Interaction make(const Call& call, std::string kind, std::string target, std::int64_t at) const {
    timeline::Interaction in;
    in.channel = "phone";
    in.direction = call.direction == Direction::outbound ? "outbound" : "inbound";
    in.occurred_at_ms = at;
    in.source = config.source;
    in.external_id = call.linkedid + ":" + kind;
    if (!target.empty()) in.external_id += ":" + target;
    in.kind = std::move(kind);
    in.conversation_key = call.linkedid;
    in.region = config.region;
    if (usable_number(call.customer_num)) {
      in.customer_identifiers.push_back({identity::IdentifierKind::phone, call.customer_num, identity::Trust::claimed});
    }
    in.customer_display_name = display_name(call.customer_name, call.customer_num);
    if (call.direction == Direction::outbound) {
      in.from = call.caller_extension;
      in.to = call.customer_num;
      in.agent = agent_of(call.caller_extension);  // the agent placing the call
    } else {
      in.from = call.customer_num;
      in.to = call.dialed;
    }
    return in;
  }

  std::string target_key(const Call& call, const std::string& target) const {
    return call.transfers > 0 ? target + "~t" + std::to_string(call.transfers) : target;
  }

  void ring(Call& call, const std::string& extension, const std::string& queue_only, std::int64_t at,
            std::vector<timeline::Interaction>& out) {
    if (call.direction != Direction::inbound && call.direction != Direction::outbound) return;
    std::string target = queue_only.empty() ? extension : "queue:" + queue_only;
    if (target.empty()) return;
    target = target_key(call, target);
    if (call.rung.count(target) || call.rung.size() >= kMaxTargetsPerCall) return;
    call.rung.insert(target);
    if (call.ring_ms == 0) call.ring_ms = at;
    auto in = make(call, "call.ringing", target, at);
    json metadata = json::object();
    if (!extension.empty()) {
      metadata["extension"] = extension;
      if (call.direction == Direction::inbound) in.to = extension;
    }
    if (!call.queue.empty()) metadata["queue"] = call.queue;
    if (!call.dialed.empty()) metadata["dialed"] = call.dialed;
    in.metadata_json = metadata.dump(-1, ' ', false, json::error_handler_t::replace);
    out.push_back(std::move(in));
  }

  void answer(Call& call, const std::string& extension, std::int64_t at, std::vector<timeline::Interaction>& out) {
    if (call.direction != Direction::inbound && call.direction != Direction::outbound) return;
    if (extension.empty()) return;
    auto target = target_key(call, extension);
    if (call.answered_targets.count(target) || call.answered_targets.size() >= kMaxTargetsPerCall) return;
    call.answered_targets.insert(target);
    if (!call.answered) {
      call.answered = true;
      call.answer_ms = at;
    }
    call.answered_extension = extension;
    call.answered_agent = agent_of(extension);
    auto in = make(call, "call.answered", target, at);
    in.agent = call.answered_agent;
    if (call.direction == Direction::inbound) in.to = extension;
    json metadata = {{"extension", extension}};
    if (!call.queue.empty()) metadata["queue"] = call.queue;
    if (!call.dialed.empty()) metadata["dialed"] = call.dialed;
    in.metadata_json = metadata.dump(-1, ' ', false, json::error_handler_t::replace);
    out.push_back(std::move(in));
  }

  std::string disposition(const Call& call) const {
    if (call.answered) return "answered";
    if (call.abandoned) return "abandoned";
    if (call.rung.empty()) return call.direction == Direction::outbound ? "failed" : "abandoned";
    if (call.last_dial_status == "BUSY") return "busy";
    if (call.last_dial_status == "CHANUNAVAIL" || call.last_dial_status == "CONGESTION") return "failed";
    return "missed";
  }

  /// Ends `call` (emitting call.ended when it is a customer call) and forgets it.
  void end_call(std::string linkedid, std::int64_t at, const char* reason, std::vector<timeline::Interaction>& out) {
    auto it = calls.find(linkedid);
    if (it == calls.end()) return;
    Call& call = it->second;
    if (call.direction == Direction::unknown && call.origin_seen && !call.origin_internal && usable_number(call.origin_num)) {
      call.direction = Direction::inbound;  // never reached anyone (IVR, hung up early)
      call.customer_num = call.origin_num;
      call.customer_name = call.origin_name;
      call.dialed = call.origin_exten;
    }
    if (call.direction == Direction::inbound || call.direction == Direction::outbound) {
      auto in = make(call, "call.ended", "", at);
      in.ends_conversation = true;
      in.agent = call.answered_agent;
      if (call.direction == Direction::inbound && !call.answered_extension.empty()) in.to = call.answered_extension;
      const std::int64_t ring_end = call.answered ? call.answer_ms : at;
      json metadata = {
          {"disposition", disposition(call)},
          {"ring_time_ms", call.ring_ms > 0 ? std::max<std::int64_t>(0, ring_end - call.ring_ms) : 0},
          {"talk_time_ms", call.answered ? std::max<std::int64_t>(0, at - call.answer_ms) : 0},
      };
      if (!call.cause.empty()) metadata["cause"] = parse_int(call.cause, -1);
      if (!call.cause_txt.empty()) metadata["cause_txt"] = call.cause_txt;
      if (reason != nullptr) metadata["cause_txt"] = reason;
      if (!call.answered_extension.empty()) metadata["extension"] = call.answered_extension;
      if (!call.queue.empty()) metadata["queue"] = call.queue;
      if (!call.dialed.empty()) metadata["dialed"] = call.dialed;
      if (!call.queue_stats.empty()) metadata["queue_stats"] = call.queue_stats;
      if (call.transfers > 0) metadata["transfers"] = call.transfers;
      if (call.adopted) metadata["adopted"] = true;
      in.metadata_json = metadata.dump(-1, ' ', false, json::error_handler_t::replace);
      out.push_back(std::move(in));
    }
    calls.erase(it);
    remember_ended(linkedid);
  }

  void remember_ended(const std::string& linkedid) {
    if (!ended.insert(linkedid).second) return;
    ended_order.push_back(linkedid);
    while (ended_order.size() > config.max_calls) {
      ended.erase(ended_order.front());
      ended_order.pop_front();
    }
  }

  /// The call of `linkedid`, created when `create` (evicting the least recently active call when
  /// full); nullptr for ended calls and when not created.
  Call* find_call(std::string_view linkedid, bool create, std::int64_t at, std::vector<timeline::Interaction>& out) {
    if (linkedid.empty() || linkedid.size() > 64) return nullptr;
    std::string id(linkedid);
    if (auto it = calls.find(id); it != calls.end()) return &it->second;
    if (!create || ended.count(id)) return nullptr;
    if (calls.size() >= config.max_calls) {
      auto oldest = std::min_element(calls.begin(), calls.end(), [](const auto& a, const auto& b) {
        return a.second.last_seq < b.second.last_seq;
      });
      end_call(oldest->first, at, "evicted (too many calls tracked)", out);
    }
    Call& call = calls[id];
    call.linkedid = id;
    call.created_ms = at;
    return &call;
  }

  /// Decides the direction at the first dial that reaches or leaves the company.
  void decide_on_dial(Call& call, const Leg* caller, const std::string& caller_uid, const Leg& dest,
                      const std::string& dest_uid) {
    if (call.direction != Direction::unknown) return;
    const bool caller_internal = caller ? caller->internal : is_agent_number(dest.caller_num);
    if (dest.internal && !caller_internal) {
      call.direction = Direction::inbound;
      const Leg& presented = caller ? *caller : dest;  // an originated dial has no calling leg
      call.customer_uid = caller ? caller_uid : dest_uid;
      call.customer_num = presented.caller_num;
      call.customer_name = presented.caller_name;
      call.dialed = presented.exten;
    } else if (!dest.internal && caller && caller->internal) {
      call.direction = Direction::outbound;
      call.customer_uid = dest_uid;
      call.customer_num = caller->exten;  // the number the agent dialled (dialplan extension)
      call.caller_extension = caller->extension;
      call.answered_agent = agent_of(caller->extension);
    } else if (dest.internal && caller_internal) {
      call.direction = Direction::internal;
    }
  }

  // ---- events ------------------------------------------------------------------------------

  void on_event(const Message& m, std::vector<timeline::Interaction>& out) {
    const auto name = m.event();
    const std::int64_t at = event_time(m);
    ++seq;

    if (name == "Shutdown") {
      std::vector<std::string> ids;
      for (const auto& [id, call] : calls) ids.push_back(id);
      std::sort(ids.begin(), ids.end());
      for (const auto& id : ids) end_call(id, at, "asterisk shutdown", out);
      return;
    }
    if (name == "BlindTransfer" || name == "AttendedTransfer") {
      on_transfer(m, name == "BlindTransfer", at, out);
      return;
    }

    static const std::set<std::string_view> kChannelEvents = {
        "Newchannel",   "Newstate",      "NewCallerid",       "DialBegin",        "DialEnd",
        "BridgeEnter",  "BridgeLeave",   "Hangup",            "QueueCallerJoin",  "AgentCalled",
        "AgentConnect", "AgentComplete", "QueueCallerAbandon", "QueueCallerLeave", "NewConnectedLine"};
    if (!kChannelEvents.count(name)) return;  // VarSet, Newexten, CoreShowChannel (see resync) ...

    auto linkedid = m.value("Linkedid");
    if (linkedid.empty()) linkedid = m.value("DestLinkedid");
    Call* call = find_call(linkedid, name != "Hangup", at, out);
    if (call == nullptr) return;
    call->last_ms = at;
    call->last_seq = seq;

    Leg* caller = m.has("Uniqueid") ? update_leg(*call, m, "") : nullptr;
    const std::string caller_uid(m.value("Uniqueid"));
    Leg* dest = m.has("DestUniqueid") ? update_leg(*call, m, "Dest") : nullptr;
    const std::string dest_uid(m.value("DestUniqueid"));

    if (name == "DialBegin") {
      if (dest == nullptr) return;
      decide_on_dial(*call, caller, caller_uid, *dest, dest_uid);
      if (call->direction == Direction::inbound && dest->internal) {
        ring(*call, dest->extension, {}, at, out);
      } else if (call->direction == Direction::outbound && !dest->internal && caller && caller->internal) {
        ring(*call, call->caller_extension, {}, at, out);
      }
    } else if (name == "DialEnd") {
      if (dest == nullptr) return;
      const auto status = m.value("DialStatus");
      if (status == "ANSWER") {
        if (call->direction == Direction::inbound && dest->internal) {
          answer(*call, dest->extension, at, out);
        } else if (call->direction == Direction::outbound && !dest->internal) {
          answer(*call, call->caller_extension, at, out);
        }
      } else if (!status.empty()) {
        call->last_dial_status = clip(status);
      }
    } else if (name == "BridgeEnter") {
      // Fallback for answers without DialEnd (pickups): an internal leg bridged in a ringing call.
      if (caller && call->direction == Direction::inbound && !call->answered && caller->internal && !call->rung.empty() &&
          !caller->extension.empty()) {
        answer(*call, caller->extension, at, out);
      }
    } else if (name == "Hangup") {
      if (!caller_uid.empty()) {
        const bool from_customer = caller_uid == call->customer_uid;
        if (call->cause.empty() || (from_customer && !call->cause_from_customer)) {
          call->cause = clip(m.value("Cause"));
          call->cause_txt = clip(m.value("Cause-txt"));
          call->cause_from_customer = from_customer;
        }
        call->legs.erase(caller_uid);
      }
      if (call->legs.empty()) end_call(call->linkedid, at, nullptr, out);
    } else if (name == "QueueCallerJoin") {
      call->queue = clip(m.value("Queue"));
      if (call->direction == Direction::unknown && caller && !caller->internal) {
        call->direction = Direction::inbound;
        call->customer_uid = caller_uid;
        call->customer_num = caller->caller_num;
        call->customer_name = caller->caller_name;
        call->dialed = caller->exten;
      }
      if (call->direction == Direction::inbound && !call->queue.empty()) ring(*call, {}, call->queue, at, out);
    } else if (name == "AgentCalled" || name == "AgentConnect") {
      if (call->queue.empty()) call->queue = clip(m.value("Queue"));
      std::string extension = dest ? dest->extension : std::string{};
      if (extension.empty()) extension = extension_of(m.value("Interface"));
      if (name == "AgentCalled") {
        ring(*call, extension, {}, at, out);
      } else {
        if (auto v = m.get("HoldTime")) call->queue_stats["hold_time_s"] = parse_int(*v, 0);
        if (auto v = m.get("RingTime")) call->queue_stats["ring_time_s"] = parse_int(*v, 0);
        answer(*call, extension, at, out);
      }
    } else if (name == "AgentComplete") {
      if (auto v = m.get("TalkTime")) call->queue_stats["talk_time_s"] = parse_int(*v, 0);
      if (auto v = m.get("Reason")) call->queue_stats["reason"] = clip(*v);
    } else if (name == "QueueCallerAbandon") {
      if (!call->answered) call->abandoned = true;
    }
  }

  void on_transfer(const Message& m, bool blind, std::int64_t at, std::vector<timeline::Interaction>& out) {
    if (m.value("Result") != "Success") return;
    Call* call = nullptr;
    for (auto key : {"TransfereeLinkedid", "OrigTransfererLinkedid", "TransfererLinkedid", "SecondTransfererLinkedid"}) {
      auto it = calls.find(std::string(m.value(key)));
      if (it != calls.end() &&
          (it->second.direction == Direction::inbound || it->second.direction == Direction::outbound)) {
        call = &it->second;
        break;
      }
    }
    if (call == nullptr) return;
    call->last_ms = at;
    call->last_seq = seq;
    ++call->transfers;
    std::string extension;
    if (blind) {
      extension = clip(m.value("Extension"));
    } else {
      extension = extension_of(m.value("TransferTargetChannel"));
      if (extension.empty()) extension = extension_of(m.value("SecondTransfererChannel"));
    }
    auto in = make(*call, "call.transferred", std::to_string(call->transfers), at);
    json metadata = {{"type", blind ? "blind" : "attended"}};
    if (!extension.empty()) metadata["extension_to"] = extension;
    if (!call->answered_extension.empty()) metadata["extension_from"] = call->answered_extension;
    in.agent = call->answered_agent;
    in.metadata_json = metadata.dump(-1, ' ', false, json::error_handler_t::replace);
    out.push_back(std::move(in));
    // An attended transfer joins the target to the customer without a dial in this call.
    if (!blind && !extension.empty() && call->direction == Direction::inbound) answer(*call, extension, at, out);
  }

  // ---- resync ------------------------------------------------------------------------------

  std::vector<timeline::Interaction> resync(const std::vector<Message>& channels) {
    std::vector<timeline::Interaction> out;
    const std::int64_t at = now();
    if (!resync_marked) resync_seq = seq;
    resync_marked = false;
    std::map<std::string, std::vector<const Message*>> present;
    for (const auto& m : channels) {
      if (m.event() != "CoreShowChannel") continue;
      auto linkedid = m.value("Linkedid");
      if (linkedid.empty() || linkedid.size() > 64) continue;
      auto& legs = present[std::string(linkedid)];
      if (legs.size() < kMaxLegsPerCall) legs.push_back(&m);
      if (present.size() > config.max_calls) break;
    }
    std::vector<std::string> gone;
    for (const auto& [id, call] : calls) {
      if (!present.count(id) && call.last_seq <= resync_seq) gone.push_back(id);
    }
    std::sort(gone.begin(), gone.end());
    for (const auto& id : gone) end_call(id, at, "gone after reconnect", out);

    for (const auto& [id, legs] : present) {
      if (ended.count(id)) continue;
      const bool known = calls.count(id) > 0;
      Call* call = find_call(id, true, at, out);
      if (call == nullptr) continue;
      call->last_ms = at;
      call->last_seq = ++seq;
      std::set<std::string> uids;
      std::int64_t longest = 0;
      for (const Message* m : legs) {
        if (update_leg(*call, *m, "")) uids.insert(std::string(m->value("Uniqueid")));
        longest = std::max(longest, parse_duration(m->value("Duration")));
      }
      for (auto it = call->legs.begin(); it != call->legs.end();) {
        it = uids.count(it->first) ? std::next(it) : call->legs.erase(it);
      }
      if (!known) adopt(*call, legs, at - longest);
      // An answer missed while disconnected: an internal leg up and bridged.
      for (const Message* m : legs) {
        auto uid = m->value("Uniqueid");
        auto leg = call->legs.find(uid);
        if (leg == call->legs.end() || leg->second.state != 6 || m->value("BridgeId").empty()) continue;
        if (call->direction == Direction::inbound && leg->second.internal && !leg->second.extension.empty()) {
          if (!known) {
            call->answered = true;
            call->answered_extension = leg->second.extension;
            call->answered_agent = agent_of(leg->second.extension);
            call->answered_targets.insert(target_key(*call, leg->second.extension));
            call->answer_ms = at - parse_duration(m->value("Duration"));
          } else if (!call->answered) {
            answer(*call, leg->second.extension, at, out);
          }
        } else if (call->direction == Direction::outbound && !leg->second.internal && !call->answered) {
          if (!known) {
            call->answered = true;
            call->answer_ms = at - parse_duration(m->value("Duration"));
          } else {
            answer(*call, call->caller_extension, at, out);
          }
        }
      }
    }
    return out;
  }

  /// A call seen first in a CoreShowChannels list: its state without emitting anything.
  void adopt(Call& call, const std::vector<const Message*>& legs, std::int64_t started) {
    call.adopted = true;
    call.created_ms = started;
    bool any_internal = false, any_external = false;
    const Leg* origin = nullptr;
    for (const auto& [uid, leg] : call.legs) {
      (leg.internal ? any_internal : any_external) = true;
      if (uid == call.linkedid || origin == nullptr) origin = &leg;
      if (uid == call.linkedid) call.customer_uid = uid;
    }
    if (origin == nullptr) return;
    if (any_external && (!origin->internal || !any_internal)) {
      call.direction = Direction::inbound;
      call.customer_num = origin->caller_num;
      call.customer_name = origin->caller_name;
      call.dialed = origin->exten;
    } else if (any_external) {
      call.direction = Direction::outbound;
      call.customer_num = origin->connected_num;
      call.caller_extension = origin->extension;
      call.answered_agent = agent_of(origin->extension);
    } else {
      call.direction = Direction::internal;
    }
    for (const Message* m : legs) {
      if (m->value("Application") == "Queue" && call.queue.empty()) {
        auto data = m->value("ApplicationData");
        call.queue = clip(data.substr(0, data.find(',')));
      }
    }
    for (const auto& [uid, leg] : call.legs) {
      if (call.direction == Direction::inbound && leg.internal && !leg.extension.empty()) {
        call.rung.insert(leg.extension);  // already rang before we saw it: never ring it again
        if (call.ring_ms == 0) call.ring_ms = started;
      }
    }
    if (!call.queue.empty()) {
      call.rung.insert("queue:" + call.queue);
      if (call.ring_ms == 0) call.ring_ms = started;
    }
  }

  std::vector<timeline::Interaction> expire() {
    std::vector<timeline::Interaction> out;
    const std::int64_t at = now();
    const auto limit = static_cast<std::int64_t>(config.call_expiry.count());
    std::vector<std::string> stale;
    for (const auto& [id, call] : calls) {
      if (at - call.last_ms > limit) stale.push_back(id);
    }
    std::sort(stale.begin(), stale.end());
    for (const auto& id : stale) end_call(id, at, "expired", out);
    return out;
  }
};

CallTracker::CallTracker(TrackerConfig config, Clock clock)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(clock))) {}
CallTracker::~CallTracker() = default;
CallTracker::CallTracker(CallTracker&&) noexcept = default;
CallTracker& CallTracker::operator=(CallTracker&&) noexcept = default;

std::vector<timeline::Interaction> CallTracker::on_message(const Message& message) {
  std::vector<timeline::Interaction> out;
  if (!message.is_event()) return out;
  try {
    impl_->on_event(message, out);
  } catch (const std::exception&) {  // allocation failure or a bug: drop this event, keep the rest
  }
  return out;
}

void CallTracker::begin_resync() {
  impl_->resync_seq = impl_->seq;
  impl_->resync_marked = true;
}

std::vector<timeline::Interaction> CallTracker::resync(const std::vector<Message>& channels) {
  try {
    return impl_->resync(channels);
  } catch (const std::exception&) {
    return {};
  }
}

std::vector<timeline::Interaction> CallTracker::expire() {
  try {
    return impl_->expire();
  } catch (const std::exception&) {
    return {};
  }
}

std::size_t CallTracker::active_calls() const noexcept { return impl_->calls.size(); }
const std::string& CallTracker::config_error() const noexcept { return impl_->config_error; }
std::string CallTracker::extension_of(std::string_view channel) const { return impl_->extension_of(channel); }

}  // namespace omnitrail::connectors::ami
