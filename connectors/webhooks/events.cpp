#include "connectors/webhooks/events.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include "daemon/api/json_body.hpp"

namespace omnitrail::connectors::webhooks {
namespace {

using nlohmann::json;

constexpr std::size_t max_id_bytes = 256;
constexpr std::size_t max_address_bytes = 256;

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// A string field: absent/null -> fine unless required; present -> must be a string of valid
// UTF-8 without control characters, at most max_bytes.
bool get_text(const json& body, const char* key, std::string& out, std::string& error, bool required,
              std::size_t max_bytes) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) error = std::string(key) + ": required";
    return !required;
  }
  if (!it->is_string()) {
    error = std::string(key) + ": must be a string";
    return false;
  }
  const auto& value = it->get_ref<const std::string&>();
  if (value.size() > max_bytes) {
    error = std::string(key) + ": longer than " + std::to_string(max_bytes) + " bytes";
    return false;
  }
  if (!timeline::is_valid_utf8(value) || has_control(value)) {
    error = std::string(key) + ": must be printable UTF-8 text";
    return false;
  }
  out = value;
  return true;
}

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

void add_phone_claim(timeline::Interaction& in, const std::string& number) {
  if (number.empty()) return;
  timeline::IdentifierClaim claim;
  claim.kind = identity::IdentifierKind::phone;
  claim.raw = number;
  claim.trust = identity::Trust::claimed;
  in.customer_identifiers.push_back(std::move(claim));
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool parse_digits(std::string_view text, int& out) {
  if (text.empty() || text.size() > 9) return false;
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

const std::string* param(const FormParams& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return &value;
  }
  return nullptr;
}

// A Twilio SID-like token: letters and digits only, 2..64.
bool sid_like(std::string_view text) {
  return text.size() >= 2 && text.size() <= 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

bool non_negative_integer(std::string_view text, std::int64_t& out) {
  if (text.empty() || text.size() > 15) return false;
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

void append_escaped(std::string& out, std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default:
          if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') out += static_cast<char>(c);
          break;  // other control characters cannot appear in XML 1.0
      }
      ++i;
      continue;
    }
    std::size_t length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    std::string_view sequence = text.substr(i, length);
    if (length > 1 && sequence.size() == length && timeline::is_valid_utf8(sequence)) {
      out += sequence;
      i += length;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
}

}  // namespace

std::optional<timeline::Interaction> cti_event_to_interaction(const json& body, const std::string& source,
                                                              std::string& error, const MappingOptions& options) {
  if (!body.is_object()) {
    error = "body: must be a JSON object";
    return std::nullopt;
  }
  std::string event, call_id, from, to, direction = "inbound", queue, user, caller_name;
  if (!get_text(body, "event", event, error, true, 32) || !get_text(body, "call_id", call_id, error, true, max_id_bytes) ||
      !get_text(body, "from", from, error, true, max_address_bytes) ||
      !get_text(body, "to", to, error, true, max_address_bytes) ||
      !get_text(body, "direction", direction, error, false, 16) ||
      !get_text(body, "queue", queue, error, false, max_id_bytes) ||
      !get_text(body, "user", user, error, false, max_id_bytes) ||
      !get_text(body, "caller_name", caller_name, error, false, max_address_bytes)) {
    return std::nullopt;
  }
  timeline::Interaction in;
  if (event == "newCall") {
    in.kind = "call.ringing";
  } else if (event == "answer") {
    in.kind = "call.answered";
  } else if (event == "hangup") {
    in.kind = "call.ended";
    in.ends_conversation = true;
  } else {
    error = "event: must be one of newCall, answer, hangup";
    return std::nullopt;
  }
  if (call_id.empty()) {
    error = "call_id: must not be empty";
    return std::nullopt;
  }
  if (direction != "inbound" && direction != "outbound") {
    error = "direction: must be inbound or outbound";
    return std::nullopt;
  }
  json metadata = json::object();
  if (auto it = body.find("extension"); it != body.end() && !it->is_null()) {
    if (it->is_number_unsigned() || (it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
      metadata["extension"] = std::to_string(it->get<std::uint64_t>());
    } else {
      std::string extension;
      if (!it->is_string()) {
        error = "extension: must be a string or a non-negative integer";
        return std::nullopt;
      }
      if (!get_text(body, "extension", extension, error, false, 64)) return std::nullopt;
      if (!extension.empty()) metadata["extension"] = extension;
    }
  }
  in.occurred_at_ms = options.received_at_ms;
  if (auto it = body.find("timestamp"); it != body.end() && !it->is_null()) {
    auto ms = api::parse_time(*it);
    if (!ms || *ms <= 0) {
      error = "timestamp: must be an RFC 3339 time (2026-11-24T13:00:00Z) or milliseconds since 1970";
      return std::nullopt;
    }
    in.occurred_at_ms = *ms;
  }
  if (in.occurred_at_ms <= 0) {
    error = "timestamp: required";
    return std::nullopt;
  }
  if (auto it = body.find("duration"); it != body.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 1e9) {
      error = "duration: must be a non-negative number of seconds";
      return std::nullopt;
    }
    metadata["duration_seconds"] = *it;
  }
  if (queue.empty()) queue = options.queue;
  if (!queue.empty()) metadata["queue"] = queue;
  metadata["call_id"] = call_id;
  metadata["event"] = event;

  in.channel = "phone";
  in.direction = direction;
  in.source = source;
  in.external_id = call_id + ":" + event;
  in.conversation_key = call_id;
  in.from = from;
  in.to = to;
  in.agent = user;
  in.region = options.region;
  in.customer_display_name = caller_name;
  add_phone_claim(in, direction == "inbound" ? from : to);
  in.metadata_json = dump(metadata);
  return in;
}

bool twilio_status_terminal(std::string_view status) noexcept {
  return status == "completed" || status == "busy" || status == "failed" || status == "no-answer" ||
         status == "canceled";
}

std::optional<std::int64_t> twilio_sequence_number(const FormParams& params) {
  const std::string* value = param(params, "SequenceNumber");
  if (value == nullptr) return std::nullopt;
  std::int64_t n = 0;
  if (!non_negative_integer(*value, n)) return -1;
  return n;
}

std::optional<std::int64_t> parse_rfc2822_time(std::string_view t) {
  static constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (t.size() > 64) return std::nullopt;
  // Optional "Tue, " weekday.
  if (std::size_t comma = t.find(','); comma != std::string_view::npos) {
    if (comma != 3) return std::nullopt;
    t.remove_prefix(4);
  }
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < t.size()) {
    while (i < t.size() && t[i] == ' ') ++i;
    std::size_t start = i;
    while (i < t.size() && t[i] != ' ') ++i;
    if (i > start) words.push_back(t.substr(start, i - start));
  }
  if (words.size() != 5) return std::nullopt;
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (!parse_digits(words[0], day) || words[0].size() > 2 || !parse_digits(words[2], year) || words[2].size() != 4) {
    return std::nullopt;
  }
  auto month = std::find(months.begin(), months.end(), words[1]);
  if (month == months.end()) return std::nullopt;
  std::string_view clock = words[3];
  if (clock.size() != 8 || clock[2] != ':' || clock[5] != ':' || !parse_digits(clock.substr(0, 2), hour) ||
      !parse_digits(clock.substr(3, 2), minute) || !parse_digits(clock.substr(6, 2), second)) {
    return std::nullopt;
  }
  std::string_view zone = words[4];
  int zone_hours = 0, zone_minutes = 0;
  if (zone == "GMT" || zone == "UT" || zone == "UTC" || zone == "Z") {
  } else if (zone.size() == 5 && (zone[0] == '+' || zone[0] == '-') && parse_digits(zone.substr(1, 2), zone_hours) &&
             parse_digits(zone.substr(3, 2), zone_minutes)) {
  } else {
    return std::nullopt;
  }
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60 || zone_hours > 23 || zone_minutes > 59 ||
      year < 1970) {
    return std::nullopt;
  }
  std::int64_t offset = (zone_hours * 60 + zone_minutes) * (zone[0] == '-' ? -1 : 1);
  auto month_number = static_cast<unsigned>(month - months.begin() + 1);
  std::int64_t days = days_from_civil(year, month_number, static_cast<unsigned>(day));
  std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + std::min(second, 59) - offset * 60;
  return secs * 1000;
}

