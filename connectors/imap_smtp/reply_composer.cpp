#include "connectors/imap_smtp/reply_composer.hpp"

#include <algorithm>
#include <exception>
#include <array>
#include <ctime>
#include <random>
#include <string_view>

#include "connectors/imap_smtp/mail_text.hpp"

namespace omnitrail::connectors::imap_smtp {
namespace {

using Composed = Result<ComposedEmail>;

constexpr std::size_t fold_at = 76;  // RFC 5322 2.1.1: SHOULD be <= 78 before CRLF

bool injects(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool ascii_only(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// A dot-atom domain: labels of letters, digits and '-', separated by single dots.
bool valid_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253 || domain.front() == '.' || domain.back() == '.') return false;
  char previous = '.';
  for (char c : domain) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok || (c == '.' && previous == '.')) return false;
    previous = c;
  }
  return true;
}

// A plain ASCII addr-spec: dot-atom local part (RFC 5322 atext), '@', a dot-atom domain (or a
// domain literal such as [192.0.2.1]). Quoted local parts are refused: nobody needs them here.
bool valid_address(std::string_view address) {
  if (address.size() > 254) return false;
  std::size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at > 64) return false;
  std::string_view local = address.substr(0, at);
  std::string_view domain = address.substr(at + 1);
  static constexpr std::string_view atext_specials = "!#$%&'*+-/=?^_`{|}~.";
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  for (char c : local) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              atext_specials.find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  if (domain.size() > 2 && domain.front() == '[' && domain.back() == ']') {
    std::string_view literal = domain.substr(1, domain.size() - 2);
    return std::all_of(literal.begin(), literal.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':';
    });
  }
  return valid_domain(domain);
}

bool valid_token(std::string_view token) {
  return !token.empty() && token.size() <= 128 && std::all_of(token.begin(), token.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
  });
}

std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
             static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
             static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[n >> 18];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += alphabet[n >> 18];
    out += alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// RFC 2047 Q-encoded words of UTF-8 `text`, each at most 75 bytes, never splitting a
// character (6.3). Q rather than B: decoders such as GMime join adjacent words of one charset
// before decoding, and the '=' padding of a B word in the middle then cuts the rest off. Only
// the characters 5.(3) allows in a phrase are literal, so the words are valid in display names.
std::vector<std::string> encoded_words(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  static constexpr std::size_t max_payload = 75 - 12;  // "=?UTF-8?Q?" + "?="
  std::vector<std::string> words;
  std::string payload;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t length = 1;
    while (i + length < text.size() && (static_cast<unsigned char>(text[i + length]) & 0xC0) == 0x80) ++length;
    std::string encoded;
    for (std::size_t k = i; k < i + length; ++k) {
      auto c = static_cast<unsigned char>(text[k]);
      bool literal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
                     c == '*' || c == '+' || c == '-' || c == '/';
      if (literal) {
        encoded += static_cast<char>(c);
      } else if (c == ' ') {
        encoded += '_';
      } else {
        encoded += {'=', hex[c >> 4], hex[c & 15]};
      }
    }
    if (!payload.empty() && payload.size() + encoded.size() > max_payload) {
      words.push_back("=?UTF-8?Q?" + payload + "?=");
      payload.clear();
    }
    payload += encoded;
    i += length;
  }
  if (!payload.empty()) words.push_back("=?UTF-8?Q?" + payload + "?=");
  return words;
}

// Unstructured text (Subject) as header words: plain words when it is ASCII without "=?" and
// no word too long to fold, else encoded words.
std::vector<std::string> unstructured_words(std::string_view text) {
  std::vector<std::string> words;
  bool encode = !ascii_only(text) || text.find("=?") != std::string_view::npos;
  std::size_t i = 0;
  while (!encode && i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i - start > 900) encode = true;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  if (encode) return encoded_words(text);
  return words;
}

// A display name as phrase words: atoms when safe, a quoted-string when it has specials, encoded
// words when non-ASCII or too long.
std::vector<std::string> phrase_words(std::string_view name) {
  name = trim(name);
  if (name.empty()) return {};
  if (!ascii_only(name) || name.find("=?") != std::string_view::npos || name.size() > 200) return encoded_words(name);
  static constexpr std::string_view atext_specials = "!#$%&'*+-/=?^_`{|}~ ";
  bool atoms = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           atext_specials.find(c) != std::string_view::npos;
  });
  if (atoms) return unstructured_words(name);
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c == '\t' ? ' ' : c;
  }
  quoted += '"';
  return {quoted};
}

// Writes "Name: w1 w2 ..." folding before a word that would pass fold_at.
void write_header(std::string& out, std::string_view name, const std::vector<std::string>& words) {
  std::string line = std::string(name) + ":";
  for (const auto& word : words) {
    if (line.size() + 1 + word.size() > fold_at && line.size() > name.size() + 1) {
      out += line + "\r\n";
      line = " " + word;
    } else {
      line += " " + word;
    }
  }
  out += line + "\r\n";
}

