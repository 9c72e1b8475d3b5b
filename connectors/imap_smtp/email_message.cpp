#include "connectors/imap_smtp/email_message.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>

#include <gmime/gmime.h>

#include "connectors/imap_smtp/mail_text.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::connectors::imap_smtp {
namespace {

// g_mime_init is not thread-safe and must run once per process; g_mime_shutdown is never
// called (the daemon parses until it exits, and shutting down under a concurrent parse would be
// a use-after-free). Everything else GMime does here is on objects local to one call.
void ensure_gmime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

// Owning handles for the GLib/GMime objects of one parse.
struct GObjectUnref {
  void operator()(void* object) const noexcept {
    if (object != nullptr) g_object_unref(object);
  }
};
template <class T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct OptionsFree {
  void operator()(GMimeParserOptions* options) const noexcept { g_mime_parser_options_free(options); }
};
struct ReferencesFree {
  void operator()(GMimeReferences* refs) const noexcept { g_mime_references_free(refs); }
};

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view text) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

// Header text for display: valid UTF-8, one line, single spaces, trimmed, bounded.
std::string clean_line(const char* value, std::size_t max_bytes) {
  if (value == nullptr) return {};
  std::string repaired = repair_utf8(value);
  std::string out;
  out.reserve(repaired.size());
  bool space = false;
  for (char c : repaired) {
    if (c == '\n' || c == '\t' || c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  if (out.size() > max_bytes) {
    std::size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    while (!out.empty() && out.back() == ' ') out.pop_back();  // the cut may land after a blank
  }
  return out;
}

// An address: no blanks or controls at all, bounded.
std::string clean_address(const char* value) {
  if (value == nullptr) return {};
  std::string repaired = repair_utf8(value);
  std::string out;
  for (char c : repaired) {
    if (c != ' ' && c != '\t' && c != '\n') out += c;
  }
  if (out.size() > 320) out.clear();  // no real address is this long (RFC 5321: 254)
  return out;
}

const char* header(GMimeObject* object, const char* name) { return g_mime_object_get_header(object, name); }

// The first word of a header value (Auto-Submitted, Precedence), lower-cased, with parameters
// (";...") and comments cut and anything but letters, digits, "-" and "_" dropped.
std::string header_token(GMimeObject* object, const char* name) {
  const char* value = header(object, name);
  if (value == nullptr) return {};
  std::string_view v = value;
  v = v.substr(0, std::min(v.find(';'), v.find('(')));
  std::string out = lower(trim(v));
  if (out.size() > 40) out.resize(40);
  std::erase_if(out, [](char c) { return !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'); });
  return out;
}

void add_mailboxes(InternetAddressList* list, std::vector<Mailbox>& out, std::size_t max, const ParseLimits& limits,
                   int depth = 0) {
  if (list == nullptr || depth > 1) return;
  int n = internet_address_list_length(list);
  for (int i = 0; i < n && out.size() < max; ++i) {
    InternetAddress* address = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(address)) {
      add_mailboxes(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(address)), out, max, limits, depth + 1);
      continue;
    }
    if (!INTERNET_ADDRESS_IS_MAILBOX(address)) continue;
    Mailbox m;
    m.address = clean_address(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address)));
    m.display_name = clean_line(internet_address_get_name(address), limits.max_header_text_bytes);
    if (m.address.empty() && m.display_name.empty()) continue;
    out.push_back(std::move(m));
  }
}

std::vector<std::string> parse_ids(GMimeParserOptions* options, const char* value) {
  std::vector<std::string> ids;
  if (value == nullptr) return ids;
  std::unique_ptr<GMimeReferences, ReferencesFree> refs(g_mime_references_parse(options, value));
  if (refs) {
    int n = g_mime_references_length(refs.get());
    for (int i = 0; i < n; ++i) {
      std::string id = normalize_message_id(g_mime_references_get_message_id(refs.get(), i));
      if (!id.empty()) ids.push_back(std::move(id));
    }
  }
  if (ids.empty()) {
    std::string id = normalize_message_id(value);
    if (!id.empty()) ids.push_back(std::move(id));
  }
  return ids;
}

// The id as it reads back once written as "<id>" (what our replies' In-Reply-To and References
// do): GMime's parser treats unterminated and odd ids differently in different positions, so an
// id is only used in its fixed point form, or dropped when it has none.
std::string canonical_id(GMimeParserOptions* options, const std::string& id) {
  std::string current = id;
  for (int round = 0; round < 2; ++round) {
    std::string wrapped = "<" + current + ">";
    std::unique_ptr<GMimeReferences, ReferencesFree> refs(g_mime_references_parse(options, wrapped.c_str()));
    if (!refs || g_mime_references_length(refs.get()) != 1) return {};
    std::string again = normalize_message_id(g_mime_references_get_message_id(refs.get(), 0));
    if (again == current) return current;
    current = std::move(again);
    if (current.empty()) return {};
  }
  return {};
}