std::optional<timeline::Interaction> twilio_voice_to_interaction(const FormParams& params, const std::string& source,
                                                                 std::string& error, const MappingOptions& options) {
  auto required = [&](const char* name) -> const std::string* {
    const std::string* value = param(params, name);
    if (value == nullptr) error = std::string(name) + ": required";
    return value;
  };
  const std::string* call_sid = required("CallSid");
  if (call_sid == nullptr) return std::nullopt;
  if (!sid_like(*call_sid)) {
    error = "CallSid: must be 2..64 letters and digits";
    return std::nullopt;
  }
  const std::string* status = required("CallStatus");
  if (status == nullptr) return std::nullopt;
  const std::string* twilio_direction = required("Direction");
  if (twilio_direction == nullptr) return std::nullopt;
  const std::string* from = required("From");
  if (from == nullptr) return std::nullopt;
  const std::string* to = required("To");
  if (to == nullptr) return std::nullopt;
  for (const auto& [name, value] : {std::pair{"From", from}, std::pair{"To", to}}) {
    if (value->size() > max_address_bytes || has_control(*value) || !timeline::is_valid_utf8(*value)) {
      error = std::string(name) + ": must be printable UTF-8 text of at most 256 bytes";
      return std::nullopt;
    }
  }

  timeline::Interaction in;
  json metadata = json::object();
  const std::string* parent = param(params, "ParentCallSid");
  if (parent != nullptr && parent->empty()) parent = nullptr;
  if (parent != nullptr && !sid_like(*parent)) {
    error = "ParentCallSid: must be 2..64 letters and digits";
    return std::nullopt;
  }
  if (*status == "queued" || *status == "initiated") {
    in.kind = "call.initiated";
  } else if (*status == "ringing") {
    in.kind = "call.ringing";
  } else if (*status == "in-progress") {
    in.kind = "call.answered";
  } else if (twilio_status_terminal(*status)) {
    in.kind = parent != nullptr ? "call.leg_ended" : "call.ended";
    in.ends_conversation = parent == nullptr;
    metadata["disposition"] = *status;
  } else {
    error = "CallStatus: not one of queued, initiated, ringing, in-progress, completed, busy, failed, no-answer, "
            "canceled";
    return std::nullopt;
  }

  const std::string* account = param(params, "AccountSid");
  if (account != nullptr && !account->empty() && !sid_like(*account)) {
    error = "AccountSid: must be 2..64 letters and digits";
    return std::nullopt;
  }
  if (!options.account_sid.empty() && (account == nullptr || *account != options.account_sid)) {
    error = "AccountSid: does not match the connector's account_sid";
    return std::nullopt;
  }

  // Who is the customer (see the header for the rule).
  std::string customer;
  std::string agent;
  const std::string& d = *twilio_direction;
  if (d == "inbound" || d == "trunking-terminating") {
    if (starts_with(*from, "client:")) {
      in.direction = "outbound";
      agent = from->substr(7);
      customer = *to;
    } else {
      in.direction = "inbound";
      customer = *from;
    }
  } else if (d == "outbound-api" || d == "trunking-originating") {
    in.direction = "outbound";
    customer = *to;
  } else if (d == "outbound-dial") {
    if (starts_with(*to, "client:") || starts_with(*to, "sip:")) {
      in.direction = "inbound";
      customer = *from;
      if (starts_with(*to, "client:")) agent = to->substr(7);
    } else {
      in.direction = "outbound";
      customer = *to;
    }
  } else {
    error = "Direction: not one of inbound, outbound-api, outbound-dial, trunking-originating, trunking-terminating";
    return std::nullopt;
  }
  // A Twilio Client identity is the agent, never a customer phone number.
  if (starts_with(customer, "client:")) customer.clear();

  auto sequence = twilio_sequence_number(params);
  if (sequence && *sequence < 0) {
    error = "SequenceNumber: must be a non-negative integer";
    return std::nullopt;
  }
  if (sequence) metadata["sequence_number"] = *sequence;
  if (const std::string* duration = param(params, "CallDuration"); duration != nullptr && !duration->empty()) {
    std::int64_t seconds = 0;
    if (!non_negative_integer(*duration, seconds)) {
      error = "CallDuration: must be a non-negative integer";
      return std::nullopt;
    }
    metadata["duration_seconds"] = seconds;
  }
  in.occurred_at_ms = options.received_at_ms;
  if (const std::string* timestamp = param(params, "Timestamp"); timestamp != nullptr) {
    // Lenient on purpose: the callback is signed and its status matters more than its clock.
    if (auto ms = parse_rfc2822_time(*timestamp)) in.occurred_at_ms = *ms;
  }
  if (in.occurred_at_ms <= 0) {
    error = "Timestamp: missing or not an RFC 2822 time, and no receive time given";
    return std::nullopt;
  }

  metadata["call_sid"] = *call_sid;
  if (parent != nullptr) metadata["parent_call_sid"] = *parent;
  if (account != nullptr && !account->empty()) metadata["account_sid"] = *account;
  metadata["call_status"] = *status;
  metadata["twilio_direction"] = d;
  if (!options.queue.empty()) metadata["queue"] = options.queue;

  in.channel = "phone";
  in.source = source;
  in.external_id = *call_sid + ":" + *status;
  in.conversation_key = parent != nullptr ? *parent : *call_sid;
  in.from = *from;
  in.to = *to;
  in.agent = agent;
  in.region = options.region;
  if (const std::string* name = param(params, "CallerName");
      name != nullptr && name->size() <= max_address_bytes && !has_control(*name) && timeline::is_valid_utf8(*name) &&
      in.direction == "inbound") {
    in.customer_display_name = *name;
  }
  add_phone_claim(in, customer);
  in.metadata_json = dump(metadata);
  return in;
}