// Address list words: one word per mailbox, but a mailbox's phrase may itself be long; to keep
// folding simple each mailbox's encoded words are separate words joined by blanks.
std::vector<std::string> mailbox_words(const Mailbox& m) {
  std::vector<std::string> words = phrase_words(m.display_name);
  if (words.empty()) return {m.address};
  words.push_back("<" + m.address + ">");
  return words;
}

void write_address_header(std::string& out, std::string_view name, const std::vector<Mailbox>& list) {
  // Build the line by hand: mailboxes separated by ", ", folding at word boundaries.
  std::string line = std::string(name) + ":";
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::vector<std::string> words = mailbox_words(list[i]);
    for (std::size_t w = 0; w < words.size(); ++w) {
      std::string word = words[w];
      if (w + 1 == words.size() && i + 1 < list.size()) word += ",";
      if (line.size() + 1 + word.size() > fold_at && line.size() > name.size() + 1) {
        out += line + "\r\n";
        line = " " + word;
      } else {
        line += " " + word;
      }
    }
  }
  out += line + "\r\n";
}

std::string quoted_printable(std::string_view text) {
  std::string out;
  static constexpr char hex[] = "0123456789ABCDEF";
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    std::size_t column = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      auto c = static_cast<unsigned char>(line[i]);
      bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && i + 1 < line.size());
      std::string token = literal ? std::string(1, static_cast<char>(c))
                                  : std::string{'=', hex[c >> 4], hex[c & 15]};
      if (column + token.size() > 75) {
        out += "=\r\n";
        column = 0;
      }
      out += token;
      column += token.size();
    }
    if (end == text.size()) break;
    out += "\r\n";
    pos = end + 1;
  }
  out += "\r\n";
  return out;
}

std::string base64_lines(std::string_view bytes) {
  std::string encoded = base64(bytes);
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); i += 76) out += encoded.substr(i, 76) + "\r\n";
  return out;
}

std::string random_token() {
  std::random_device device;
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 4; ++i) {
    std::uint32_t n = device();
    for (int k = 0; k < 8; ++k) out += hex[(n >> (k * 4)) & 15];
  }
  return out;
}

// An id as written in In-Reply-To / References: trimmed, brackets removed, case kept.
std::string bare_id(std::string_view id) { return normalize_message_id(id); }