std::string sha256_hex(std::string_view bytes) {
  GChecksum* checksum = g_checksum_new(G_CHECKSUM_SHA256);
  // g_checksum_update takes gssize; feed in chunks so any size fits.
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    std::size_t chunk = std::min<std::size_t>(bytes.size() - offset, 1u << 30);
    g_checksum_update(checksum, reinterpret_cast<const guchar*>(bytes.data() + offset), static_cast<gssize>(chunk));
    offset += chunk;
  }
  std::string hex = g_checksum_get_string(checksum);
  g_checksum_free(checksum);
  return hex;
}

// What GMime would allocate for, counted on the raw bytes before it sees them: the top-level
// header fields, header fields in part header blocks (the lines after a "--" line up to a blank
// line, a superset of what GMime takes as part headers) and "--" lines (a superset of boundary
// delimiters), and the bytes of all header blocks. GMime builds the whole tree up front at some 1.4 KB per part and 500 bytes per
// header field, so these counts bound its memory: without them a 3 MB message of 300000 empty
// parts took 420 MB. Stops counting once a limit is passed.
struct Shape {
  std::size_t top_fields = 0;
  std::size_t part_fields = 0;
  std::size_t boundary_lines = 0;
  std::size_t header_bytes = 0;
};

Shape prescan(std::string_view raw, const ParseLimits& limits) {
  Shape shape;
  bool top = true;
  bool in_headers = true;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    std::size_t end = raw.find('\n', pos);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view line = raw.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.starts_with("--")) {
      if (++shape.boundary_lines > limits.max_boundary_lines) break;
      in_headers = !top;
      continue;
    }
    if (line.empty()) {
      top = false;
      in_headers = false;
      continue;
    }
    if (!in_headers) continue;
    shape.header_bytes += line.size() + 2;
    if (shape.header_bytes > limits.max_header_bytes) break;
    if (line.front() == ' ' || line.front() == '\t' || line.find(':') == std::string_view::npos) continue;
    if (top) {
      if (++shape.top_fields > limits.max_header_fields) break;
    } else if (++shape.part_fields > limits.max_part_header_fields) {
      break;
    }
  }
  return shape;
}

std::string decoded_bytes(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) return {};
  GPtr<GMimeStream> stream(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(content, stream.get());
  GByteArray* array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream.get()));
  if (array == nullptr || array->len == 0) return {};
  return std::string(reinterpret_cast<const char*>(array->data), array->len);
}

std::uint64_t decoded_size(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) return 0;
  GPtr<GMimeStream> sink(g_mime_stream_null_new());
  g_mime_data_wrapper_write_to_stream(content, sink.get());
  return GMIME_STREAM_NULL(sink.get())->written;
}

std::string mime_type(GMimeObject* object) {
  GMimeContentType* type = g_mime_object_get_content_type(object);
  if (type == nullptr) return "application/octet-stream";
  const char* media = g_mime_content_type_get_media_type(type);
  const char* sub = g_mime_content_type_get_media_subtype(type);
  // RFC 2045 tokens only, bounded: whatever a sender put there, the metadata gets plain ASCII.
  auto token = [](const char* value) {
    std::string out;
    for (const char* p = value; p != nullptr && *p != '\0' && out.size() < 64; ++p) {
      char c = *p >= 'A' && *p <= 'Z' ? static_cast<char>(*p - 'A' + 'a') : *p;
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || std::string_view("!#$&^_.+-").find(c) != std::string_view::npos) {
        out += c;
      }
    }
    return out.empty() ? std::string("x-unknown") : out;
  };
  return token(media) + "/" + token(sub);
}

class BodyWalker {
 public:
  BodyWalker(ParsedEmail& email, const ParseLimits& limits) : email_(email), limits_(limits) {}

