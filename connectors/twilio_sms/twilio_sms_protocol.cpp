#include "connectors/twilio_sms/twilio_sms_protocol.hpp"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "connectors/webhooks/events.hpp"
#include "daemon/identity/normalizer.hpp"
#include "daemon/timeline/customer_view.hpp"

namespace omnitrail::connectors::twilio_sms {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxAddressBytes = 64;
constexpr std::size_t kMaxMediaUrlBytes = 2048;
constexpr std::size_t kMaxErrorBytes = 300;

const std::string* value_of(const FormParams& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return &value;
  }
  return nullptr;
}

bool is_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool all_digits(std::string_view text) { return !text.empty() && std::all_of(text.begin(), text.end(), is_digit); }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// A MessageSid: Twilio's are two letters and 32 hex digits; accept any 1..64 letters/digits so a
// new prefix or length does not drop messages.
bool valid_message_sid(std::string_view sid) {
  return !sid.empty() && sid.size() <= 64 && std::all_of(sid.begin(), sid.end(), is_alnum);
}

// "" when `value` is a usable From/To, else the problem.
std::string check_address(const std::string* value) {
  if (value == nullptr) return "missing";
  std::string_view t = trim(*value);
  if (t.empty()) return "empty";
  if (t.size() > kMaxAddressBytes) return "longer than " + std::to_string(kMaxAddressBytes) + " bytes";
  if (has_control(t)) return "contains control characters";
  return {};
}