bool reply_prefixed(std::string_view subject) {
  std::string s = lower(trim(subject));
  for (std::string_view prefix : {"re", "aw", "sv", "antw", "vs", "odp"}) {
    if (s.rfind(prefix, 0) != 0) continue;
    std::size_t i = prefix.size();
    if (i < s.size() && (s[i] == '[' || s[i] == '(')) {
      char close = s[i] == '[' ? ']' : ')';
      std::size_t end = s.find(close, i);
      if (end == std::string::npos || end - i > 6) continue;
      i = end + 1;
    }
    while (i < s.size() && s[i] == ' ') ++i;
    if (i < s.size() && s[i] == ':') return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> reply_references(const ReplyRequest& request) {
  std::vector<std::string> references;
  for (const auto& id : request.parent_references) {
    std::string bare = bare_id(id);
    if (!bare.empty()) references.push_back(std::move(bare));
  }
  if (references.empty()) {
    std::string in_reply_to = bare_id(request.parent_in_reply_to);
    if (!in_reply_to.empty()) references.push_back(std::move(in_reply_to));
  }
  std::string parent = bare_id(request.parent_message_id);
  if (!parent.empty() && (references.empty() || references.back() != parent)) references.push_back(parent);
  return references;
}

std::string reply_subject(const std::string& subject) {
  std::string_view s = trim(subject);
  if (reply_prefixed(s)) return std::string(s);
  if (s.empty()) return "Re:";
  return "Re: " + std::string(s);
}

std::string rfc5322_date(std::int64_t ms) {
  static constexpr std::array<const char*, 7> days = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[static_cast<std::size_t>(tm.tm_wday) % 7],
                tm.tm_mday, months[static_cast<std::size_t>(tm.tm_mon) % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buffer;
}

namespace {

Result<ComposedEmail> compose_unchecked(const ReplyRequest& request) {
  // Header injection and encoding checks first, naming the field only.
  struct Field {
    std::string name;
    const std::string* value;
  };
  std::vector<Field> fields{{"from.display_name", &request.from.display_name},
                            {"from.address", &request.from.address},
                            {"parent_subject", &request.parent_subject},
                            {"parent_message_id", &request.parent_message_id},
                            {"parent_in_reply_to", &request.parent_in_reply_to},
                            {"message_id_domain", &request.message_id_domain},
                            {"message_id_token", &request.message_id_token}};
  for (std::size_t i = 0; i < request.to.size(); ++i) {
    fields.push_back({"to[" + std::to_string(i) + "].display_name", &request.to[i].display_name});
    fields.push_back({"to[" + std::to_string(i) + "].address", &request.to[i].address});
  }
  for (std::size_t i = 0; i < request.cc.size(); ++i) {
    fields.push_back({"cc[" + std::to_string(i) + "].display_name", &request.cc[i].display_name});
    fields.push_back({"cc[" + std::to_string(i) + "].address", &request.cc[i].address});
  }
  for (std::size_t i = 0; i < request.parent_references.size(); ++i) {
    fields.push_back({"parent_references[" + std::to_string(i) + "]", &request.parent_references[i]});
  }
  for (const auto& f : fields) {
    if (injects(*f.value)) return Composed::failure(f.name + ": contains CR, LF or NUL (header injection refused)");
    if (!valid_utf8(*f.value)) return Composed::failure(f.name + ": not valid UTF-8");
  }
  if (!valid_utf8(request.text)) return Composed::failure("text: not valid UTF-8");
  if (request.to.empty()) return Composed::failure("to: at least one recipient is required");
  auto check_address = [](const std::string& name, const std::string& address) -> std::string {
    if (!valid_address(address)) {
      return name + ": not a plain ASCII address (local@domain without blanks, quotes or brackets)";
    }
    return {};
  };
  if (auto e = check_address("from.address", request.from.address); !e.empty()) return Composed::failure(e);
  for (std::size_t i = 0; i < request.to.size(); ++i) {
    if (auto e = check_address("to[" + std::to_string(i) + "].address", request.to[i].address); !e.empty()) {
      return Composed::failure(e);
    }
  }
  for (std::size_t i = 0; i < request.cc.size(); ++i) {
    if (auto e = check_address("cc[" + std::to_string(i) + "].address", request.cc[i].address); !e.empty()) {
      return Composed::failure(e);
    }
  }
  if (!valid_domain(request.message_id_domain)) {
    return Composed::failure("message_id_domain: must be a domain name (letters, digits, '-', '.')");
  }
  if (!request.message_id_token.empty() && !valid_token(request.message_id_token)) {
    return Composed::failure("message_id_token: 1..128 letters, digits, '.', '-' or '_'");
  }
  if (request.date_ms <= 0) return Composed::failure("date_ms: must be a positive time");
  std::string parent = bare_id(request.parent_message_id);
  if (!request.parent_message_id.empty() && parent.empty()) {
    return Composed::failure("parent_message_id: not a message id (blanks, brackets or over 500 bytes)");
  }

  ComposedEmail composed;
  std::string token = request.message_id_token.empty() ? random_token() : request.message_id_token;
  composed.message_id = "omnitrail." + token + "@" + request.message_id_domain;
  composed.envelope_from = request.from.address;
  composed.subject = request.subject_as_is ? std::string(trim(request.parent_subject)) : reply_subject(request.parent_subject);
  for (const auto* list : {&request.to, &request.cc}) {
    for (const auto& m : *list) {
      bool seen = std::any_of(composed.recipients.begin(), composed.recipients.end(),
                              [&](const std::string& r) { return lower(r) == lower(m.address); });
      if (!seen) composed.recipients.push_back(m.address);
    }
  }

  // References: the parent's chain (valid ids only; else its In-Reply-To) + the parent, bounded
  // to root + recent.
  std::vector<std::string> references;
  for (const auto& id : reply_references(request)) references.push_back("<" + id + ">");
  std::size_t max_references = std::max<std::size_t>(request.max_references, 2);
  if (references.size() > max_references) {
    std::vector<std::string> kept{references.front()};
    kept.insert(kept.end(), references.end() - static_cast<std::ptrdiff_t>(max_references - 1), references.end());
    references = std::move(kept);
  }

  std::string& out = composed.message;
  write_address_header(out, "From", {request.from});
  write_address_header(out, "To", request.to);
  if (!request.cc.empty()) write_address_header(out, "Cc", request.cc);
  write_header(out, "Subject", unstructured_words(composed.subject));
  out += "Date: " + rfc5322_date(request.date_ms) + "\r\n";
  out += "Message-ID: <" + composed.message_id + ">\r\n";
  if (!parent.empty()) out += "In-Reply-To: <" + parent + ">\r\n";
  if (!references.empty()) write_header(out, "References", references);
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";

  // Normalise line endings to LF for the encoders (which write CRLF).
  std::string text;
  text.reserve(request.text.size());
  for (std::size_t i = 0; i < request.text.size(); ++i) {
    char c = request.text[i];
    if (c == '\r') {
      text += '\n';
      if (i + 1 < request.text.size() && request.text[i + 1] == '\n') ++i;
    } else {
      text += c;
    }
  }
  std::size_t high = static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }));
  if (high * 3 > text.size()) {
    out += "Content-Transfer-Encoding: base64\r\n\r\n";
    out += base64_lines(text);
  } else {
    out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    out += quoted_printable(text);
  }
  return composed;
}

}  // namespace

Result<ComposedEmail> compose_reply(const ReplyRequest& request) {
  // The parts here throw only std::bad_alloc (and GMime aborts on its own allocation failures);
  // a caller still gets a Result, never an exception (style: parsers of untrusted bytes).
  try {
    return compose_unchecked(request);
  } catch (const std::exception& e) {
    return Result<ComposedEmail>::failure(std::string("internal error: ") + e.what());
  }
}

}  // namespace omnitrail::connectors::imap_smtp