  void walk(GMimeObject* object, std::size_t depth, bool body_allowed) {
    if (object == nullptr) return;
    if (parts_ >= limits_.max_parts || depth > limits_.max_depth) {
      email_.parts_truncated = true;
      return;
    }
    ++parts_;
    const std::string type = mime_type(object);
    if (GMIME_IS_MULTIPART(object)) {
      GMimeMultipart* multipart = GMIME_MULTIPART(object);
      int count = g_mime_multipart_get_count(multipart);
      if (type == "multipart/report") {
        std::string report = lower(clean_address(g_mime_object_get_content_type_parameter(object, "report-type")));
        if (report == "delivery-status") flag_bounce("report:delivery-status");
        if (report == "disposition-notification") flag_auto("report:disposition-notification");
      }
      int preferred = -1;
      if (type == "multipart/alternative") preferred = preferred_alternative(multipart, count);
      for (int i = 0; i < count; ++i) {
        bool allowed = body_allowed && (preferred < 0 || i == preferred);
        walk(g_mime_multipart_get_part(multipart, i), depth + 1, allowed);
      }
      return;
    }
    if (GMIME_IS_MESSAGE_PART(object)) {
      // An attached or bounced message: metadata only, never the text.
      Attachment a;
      a.content_type = type;
      a.filename = clean_line(g_mime_object_get_content_disposition_parameter(object, "filename"),
                              limits_.max_header_text_bytes);
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
      if (inner != nullptr) {
        GPtr<GMimeStream> sink(g_mime_stream_null_new());
        g_mime_object_write_to_stream(GMIME_OBJECT(inner), nullptr, sink.get());
        a.size_bytes = GMIME_STREAM_NULL(sink.get())->written;
      }
      a.disposition = disposition(object);
      add_attachment(std::move(a));
      return;
    }
    if (!GMIME_IS_PART(object)) return;
    GMimePart* part = GMIME_PART(object);
    if (type == "message/delivery-status") flag_bounce("report:delivery-status");
    const bool attachment = g_mime_part_is_attachment(part);
    const char* filename = g_mime_part_get_filename(part);
    const bool named = filename != nullptr && *filename != '\0';
    const bool text_type = type == "text/plain" || type == "text/html";
    // The other renderings of a multipart/alternative are neither text nor attachments.
    if (!body_allowed && !attachment && text_type) return;
    if (!attachment && text_type && (!named || !found_body())) {
      std::string charset = clean_address(g_mime_object_get_content_type_parameter(object, "charset"));
      std::string text = to_utf8(decoded_bytes(part), charset);
      if (type == "text/plain" &&
          lower(clean_address(g_mime_object_get_content_type_parameter(object, "format"))) == "flowed") {
        bool delsp = lower(clean_address(g_mime_object_get_content_type_parameter(object, "delsp"))) == "yes";
        text = unflow(text, delsp);
      }
      (type == "text/plain" ? plain_ : html_).push_back(std::move(text));
      return;
    }
    Attachment a;
    a.content_type = type;
    a.filename = clean_line(filename, limits_.max_header_text_bytes);
    a.size_bytes = decoded_size(part);
    a.disposition = disposition(object);
    a.content_id = normalize_message_id(clean_address(g_mime_object_get_content_id(object)));
    add_attachment(std::move(a));
  }

  void finish() {
    bool html_cut = false;
    std::string text;
    if (!plain_.empty()) {
      email_.text_source = "plain";
      for (const auto& part : plain_) {
        if (!text.empty()) text += "\n\n";
        text += part;
        if (text.size() > limits_.max_text_bytes) break;
      }
    } else if (!html_.empty()) {
      email_.text_source = "html";
      for (const auto& part : html_) {
        if (!text.empty()) text += "\n\n";
        text += html_to_text(part, limits_.max_text_bytes + 4, html_cut);
        if (text.size() > limits_.max_text_bytes) break;
      }
    } else {
      email_.text_source = "none";
    }
    // Trailing blank lines and spaces carry nothing.
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t')) text.pop_back();
    email_.text_truncated = timeline::truncate_utf8(text, limits_.max_text_bytes) || html_cut;
    email_.text = std::move(text);
    email_.quoted_from_offset = quoted_offset(email_.text);
  }

  // Loop-protection flags, each with its reason (README.md, "Loop protection").
  void flag_bounce(const std::string& reason) {
    email_.bounce = true;
    add_reason(reason);
  }
  void flag_auto(const std::string& reason) {
    email_.auto_reply = true;
    add_reason(reason);
  }

 private:
  bool found_body() const { return !plain_.empty() || !html_.empty(); }

  // The alternative that becomes the text: text/plain, else the first HTML-bearing one (text/html
  // or a multipart such as related), else the last.
  static int preferred_alternative(GMimeMultipart* multipart, int count) {
    int html = -1;
    for (int i = 0; i < count; ++i) {
      std::string t = mime_type(g_mime_multipart_get_part(multipart, i));
      if (t == "text/plain") return i;
      if (html < 0 && (t == "text/html" || t.starts_with("multipart/"))) html = i;
    }
    return html >= 0 ? html : count - 1;
  }