bool valid_media_url(std::string_view url) {
  if (url.size() > kMaxMediaUrlBytes) return false;
  std::size_t host = 0;
  if (url.rfind("https://", 0) == 0) {
    host = 8;
  } else if (url.rfind("http://", 0) == 0) {
    host = 7;
  } else {
    return false;
  }
  if (url.size() == host || url[host] == '/') return false;
  return std::none_of(url.begin(), url.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

// Decodes one code point of (assumed valid) UTF-8 at `i`, advancing it; a stray byte is
// returned as itself so that counting never loops or reads past the end.
char32_t next_code_point(std::string_view text, std::size_t& i) {
  auto b = static_cast<unsigned char>(text[i]);
  std::size_t length = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 1;
  if (i + length > text.size()) length = 1;
  char32_t cp = length == 1 ? b : length == 2 ? (b & 0x1f) : length == 3 ? (b & 0x0f) : (b & 0x07);
  for (std::size_t k = 1; k < length; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
  i += length;
  return cp;
}

// GSM 03.38: 1 for the basic character set, 2 for the extension table (escape + char), 0 when
// the character has no GSM-7 encoding.
int gsm_units(char32_t c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 1;
  static constexpr std::array<char32_t, 64> basic = {
      U'@', U'£', U'$', U'¥', U'è', U'é', U'ù', U'ì', U'ò', U'Ç', U'\n', U'Ø', U'ø', U'\r', U'Å', U'å',
      U'Δ', U'_', U'Φ', U'Γ', U'Λ', U'Ω', U'Π', U'Ψ', U'Σ', U'Θ', U'Ξ', U'Æ', U'æ', U'ß', U'É', U' ',
      U'!', U'"', U'#', U'¤', U'%', U'&', U'\'', U'(', U')', U'*', U'+', U',', U'-', U'.', U'/', U':',
      U';', U'<', U'=', U'>', U'?', U'¡', U'Ä', U'Ö', U'Ñ', U'Ü', U'§', U'¿', U'ä', U'ö', U'ñ', U'ü'};
  if (c == U'à' || std::find(basic.begin(), basic.end(), c) != basic.end()) return 1;
  static constexpr std::array<char32_t, 10> extension = {U'^', U'{', U'}', U'\\', U'[', U'~', U']', U'|', U'€', U'\f'};
  if (std::find(extension.begin(), extension.end(), c) != extension.end()) return 2;
  return 0;
}

std::string bounded(std::string text) {
  // Control characters out (this text reaches logs), then cut without splitting UTF-8.
  text.erase(std::remove_if(text.begin(), text.end(),
                            [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }),
             text.end());
  timeline::truncate_utf8(text, kMaxErrorBytes);
  return text;
}

// "code: message" from Twilio's JSON error body {"code": 21211, "message": "...", ...}, or "".
std::string twilio_error_of(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return {};
  std::string out;
  if (auto c = j.find("code"); c != j.end() && c->is_number_integer()) out = "Twilio error " + std::to_string(c->get<std::int64_t>());
  if (auto m = j.find("message"); m != j.end() && m->is_string()) {
    out += out.empty() ? "Twilio: " : ": ";
    out += m->get<std::string>();
  }
  return out;
}

const json* object_member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string string_member(const json& j, const char* key) {
  const json* v = object_member(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// An address field of the interaction JSON: {"raw": ..., "key": ...} (or a bare string).
std::string address_raw(const json& parent, const char* key) {
  const json* v = object_member(parent, key);
  if (v == nullptr) return {};
  if (v->is_string()) return v->get<std::string>();
  return string_member(*v, "raw");
}

}  // namespace

bool is_sid(std::string_view text, std::string_view prefix) noexcept {
  return text.size() == prefix.size() + 32 && text.substr(0, prefix.size()) == prefix &&
         std::all_of(text.begin() + static_cast<std::ptrdiff_t>(prefix.size()), text.end(), is_hex);
}

bool is_e164(std::string_view text) noexcept {
  return text.size() >= 8 && text.size() <= 16 && text[0] == '+' && text[1] != '0' && all_digits(text.substr(1));
}

std::string request_url(const std::string& public_url, std::string_view raw_query) {
  if (raw_query.empty()) return public_url;
  std::string url = public_url;
  url += '?';
  url.append(raw_query);
  return url;
}

std::string conversation_key(std::string_view customer, std::string_view our_side) {
  std::string key = "sms:";
  key.append(customer);
  key += ':';
  key.append(our_side);
  return key;
}

std::string customer_key(std::string_view raw, const identity::Normalizer* normalizer, std::string_view region) {
  std::string_view t = trim(raw);
  if (normalizer != nullptr) {
    auto r = normalizer->phone(t, region);
    if (r.ok() && r.identifier().key.find(';') == std::string::npos) return r.identifier().key;
  }
  return std::string(t);
}

std::optional<timeline::Interaction> inbound_to_interaction(const FormParams& params, const std::string& source,
                                                            std::string& error, const InboundOptions& options) {
  const std::string* sid = value_of(params, "MessageSid");
  if (sid == nullptr) sid = value_of(params, "SmsMessageSid");  // the legacy name
  if (sid == nullptr || !valid_message_sid(*sid)) {
    error = sid == nullptr ? "MessageSid: missing" : "MessageSid: not 1..64 letters and digits";
    return std::nullopt;
  }
  const std::string* account = value_of(params, "AccountSid");
  if (account == nullptr || account->empty()) {
    error = "AccountSid: missing";
    return std::nullopt;
  }
  if (!options.account_sid.empty() && *account != options.account_sid) {
    error = "AccountSid: not this connector's account";
    return std::nullopt;
  }
  const std::string* from = value_of(params, "From");
  const std::string* to = value_of(params, "To");
  for (auto [name, value] : {std::pair{"From", from}, std::pair{"To", to}}) {
    if (auto problem = check_address(value); !problem.empty()) {
      error = std::string(name) + ": " + problem;
      return std::nullopt;
    }
  }
  int num_media = 0;
  if (const std::string* n = value_of(params, "NumMedia")) {
    if (!all_digits(*n) || n->size() > 2 || std::stoi(*n) > kMaxMedia) {
      error = "NumMedia: not an integer 0.." + std::to_string(kMaxMedia);
      return std::nullopt;
    }
    num_media = std::stoi(*n);
  }
  const std::string* body = value_of(params, "Body");
  if (body == nullptr && num_media == 0) {
    error = "Body: missing (and no media)";
    return std::nullopt;
  }
  json media = json::array();
  for (int i = 0; i < num_media; ++i) {
    const std::string index = std::to_string(i);
    const std::string* url = value_of(params, "MediaUrl" + index);
    if (url == nullptr || !valid_media_url(*url)) {
      error = "MediaUrl" + index + (url == nullptr ? ": missing (NumMedia is " + std::to_string(num_media) + ")"
                                                   : ": not an http(s) URL of at most 2048 bytes");
      return std::nullopt;
    }
    json item = {{"url", *url}, {"content_type", nullptr}};
    if (const std::string* type = value_of(params, "MediaContentType" + index);
        type != nullptr && !type->empty() && type->size() <= 255 && !has_control(*type)) {
      item["content_type"] = *type;
    }
    media.push_back(std::move(item));
  }

  const std::string* service = value_of(params, "MessagingServiceSid");
  const bool via_service = service != nullptr && !options.messaging_service_sid.empty() &&
                           *service == options.messaging_service_sid;
  const std::string customer(trim(*from));
  const std::string our_number(trim(*to));

  timeline::Interaction in;
  in.channel = "sms";
  in.direction = "inbound";
  in.kind = "sms.received";
  in.occurred_at_ms = options.received_at_ms;
  in.source = source;
  in.external_id = *sid;
  in.conversation_key = conversation_key(customer_key(customer, options.normalizer, options.region),
                                         via_service ? std::string_view(*service) : std::string_view(our_number));
  in.from = customer;
  in.to = our_number;
  in.text = body != nullptr ? *body : std::string();
  in.customer_identifiers.push_back({identity::IdentifierKind::phone, customer, identity::Trust::claimed});
  in.region = options.region;

  json metadata = {{"message_sid", *sid},
                   {"account_sid", *account},
                   {"messaging_service_sid", service != nullptr && !service->empty() ? json(*service) : json(nullptr)},
                   {"our_number", our_number},
                   {"num_media", num_media},
                   {"media", std::move(media)},
                   {"num_segments", nullptr}};
  if (const std::string* segments = value_of(params, "NumSegments");
      segments != nullptr && all_digits(*segments) && segments->size() <= 4) {
    metadata["num_segments"] = std::stoi(*segments);
  }
  if (!options.queue.empty()) metadata["queue"] = options.queue;
  in.metadata_json = metadata.dump(-1, ' ', false, json::error_handler_t::replace);
  return in;
}

std::string delivery_status(std::string_view s) {
  if (s == "queued" || s == "accepted" || s == "scheduled" || s == "sending" || s == "sent") return "sent";
  if (s == "delivered" || s == "read") return "delivered";
  if (s == "failed" || s == "undelivered" || s == "canceled") return "failed";
  return {};
}

std::string_view error_code_text(int code) noexcept {
  switch (code) {
    case 30001: return "queue overflow";
    case 30002: return "account suspended";
    case 30003: return "unreachable destination handset";
    case 30004: return "message blocked";
    case 30005: return "unknown destination handset";
    case 30006: return "landline or unreachable carrier";
    case 30007: return "message filtered by the carrier";
    case 30008: return "unknown error";
    case 30034: return "message from an unregistered number";
    case 21610: return "the recipient has opted out (STOP)";
    case 21211: return "invalid 'To' phone number";
    case 21408: return "permission to send to this region is not enabled";
    case 21614: return "'To' is not a mobile number";
    default: return {};
  }
}

StatusCallback read_status_callback(const FormParams& params, std::string_view message_id,
                                    const std::string& account_sid, std::int64_t received_at_ms) {
  StatusCallback out;
  const std::string* sid = value_of(params, "MessageSid");
  if (sid == nullptr) sid = value_of(params, "SmsSid");
  if (sid == nullptr || !valid_message_sid(*sid)) {
    out.error = sid == nullptr ? "MessageSid: missing" : "MessageSid: not 1..64 letters and digits";
    return out;
  }
  const std::string* account = value_of(params, "AccountSid");
  if (account == nullptr || account->empty()) {
    out.error = "AccountSid: missing";
    return out;
  }
  if (!account_sid.empty() && *account != account_sid) {
    out.error = "AccountSid: not this connector's account";
    return out;
  }
  const std::string* status = value_of(params, "MessageStatus");
  if (status == nullptr) status = value_of(params, "SmsStatus");
  if (status == nullptr || status->empty() || status->size() > 32 ||
      !std::all_of(status->begin(), status->end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_' || c == '-'; })) {
    out.error = status == nullptr ? "MessageStatus: missing" : "MessageStatus: not a status word";
    return out;
  }
  out.twilio_status = *status;
  out.report.status = delivery_status(*status);
  if (out.report.status.empty()) {
    out.outcome = StatusCallback::Outcome::ignore;
    return out;
  }
  out.report.provider_id = *sid;
  if (message_id.size() == 18 && message_id.substr(0, 2) == "m_" &&
      std::all_of(message_id.begin() + 2, message_id.end(), [](char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); })) {
    out.report.message_id = std::string(message_id);
  }
  out.report.occurred_at_ms = received_at_ms;
  if (out.report.status == "failed") {
    const std::string* code = value_of(params, "ErrorCode");
    if (code != nullptr && all_digits(*code) && code->size() <= 9) {
      int n = std::stoi(*code);
      out.report.error = "Twilio error " + std::to_string(n);
      if (auto text = error_code_text(n); !text.empty()) out.report.error += ": " + std::string(text);
    } else {
      out.report.error = "Twilio status " + *status;
    }
  }
  out.outcome = StatusCallback::Outcome::report;
  return out;
}

std::size_t code_points(std::string_view text) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < text.size(); ++n) next_code_point(text, i);
  return n;
}

SegmentInfo count_segments(std::string_view text) {
  SegmentInfo info;
  std::size_t gsm = 0;
  std::size_t utf16 = 0;
  bool gsm_ok = true;
  for (std::size_t i = 0; i < text.size();) {
    char32_t c = next_code_point(text, i);
    utf16 += c > 0xffff ? 2 : 1;
    int units = gsm_ok ? gsm_units(c) : 0;
    if (units == 0) gsm_ok = false;
    gsm += static_cast<std::size_t>(units);
  }
  if (gsm_ok) {
    info.encoding = "GSM-7";
    info.units = gsm;
    info.segments = gsm == 0 ? 1 : gsm <= 160 ? 1 : (gsm + 152) / 153;
  } else {
    info.encoding = "UCS-2";
    info.units = utf16;
    info.segments = utf16 <= 70 ? 1 : (utf16 + 66) / 67;
  }
  return info;
}

std::string prepare_message(OutboundMessage& message, const SendOptions& options,
                            const identity::Normalizer& normalizer, std::string_view region) {
  const json& parent = message.parent;
  const bool parent_ours = parent.is_object() && string_member(parent, "source") == message.connector &&
                           string_member(parent, "channel") == "sms";
  std::string to = std::string(trim(message.to));
  if (to.empty() && parent.is_object()) {
    to = address_raw(parent, string_member(parent, "direction") == "outbound" ? "to" : "from");
  }
  if (to.empty()) return "to: required (the customer's phone number)";
  auto normalized = normalizer.phone(to, region);
  if (!normalized.ok()) {
    return "to: not a phone number this connector can text (" + std::string(identity::to_string(normalized.reason())) +
           "): " + normalized.text();
  }
  if (normalized.identifier().key.find(';') != std::string::npos) return "to: a number with an extension cannot receive SMS";
  const std::size_t characters = code_points(message.text);
  if (message.text.empty()) return "text: required";
  if (characters > kMaxBodyCharacters) {
    return "text: " + std::to_string(characters) + " characters; Twilio sends at most " +
           std::to_string(kMaxBodyCharacters) + " in one message";
  }

  // Our side: the service or number the customer's conversation is with.
  std::string service = options.messaging_service_sid;
  std::string number = options.from;
  if (parent_ours) {
    const json* metadata = object_member(parent, "metadata");
    std::string parent_service = metadata ? string_member(*metadata, "messaging_service_sid") : std::string();
    std::string parent_number = metadata ? string_member(*metadata, "our_number") : std::string();
    if (!service.empty() && parent_service == service) {
      number.clear();
    } else if (is_e164(parent_number)) {
      service.clear();
      number = parent_number;
    }
  }
  if (!service.empty() && number == options.from) number.clear();  // the service picks the number
  if (service.empty() && number.empty()) return "from: this connector has neither a from number nor a messaging service";

  message.to = normalized.identifier().key;
  message.from = service.empty() ? number : service;
  message.external_id = message.id;
  message.conversation_key = conversation_key(message.to, message.from);
  SegmentInfo segments = count_segments(message.text);
  message.metadata = json{{"to", message.to},
                          {"our_number", number.empty() ? json(nullptr) : json(number)},
                          {"messaging_service_sid", service.empty() ? json(nullptr) : json(service)},
                          {"encoding", segments.encoding},
                          {"segments", segments.segments}};
  return {};
}

net::HttpRequest build_lookup_request(const OutboundMessage& message, const SendOptions& options) {
  net::HttpRequest request;
  request.method = "GET";
  FormParams query{{"To", message.to}};
  if (!is_sid(message.from, "MG")) query.emplace_back("From", message.from);
  query.emplace_back("PageSize", "50");
  request.url = options.api_base_url + "/2010-04-01/Accounts/" + timeline::url_encode(options.account_sid) +
                "/Messages.json?" + form_encode(query);
  request.headers = {{"Accept", "application/json"}};
  request.timeout = options.timeout;
  request.connect_timeout = options.connect_timeout;
  request.ca_file = options.ca_file;
  request.max_response_bytes = 1024 * 1024;  // 50 messages of up to 1600 characters
  request.basic_auth_user = options.account_sid;
  request.basic_auth_password = options.auth_token;
  return request;
}

LookupResult find_sent_message(const net::HttpResponse& response, const OutboundMessage& message,
                               std::int64_t not_before_ms,
                               const std::function<bool(const std::string& sid)>& is_other_message) {
  LookupResult out;
  if (!response.ok()) {
    out.error = bounded("cannot list messages: " + response.error);
    return out;
  }
  if (response.status != 200) {
    std::string twilio = twilio_error_of(response.body);
    out.error = bounded("cannot list messages: HTTP " + std::to_string(response.status) + (twilio.empty() ? "" : " " + twilio));
    return out;
  }
  json j = json::parse(response.body, nullptr, false);
  const json* list = object_member(j, "messages");
  if (list == nullptr || !list->is_array()) {
    out.error = "cannot list messages: the answer has no messages list";
    return out;
  }
  const bool via_service = is_sid(message.from, "MG");
  for (const json& item : *list) {
    if (!item.is_object()) continue;
    if (string_member(item, "to") != message.to || string_member(item, "body") != message.text) continue;
    if (string_member(item, "direction").rfind("outbound", 0) != 0) continue;
    if (string_member(item, via_service ? "messaging_service_sid" : "from") != message.from) continue;
    auto created = webhooks::parse_rfc2822_time(string_member(item, "date_created"));
    if (!created || *created < not_before_ms) continue;
    std::string sid = string_member(item, "sid");
    if (sid.empty() || (is_other_message && is_other_message(sid))) continue;
    out.outcome = LookupResult::Outcome::found;
    out.sid = bounded(std::move(sid));
    return out;
  }
  out.outcome = LookupResult::Outcome::not_found;
  return out;
}

std::string form_encode(const FormParams& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += timeline::url_encode(name);
    out += '=';
    out += timeline::url_encode(value);
  }
  return out;
}

net::HttpRequest build_send_request(const OutboundMessage& message, const SendOptions& options) {
  net::HttpRequest request;
  request.method = "POST";
  request.url = options.api_base_url + "/2010-04-01/Accounts/" + timeline::url_encode(options.account_sid) +
                "/Messages.json";
  FormParams form{{"To", message.to}};
  if (is_sid(message.from, "MG")) {
    form.emplace_back("MessagingServiceSid", message.from);
  } else {
    form.emplace_back("From", message.from);
  }
  form.emplace_back("Body", message.text);
  if (!options.status_callback_url.empty()) {
    form.emplace_back("StatusCallback", options.status_callback_url + "?m=" + timeline::url_encode(message.id));
  }
  request.body = form_encode(form);
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
  request.timeout = options.timeout;
  request.connect_timeout = options.connect_timeout;
  request.ca_file = options.ca_file;
  request.basic_auth_user = options.account_sid;
  request.basic_auth_password = options.auth_token;
  return request;
}

SendResult map_send_response(const net::HttpResponse& response) {
  SendResult result;
  result.provider_code = response.status;
  if (!response.ok()) {
    result.outcome = SendResult::Outcome::retry;
    if (response.error == "stopped") {
      result.error = "stopping";
    } else if (response.timed_out) {
      result.error = bounded("timeout: " + response.error);
    } else {
      result.error = bounded((response.connect_failed ? "cannot connect: " : "") + response.error);
    }
    return result;
  }
  const int status = response.status;
  if (status >= 200 && status < 300) {
    result.outcome = SendResult::Outcome::sent;
    json j = json::parse(response.body, nullptr, false);
    result.provider_id = bounded(string_member(j, "sid"));
    return result;
  }
  std::string twilio = twilio_error_of(response.body);
  std::string text = "HTTP " + std::to_string(status) + (twilio.empty() ? "" : " " + twilio);
  result.outcome = status == 429 || status >= 500 ? SendResult::Outcome::retry : SendResult::Outcome::failed;
  result.error = bounded(std::move(text));
  return result;
}

}  // namespace omnitrail::connectors::twilio_sms
