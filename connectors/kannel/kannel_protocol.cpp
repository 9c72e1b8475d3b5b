#include "connectors/kannel/kannel_protocol.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <nlohmann/json.hpp>

#include "daemon/timeline/customer_view.hpp"
#include "daemon/util/hmac.hpp"

namespace omnitrail::connectors::kannel {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxFieldBytes = 128;
constexpr std::size_t kMaxReportBytes = 200;
// 2000-01-01 and one day: a time outside [2000, now + 1 day] is the SMSC's clock, not the message's.
constexpr std::int64_t kYear2000Ms = 946684800000;
constexpr std::int64_t kDayMs = 86400000;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes percent escapes and '+'; false on a '%' without two hex digits.
bool decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return true;
}

bool printable_ascii(std::string_view s) {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

// The value of `name` when it occurs at most once; `duplicate` set when it occurs more often.
const std::string* single(const Params& params, std::string_view name, bool& duplicate) {
  const std::string* found = nullptr;
  for (const auto& [key, value] : params) {
    if (key != name) continue;
    if (found) {
      duplicate = true;
      return nullptr;
    }
    found = &value;
  }
  return found;
}

// A decimal integer (optional leading '-') in [min, max], nothing else.
std::optional<std::int64_t> parse_int(std::string_view s, std::int64_t min, std::int64_t max) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  bool negative = s[0] == '-';
  std::size_t i = negative ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  std::int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const int digit = s[i] - '0';
    if (v > (INT64_MAX - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  if (negative) v = -v;
  if (v < min || v > max) return std::nullopt;
  return v;
}

std::int64_t plausible_time_ms(const std::string* seconds, std::int64_t now_ms) {
  if (!seconds) return 0;
  auto v = parse_int(*seconds, 0, 253402300799);  // up to 9999-12-31
  if (!v) return 0;
  std::int64_t ms = *v * 1000;
  if (ms < kYear2000Ms) return 0;
  if (now_ms > 0 && ms > now_ms + kDayMs) return 0;
  return ms;
}

// The charset parameter of a Content-Type value ("text/plain; charset=UTF-8"), or "".
std::string content_type_charset(std::string_view content_type) {
  std::string lowered = lower(content_type);
  auto at = lowered.find("charset=");
  if (at == std::string::npos) return {};
  std::string_view rest = std::string_view(content_type).substr(at + 8);
  auto end = rest.find(';');
  std::string value = trim(rest.substr(0, end));
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
  return value;
}

enum class Charset { utf8, utf16be, latin1, binary, unknown };

Charset classify_charset(std::string_view name) {
  std::string n = lower(name);
  if (n == "utf-8" || n == "utf8") return Charset::utf8;
  if (n == "utf-16be" || n == "utf-16" || n == "ucs-2" || n == "ucs-2be" || n == "ucs2") return Charset::utf16be;
  if (n == "iso-8859-1" || n == "iso8859-1" || n == "iso_8859-1" || n == "latin1" || n == "latin-1" ||
      n == "windows-1252")
    return Charset::latin1;
  if (n == "8-bit" || n == "binary") return Charset::binary;
  return Charset::unknown;
}

bool is_valid_id(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::optional<Params> parse_params(std::string_view query, std::string& error, std::size_t max_fields,
                                   std::size_t max_value_bytes) {
  Params out;
  std::size_t i = 0;
  std::size_t position = 0;
  std::string name;
  std::string value;
  while (i < query.size()) {
    std::size_t amp = query.find('&', i);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(i, amp - i);
    i = amp + 1;
    if (part.empty()) continue;
    ++position;
    std::string where = "parameter " + std::to_string(position);
    if (out.size() >= max_fields) {
      error = "more than " + std::to_string(max_fields) + " parameters";
      return std::nullopt;
    }
    std::size_t eq = part.find('=');
    std::string_view raw_name = part.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
    if (raw_name.empty()) {
      error = where + ": empty name";
      return std::nullopt;
    }
    if (raw_name.size() > 3 * 64 || !decode(raw_name, name) || name.empty() || name.size() > 64 ||
        !printable_ascii(name)) {
      error = where + ": the name is not a plain parameter name";
      return std::nullopt;
    }
    where += " (" + name + ")";
    // Every decoded byte takes at least one input byte: a cheap bound before decoding.
    if (raw_value.size() > 3 * max_value_bytes) {
      error = where + ": longer than " + std::to_string(max_value_bytes) + " bytes";
      return std::nullopt;
    }
    if (!decode(raw_value, value)) {
      error = where + ": invalid percent escape";
      return std::nullopt;
    }
    if (value.size() > max_value_bytes) {
      error = where + ": longer than " + std::to_string(max_value_bytes) + " bytes";
      return std::nullopt;
    }
    out.emplace_back(name, value);
  }
  return out;
}

const std::string* find_param(const Params& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return &value;
  }
  return nullptr;
}

std::optional<MoMessage> parse_mo(const MoRequest& request, std::int64_t now_ms, std::string& error) {
  const Params& params = request.params;
  for (std::string_view name : {"id", "from", "to", "text", "coding", "charset", "time", "smsc", "secret"}) {
    bool duplicate = false;
    (void)single(params, name, duplicate);
    if (duplicate) {
      error = std::string(name) + ": given more than once";
      return std::nullopt;
    }
  }
  MoMessage mo;
  struct Required {
    const char* name;
    const char* escape;  // what the sms-service URL passes
    std::string* target;
  };
  for (Required field : {Required{"id", "id=%I", &mo.id}, Required{"from", "from=%p", &mo.from},
                         Required{"to", "to=%P", &mo.to}}) {
    const std::string* v = find_param(params, field.name);
    if (!v || v->empty()) {
      error = std::string(field.name) + ": missing (the sms-service URL must pass " + field.escape + ")";
      return std::nullopt;
    }
    if (v->size() > kMaxFieldBytes || !printable_ascii(*v)) {
      error = std::string(field.name) + ": must be 1 to 128 printable ASCII characters";
      return std::nullopt;
    }
    *field.target = *v;
  }

  // The raw text and how it is encoded.
  const std::string* text = find_param(params, "text");
  std::string charset_name;
  if (const std::string* c = find_param(params, "charset"); c && !c->empty()) charset_name = *c;
  std::string_view coding_text;
  if (const std::string* c = find_param(params, "coding"); c && !c->empty()) coding_text = *c;
  if (request.body) {
    if (text) {
      error = "text: given both as a parameter and as the POST body";
      return std::nullopt;
    }
    text = request.body;
    if (charset_name.empty()) charset_name = content_type_charset(request.content_type);
    if (coding_text.empty()) coding_text = request.coding_header;
  }
  if (!text) {
    error = "text: missing (the sms-service get-url must pass text=%b, or use post-url)";
    return std::nullopt;
  }
  if (!coding_text.empty()) {
    auto coding = parse_int(trim(coding_text), -1, 2);
    if (!coding) {
      error = "coding: must be -1, 0, 1 or 2 (Kannel's %c)";
      return std::nullopt;
    }
    mo.coding = static_cast<int>(*coding);
  }
  Charset charset = Charset::utf8;
  if (!charset_name.empty()) {
    charset = classify_charset(charset_name);
    if (charset == Charset::unknown) {
      error = "charset: not one this connector decodes (UTF-8, UTF-16BE, UCS-2, ISO-8859-1)";
      return std::nullopt;
    }
  } else if (mo.coding == static_cast<int>(Coding::ucs2)) {
    charset = Charset::utf16be;
  } else if (mo.coding == static_cast<int>(Coding::binary)) {
    charset = Charset::binary;
  }
  if (charset == Charset::binary) {
    error = "text: a binary (8-bit) message is not text";
    return std::nullopt;
  }
  switch (charset) {
    case Charset::utf8:
      if (!timeline::is_valid_utf8(*text) || text->find('\0') != std::string::npos) {
        error = "text: not valid UTF-8 (charset UTF-8)";
        return std::nullopt;
      }
      mo.text = *text;
      mo.charset = "UTF-8";
      break;
    case Charset::utf16be: {
      auto decoded = utf16be_to_utf8(*text);
      if (!decoded) {
        error = "text: not valid UTF-16BE (charset UTF-16BE / coding 2)";
        return std::nullopt;
      }
      mo.text = std::move(*decoded);
      mo.charset = "UTF-16BE";
      break;
    }
    case Charset::latin1: {
      auto decoded = latin1_to_utf8(*text);
      if (!decoded) {
        error = "text: contains a NUL byte";
        return std::nullopt;
      }
      mo.text = std::move(*decoded);
      mo.charset = "ISO-8859-1";
      break;
    }
    default:
      error = "text: unsupported charset";
      return std::nullopt;
  }
  mo.time_ms = plausible_time_ms(find_param(params, "time"), now_ms);
  if (const std::string* smsc = find_param(params, "smsc")) {
    if (smsc->size() > kMaxFieldBytes || (!smsc->empty() && !printable_ascii(*smsc))) {
      error = "smsc: must be at most 128 printable ASCII characters";
      return std::nullopt;
    }
    mo.smsc = *smsc;
  }
  return mo;
}

std::string canonical_number(const identity::Normalizer& keyer, std::string_view number, std::string_view region) {
  auto result = keyer.phone(number, region);
  if (result.ok()) {
    const std::string& key = result.identifier().key;
    return key.substr(0, key.find(';'));  // no ";ext=" in an SMS number
  }
  std::string out;
  for (char c : number) {
    if (c != ' ' && c != '\t') out += c;
  }
  return out;
}

std::string conversation_key(const identity::Normalizer& keyer, std::string_view customer, std::string_view ours,
                             std::string_view region) {
  return "sms:" + canonical_number(keyer, customer, region) + ":" + canonical_number(keyer, ours, region);
}

timeline::Interaction mo_to_interaction(const MoMessage& mo, const identity::Normalizer& keyer,
                                        const MoOptions& options) {
  timeline::Interaction in;
  in.channel = "sms";
  in.direction = "inbound";
  in.kind = "sms.received";
  in.occurred_at_ms = mo.time_ms > 0 ? mo.time_ms : options.received_at_ms;
  in.source = options.source;
  in.external_id = mo.id;
  in.conversation_key = conversation_key(keyer, mo.from, mo.to, options.region);
  in.from = mo.from;
  in.to = mo.to;
  in.text = mo.text;
  in.region = options.region;
  timeline::IdentifierClaim claim;
  claim.kind = identity::IdentifierKind::phone;
  claim.raw = mo.from;
  in.customer_identifiers.push_back(std::move(claim));
  json kannel{{"id", mo.id}, {"charset", mo.charset}, {"to", mo.to}};
  if (mo.coding >= 0) kannel["coding"] = mo.coding;
  if (!mo.smsc.empty()) kannel["smsc"] = mo.smsc;
  json metadata{{"kannel", std::move(kannel)}};
  if (!options.queue.empty()) metadata["queue"] = options.queue;
  in.metadata_json = metadata.dump(-1, ' ', false, json::error_handler_t::replace);
  return in;
}

std::optional<DlrRequest> parse_dlr(const Params& params, std::string& error) {
  for (std::string_view name : {"message_id", "sig", "type", "smsc_id", "report", "time"}) {
    bool duplicate = false;
    (void)single(params, name, duplicate);
    if (duplicate) {
      error = std::string(name) + ": given more than once";
      return std::nullopt;
    }
  }
  DlrRequest dlr;
  const std::string* id = find_param(params, "message_id");
  if (!id || !is_valid_id(*id, 64)) {
    error = id ? "message_id: not a message id" : "message_id: missing";
    return std::nullopt;
  }
  dlr.message_id = *id;
  const std::string* sig = find_param(params, "sig");
  if (!sig || sig->size() != 64 || !is_lower_hex(*sig)) {
    error = sig ? "sig: not a signature (64 lower-case hex digits)" : "sig: missing";
    return std::nullopt;
  }
  dlr.signature = *sig;
  const std::string* type = find_param(params, "type");
  auto value = type ? parse_int(*type, 1, 31) : std::nullopt;
  if (!value) {
    error = type ? "type: not a Kannel DLR type (1..31)" : "type: missing";
    return std::nullopt;
  }
  dlr.type = static_cast<int>(*value);
  if (const std::string* smsc_id = find_param(params, "smsc_id")) dlr.smsc_id = printable(*smsc_id, kMaxFieldBytes);
  if (const std::string* report = find_param(params, "report")) dlr.report = printable(*report, kMaxReportBytes);
  dlr.time_ms = plausible_time_ms(find_param(params, "time"), 0);
  return dlr;
}

std::string_view dlr_status(int type) noexcept {
  if (type & (2 | 16)) return "failed";
  if (type & 1) return "delivered";
  if (type & (4 | 8)) return "sent";
  return "";
}

DeliveryReport delivery_report(const DlrRequest& dlr, std::int64_t received_at_ms) {
  DeliveryReport r;
  r.message_id = dlr.message_id;
  r.provider_id = dlr.smsc_id;
  r.status = std::string(dlr_status(dlr.type));
  r.occurred_at_ms = dlr.time_ms > 0 ? dlr.time_ms : received_at_ms;
  if (r.status == "failed") {
    r.error = std::string((dlr.type & 16) ? "rejected by the SMSC" : "not delivered") + " (DLR " +
              std::to_string(dlr.type) + ")";
    if (!dlr.report.empty()) r.error += ": " + dlr.report;
  }
  return r;
}

std::string dlr_signature(std::string_view secret, std::string_view connector, std::string_view message_id) {
  std::string data = "kannel-dlr:";
  data.append(connector).append(":").append(message_id);
  return util::hmac_sha256_hex(secret, data);
}

std::string dlr_url(std::string_view callback_base, std::string_view path, std::string_view message_id,
                    std::string_view signature) {
  std::string url(callback_base);
  while (!url.empty() && url.back() == '/') url.pop_back();
  url.append(path);
  url += "?message_id=" + timeline::url_encode(std::string(message_id));
  url += "&sig=" + timeline::url_encode(std::string(signature));
  url += "&type=%d&smsc_id=%F&report=%A&time=%T";
  return url;
}

std::string sendsms_url(const Sendsms& r) {
  auto enc = [](const std::string& v) { return timeline::url_encode(v); };
  std::string url = r.base_url;
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += "username=" + enc(r.username);
  url += "&password=" + enc(r.password);
  url += "&from=" + enc(r.from);
  url += "&to=" + enc(r.to);
  url += "&text=" + enc(r.text);
  url += "&charset=UTF-8";
  url += "&coding=" + std::to_string(static_cast<int>(r.coding));
  if (!r.smsc.empty()) url += "&smsc=" + enc(r.smsc);
  if (r.dlr_mask > 0 && !r.dlr_url.empty()) {
    url += "&dlr-mask=" + std::to_string(r.dlr_mask);
    url += "&dlr-url=" + enc(r.dlr_url);
  }
  return url;
}

SendResult sendsms_result(int http_status, std::string_view body, std::string_view password) {
  SendResult r;
  r.provider_code = http_status;
  std::string_view first_line = body.substr(0, body.find_first_of("\r\n"));
  std::string reply = printable(first_line, kMaxReportBytes);
  scrub(reply, password);
  if (http_status >= 200 && http_status < 300) {
    r.outcome = SendResult::Outcome::sent;
    return r;
  }
  r.outcome = (http_status >= 500 || http_status == 429) ? SendResult::Outcome::retry : SendResult::Outcome::failed;
  r.error = "sendsms: HTTP " + std::to_string(http_status);
  if (!reply.empty()) r.error += ": " + reply;
  return r;
}

std::string printable(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  std::size_t i = 0;
  while (i < text.size()) {
    // Length of one valid UTF-8 sequence at i, 0 when invalid.
    const auto b0 = static_cast<unsigned char>(text[i]);
    std::size_t len = b0 < 0x80 ? 1 : (b0 & 0xE0) == 0xC0 ? 2 : (b0 & 0xF0) == 0xE0 ? 3 : (b0 & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > text.size() || !timeline::is_valid_utf8(text.substr(i, len))) {
      if (out.size() + 3 > max_bytes) break;
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (out.size() + len > max_bytes) break;
    if (len == 1 && (b0 < 0x20 || b0 == 0x7f)) {
      out += ' ';
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

void scrub(std::string& text, std::string_view secret) {
  if (secret.empty()) return;
  for (const std::string& needle : {std::string(secret), timeline::url_encode(std::string(secret))}) {
    std::size_t at = 0;
    while ((at = text.find(needle, at)) != std::string::npos) {
      text.replace(at, needle.size(), "***");
      at += 3;
    }
  }
}

std::string AllowList::add(std::string_view entry) {
  Entry e;
  std::string text(entry);
  int prefix = -1;
  if (auto slash = text.find('/'); slash != std::string::npos) {
    std::string_view digits = std::string_view(text).substr(slash + 1);
    auto p = parse_int(digits, 0, 128);
    if (!p || digits.front() == '-' || digits.size() > 3) return "\"" + printable(entry, 64) + "\": the prefix length after '/' is not a number";
    prefix = static_cast<int>(*p);
    text.resize(slash);
  }
  if (inet_pton(AF_INET, text.c_str(), e.bytes.data()) == 1) {
    e.v6 = false;
    if (prefix > 32) return "\"" + printable(entry, 64) + "\": an IPv4 prefix is at most /32";
    e.prefix = prefix < 0 ? 32 : prefix;
  } else if (inet_pton(AF_INET6, text.c_str(), e.bytes.data()) == 1) {
    e.v6 = true;
    e.prefix = prefix < 0 ? 128 : prefix;
  } else {
    return "\"" + printable(entry, 64) + "\" is not an IP address or CIDR block (e.g. 127.0.0.1, 10.0.0.0/8, ::1)";
  }
  entries_.push_back(e);
  return {};
}

bool AllowList::allows(std::string_view remote) const noexcept {
  if (entries_.empty()) return true;
  std::string host;
  try {
    if (!remote.empty() && remote.front() == '[') {
      auto close = remote.find(']');
      if (close == std::string_view::npos) return false;
      host = std::string(remote.substr(1, close - 1));
    } else if (std::count(remote.begin(), remote.end(), ':') == 1) {
      host = std::string(remote.substr(0, remote.find(':')));
    } else {
      host = std::string(remote);
    }
  } catch (...) {
    return false;
  }
  std::array<unsigned char, 16> addr{};
  bool v6 = false;
  if (inet_pton(AF_INET, host.c_str(), addr.data()) == 1) {
    v6 = false;
  } else if (inet_pton(AF_INET6, host.c_str(), addr.data()) == 1) {
    static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(addr.data(), mapped, 12) == 0) {
      std::memmove(addr.data(), addr.data() + 12, 4);
      v6 = false;
    } else {
      v6 = true;
    }
  } else {
    return false;
  }
  for (const Entry& e : entries_) {
    if (e.v6 != v6) continue;
    int bits = e.prefix;
    bool match = true;
    for (int i = 0; bits > 0 && match; ++i, bits -= 8) {
      unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
      match = (addr[static_cast<std::size_t>(i)] & mask) == (e.bytes[static_cast<std::size_t>(i)] & mask);
    }
    if (match) return true;
  }
  return false;
}

}  // namespace omnitrail::connectors::kannel