  static std::string disposition(GMimeObject* object) {
    std::string d = lower(clean_address(g_mime_object_get_disposition(object)));
    return d == "attachment" ? "attachment" : "inline";
  }

  void add_attachment(Attachment a) {
    ++email_.attachment_count;
    if (email_.attachments.size() < limits_.max_attachments) email_.attachments.push_back(std::move(a));
  }

  void add_reason(const std::string& reason) {
    auto& reasons = email_.automation_reasons;
    if (std::find(reasons.begin(), reasons.end(), reason) == reasons.end() && reasons.size() < 16) {
      reasons.push_back(reason);
    }
  }

  ParsedEmail& email_;
  const ParseLimits& limits_;
  std::size_t parts_ = 0;
  std::vector<std::string> plain_;
  std::vector<std::string> html_;
};

void detect_automation(GMimeObject* message, ParsedEmail& email, BodyWalker& walker) {
  std::string auto_submitted = header_token(message, "Auto-Submitted");
  if (!auto_submitted.empty() && auto_submitted != "no") walker.flag_auto("auto-submitted:" + auto_submitted);
  if (header(message, "X-Autoreply") != nullptr || header(message, "X-Autorespond") != nullptr ||
      header(message, "X-Autoresponder") != nullptr) {
    walker.flag_auto("x-autoreply");
  }
  std::string precedence = header_token(message, "Precedence");
  if (precedence == "bulk" || precedence == "list" || precedence == "junk" || precedence == "auto_reply") {
    walker.flag_auto("precedence:" + precedence);
  }
  if (header(message, "List-Id") != nullptr) walker.flag_auto("list-id");
  if (email.return_path && email.return_path->empty()) walker.flag_bounce("return-path:null");
  for (const std::string* address : {&email.from.address, &email.sender}) {
    std::string local = lower(address->substr(0, address->find('@')));
    if (local == "mailer-daemon" || local == "postmaster") walker.flag_bounce("sender:" + local);
  }
}

}  // namespace

std::string Mailbox::display() const {
  if (display_name.empty()) return address;
  if (address.empty()) return display_name;
  return display_name + " <" + address + ">";
}

std::string thread_key(const std::vector<std::string>& references, std::string_view in_reply_to,
                       std::string_view message_id) {
  for (const auto& id : references) {
    std::string key = normalize_message_id(id);
    if (!key.empty()) return key;
  }
  std::string key = normalize_message_id(in_reply_to);
  if (!key.empty()) return key;
  return normalize_message_id(message_id);
}