SequenceGuard::SequenceGuard(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

bool SequenceGuard::admit(std::string_view call_sid, std::optional<std::int64_t> sequence_number, bool terminal) {
  std::string key(call_sid);
  auto found = index_.find(key);
  if (found == index_.end()) {
    if (index_.size() >= capacity_) {
      index_.erase(recent_.back().call_sid);
      recent_.pop_back();
    }
    recent_.push_front(CallState{key, sequence_number, terminal});
    index_.emplace(std::move(key), recent_.begin());
    return true;
  }
  recent_.splice(recent_.begin(), recent_, found->second);  // touch
  CallState& state = *found->second;
  bool newer = sequence_number && (!state.highest || *sequence_number > *state.highest);
  bool admitted;
  if (state.ended) {
    admitted = false;  // nothing moves a call after its end (a duplicate end is a retry)
  } else if (terminal) {
    admitted = true;  // newer, or older but the first end seen
  } else {
    admitted = newer || !sequence_number;
  }
  if (admitted) {
    if (newer) state.highest = sequence_number;
    state.ended = state.ended || terminal;
  }
  return admitted;
}

std::string twiml_answer(const std::string& say_text, const std::string& dial_target) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>";
  if (!say_text.empty()) {
    out += "<Say>";
    append_escaped(out, say_text);
    out += "</Say>";
  }
  if (!dial_target.empty()) {
    out += "<Dial>";
    if (starts_with(dial_target, "client:")) {
      out += "<Client>";
      append_escaped(out, std::string_view(dial_target).substr(7));
      out += "</Client>";
    } else if (starts_with(dial_target, "sip:")) {
      out += "<Sip>";
      append_escaped(out, dial_target);
      out += "</Sip>";
    } else {
      append_escaped(out, dial_target);
    }
    out += "</Dial>";
  }
  out += "</Response>\n";
  return out;
}

}  // namespace omnitrail::connectors::webhooks