namespace {

Result<ParsedEmail> parse_unchecked(std::string_view raw, const ParseLimits& limits, std::int64_t received_at_ms) {
  if (raw.size() > limits.max_message_bytes) {
    return Result<ParsedEmail>::failure("message is " + std::to_string(raw.size()) + " bytes, over the limit of " +
                                        std::to_string(limits.max_message_bytes) + " bytes");
  }
  Shape shape = prescan(raw, limits);
  if (shape.top_fields > limits.max_header_fields) {
    return Result<ParsedEmail>::failure("message has more than " + std::to_string(limits.max_header_fields) +
                                        " header fields");
  }
  if (shape.header_bytes > limits.max_header_bytes) {
    return Result<ParsedEmail>::failure("message has more than " + std::to_string(limits.max_header_bytes) +
                                        " bytes of header fields");
  }
  if (shape.top_fields == 0) return Result<ParsedEmail>::failure("not an email message: no header fields before the body");
  if (shape.boundary_lines > limits.max_boundary_lines) {
    return Result<ParsedEmail>::failure("message has more than " + std::to_string(limits.max_boundary_lines) +
                                        " MIME boundary lines");
  }
  if (shape.part_fields > limits.max_part_header_fields) {
    return Result<ParsedEmail>::failure("message has more than " + std::to_string(limits.max_part_header_fields) +
                                        " header fields in its MIME parts");
  }
  ensure_gmime();

  std::unique_ptr<GMimeParserOptions, OptionsFree> options(g_mime_parser_options_new());
  const char* fallback[] = {"utf-8", "windows-1252", "iso-8859-1", nullptr};
  g_mime_parser_options_set_fallback_charsets(options.get(), fallback);
  g_mime_parser_options_set_address_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_parameter_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_rfc2047_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_allow_addresses_without_domain(options.get(), TRUE);

  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  g_mime_parser_set_respect_content_length(parser.get(), FALSE);
  GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), options.get()));
  if (!message) return Result<ParsedEmail>::failure("not an email message: GMime could not parse the header");
  GMimeObject* top = GMIME_OBJECT(message.get());

  ParsedEmail email;
  email.raw_bytes = raw.size();

  // Ids and threading.
  // The one id parser for Message-ID, In-Reply-To and References: GMime's message-id getter and
  // its references parser disagree on odd ids (a trailing dot), and the key of a message must
  // equal the In-Reply-To of its replies.
  auto own_id = parse_ids(options.get(), header(top, "Message-ID"));
  if (!own_id.empty()) email.message_id = own_id.front();
  auto in_reply_to = parse_ids(options.get(), header(top, "In-Reply-To"));
  if (!in_reply_to.empty()) email.in_reply_to = in_reply_to.front();
  auto references = parse_ids(options.get(), header(top, "References"));
  if (limits.max_references > 0 && references.size() > limits.max_references) {
    // Keep the root and the most recent ancestors (RFC 5322 3.6.4 trims the middle too).
    std::vector<std::string> kept;
    kept.push_back(references.front());
    kept.insert(kept.end(), references.end() - static_cast<std::ptrdiff_t>(limits.max_references - 1),
                references.end());
    references = std::move(kept);
  } else if (limits.max_references == 0) {
    references.clear();
  }
  auto canonical = [&](std::string& id) { id = canonical_id(options.get(), id); };
  canonical(email.message_id);
  canonical(email.in_reply_to);
  for (auto& id : references) canonical(id);
  std::erase_if(references, [](const std::string& id) { return id.empty(); });
  email.references = std::move(references);
  if (email.message_id.empty()) {
    email.message_id = sha256_hex(raw).substr(0, 32) + "@" + std::string(synthetic_id_domain);
    email.message_id_synthetic = true;
  }
  email.thread_key = thread_key(email.references, email.in_reply_to, email.message_id);

  // Addresses.
  std::vector<Mailbox> from;
  add_mailboxes(g_mime_message_get_from(message.get()), from, 1, limits);
  if (!from.empty()) email.from = std::move(from.front());
  add_mailboxes(g_mime_message_get_to(message.get()), email.to, limits.max_addresses, limits);
  add_mailboxes(g_mime_message_get_cc(message.get()), email.cc, limits.max_addresses, limits);
  add_mailboxes(g_mime_message_get_reply_to(message.get()), email.reply_to, limits.max_addresses, limits);
  std::vector<Mailbox> sender;
  add_mailboxes(g_mime_message_get_sender(message.get()), sender, 1, limits);
  if (!sender.empty()) email.sender = sender.front().address;
  if (const char* return_path = header(top, "Return-Path")) {
    std::string value = clean_address(return_path);
    if (value.size() >= 2 && value.front() == '<' && value.back() == '>') value = value.substr(1, value.size() - 2);
    email.return_path = value;
  }

  email.subject = clean_line(g_mime_message_get_subject(message.get()), limits.max_header_text_bytes);

  // Date, with the received time standing in for a missing, broken or implausible one.
  email.date_ms = received_at_ms;
  if (GDateTime* date = g_mime_message_get_date(message.get())) {
    gint64 seconds = g_date_time_to_unix(date);
    constexpr std::int64_t day_ms = 24 * 3600 * 1000LL;
    if (seconds > 0 && seconds < std::numeric_limits<std::int64_t>::max() / 1000 - day_ms) {
      std::int64_t ms = seconds * 1000 + g_date_time_get_microsecond(date) / 1000;
      if (received_at_ms <= 0 || ms <= received_at_ms + day_ms) {
        email.date_ms = ms;
        email.date_from_header = true;
      }
    }
  }

  BodyWalker walker(email, limits);
  detect_automation(top, email, walker);
  walker.walk(g_mime_message_get_mime_part(message.get()), 0, true);
  walker.finish();
  return email;
}

}  // namespace

Result<ParsedEmail> parse_message(std::string_view raw, const ParseLimits& limits, std::int64_t received_at_ms) {
  // The parts here throw only std::bad_alloc (and GMime aborts on its own allocation failures);
  // a caller still gets a Result, never an exception (style: parsers of untrusted bytes).
  try {
    return parse_unchecked(raw, limits, received_at_ms);
  } catch (const std::exception& e) {
    return Result<ParsedEmail>::failure(std::string("internal error: ") + e.what());
  }
}

}  // namespace omnitrail::connectors::imap_smtp
