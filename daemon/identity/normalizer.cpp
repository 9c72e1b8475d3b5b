// Normalisation of phone numbers (libphonenumber), email addresses and opaque ids.
// libphonenumber stays in this file: its headers pull in protobuf and absl.
#include "daemon/identity/normalizer.hpp"

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>
#include <phonenumbers/shortnumberinfo.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace omnitrail::identity {

namespace pn = i18n::phonenumbers;

// ---------------------------------------------------------------- names

Tier tier_of(IdentifierKind kind) noexcept {
  switch (kind) {
    case IdentifierKind::external:
    case IdentifierKind::chat_user: return Tier::A;
    case IdentifierKind::email: return Tier::B;
    case IdentifierKind::phone: return Tier::C;
    case IdentifierKind::visitor: return Tier::D;
  }
  return Tier::D;
}

std::string_view to_string(IdentifierKind kind) noexcept {
  switch (kind) {
    case IdentifierKind::external: return "external";
    case IdentifierKind::chat_user: return "chat_user";
    case IdentifierKind::email: return "email";
    case IdentifierKind::phone: return "phone";
    case IdentifierKind::visitor: return "visitor";
  }
  return "visitor";
}

std::optional<IdentifierKind> parse_identifier_kind(std::string_view name) noexcept {
  for (auto kind : {IdentifierKind::external, IdentifierKind::chat_user, IdentifierKind::email,
                    IdentifierKind::phone, IdentifierKind::visitor}) {
    if (to_string(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string_view to_string(Trust trust) noexcept {
  return trust == Trust::verified ? "verified" : "claimed";
}

std::optional<Trust> parse_trust(std::string_view name) noexcept {
  if (name == "verified") return Trust::verified;
  if (name == "claimed") return Trust::claimed;
  return std::nullopt;
}

std::string_view to_string(RejectReason reason) noexcept {
  switch (reason) {
    case RejectReason::blocked: return "blocked";
    case RejectReason::own_value: return "own_value";
    case RejectReason::internal_extension: return "internal_extension";
    case RejectReason::short_code: return "short_code";
    case RejectReason::alphanumeric_sender: return "alphanumeric_sender";
    case RejectReason::invalid: return "invalid";
    case RejectReason::empty: return "empty";
    case RejectReason::role_address: return "role_address";
  }
  return "invalid";
}

NormalizeResult NormalizeResult::accepted(Identifier identifier) {
  NormalizeResult result;
  result.ok_ = true;
  result.identifier_ = std::move(identifier);
  return result;
}

NormalizeResult NormalizeResult::rejected(RejectReason reason, std::string text) {
  NormalizeResult result;
  result.reason_ = reason;
  result.text_ = std::move(text);
  return result;
}

// ---------------------------------------------------------------- text helpers

namespace {

// Bounds on what is even looked at; real values are far shorter.
constexpr std::size_t max_phone_input = 512;
constexpr std::size_t max_email_input = 2048;
constexpr std::size_t max_other_key = 256;
constexpr std::size_t max_email_address = 254;

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// Decodes one UTF-8 code point at s[i]; returns its length, or 0 when the bytes there are not
// well-formed UTF-8 (overlong forms, surrogates and values above U+10FFFF are rejected).
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) { len = 2; cp = b0 & 0x1F; min = 0x80; }
  else if ((b0 & 0xF0) == 0xE0) { len = 3; cp = b0 & 0x0F; min = 0x800; }
  else if ((b0 & 0xF8) == 0xF0) { len = 4; cp = b0 & 0x07; min = 0x10000; }
  else return 0;
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const auto len = decode_utf8(s, i, cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// Invisible formatting characters that arrive with copy-pasted numbers (bidi marks and
// isolates, zero-width spaces, BOM). They carry no information in a phone number.
bool is_invisible_format(char32_t cp) {
  return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF || cp == 0x061C;
}

// Non-ASCII spaces that act as separators (no-break, figure, narrow no-break, ideographic).
bool is_unicode_space(char32_t cp) {
  return cp == 0x00A0 || cp == 0x2007 || cp == 0x202F || cp == 0x3000 ||
         (cp >= 0x2000 && cp <= 0x200A);
}

// Precondition: valid UTF-8. Drops invisible format characters, maps Unicode spaces to ' '.
std::string strip_invisible(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const auto len = decode_utf8(s, i, cp);
    if (is_unicode_space(cp)) out.push_back(' ');
    else if (!is_invisible_format(cp)) out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

// Precondition: valid UTF-8. True when any code point is invisible formatting or Unicode space.
bool has_invisible(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const auto len = decode_utf8(s, i, cp);
    if (is_invisible_format(cp) || is_unicode_space(cp)) return true;
    i += len;
  }
  return false;
}

// Precondition: valid UTF-8. Removes ASCII spaces, Unicode spaces and invisible format
// characters from both ends (bidi marks often come along with copy-pasted addresses).
std::string trim_invisible_edges(std::string_view s) {
  std::size_t begin = 0;
  std::size_t end = s.size();
  while (begin < end) {
    char32_t cp = 0;
    const auto len = decode_utf8(s, begin, cp);
    if (len == 0 || !(cp < 0x80 ? is_ascii_space(static_cast<char>(cp))
                                : is_invisible_format(cp) || is_unicode_space(cp))) {
      break;
    }
    begin += len;
  }
  while (end > begin) {
    std::size_t start = end - 1;  // find the first byte of the last code point
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    char32_t cp = 0;
    const auto len = decode_utf8(s, start, cp);
    if (len == 0 || !(cp < 0x80 ? is_ascii_space(static_cast<char>(cp))
                                : is_invisible_format(cp) || is_unicode_space(cp))) {
      break;
    }
    end = start;
  }
  return std::string(s.substr(begin, end - begin));
}

std::size_t count_code_points(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const auto len = decode_utf8(s, i, cp);
    i += len == 0 ? 1 : len;
    ++n;
  }
  return n;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

std::string quoted(std::string_view value) {
  constexpr std::size_t shown = 64;
  std::string out = "\"";
  // Show printable ASCII only: the text ends up in logs.
  for (std::size_t i = 0; i < value.size() && i < shown; ++i) {
    const auto u = static_cast<unsigned char>(value[i]);
    out.push_back(u >= 0x20 && u < 0x7F ? value[i] : '?');
  }
  if (value.size() > shown) out += "...";
  out += "\"";
  return out;
}

// Values that identify no one, whatever their kind (compared lower-cased and trimmed).
constexpr std::array<std::string_view, 11> builtin_blocked = {
    "anonymous", "unknown", "restricted", "private", "unavailable", "withheld",
    "null",      "-1",      "undefined",  "none",    "nil"};

bool is_builtin_blocked(std::string_view lowered) {
  return std::find(builtin_blocked.begin(), builtin_blocked.end(), lowered) !=
         builtin_blocked.end();
}

// Separators people and switches put into numbers; removed before looking at bare digits.
bool is_phone_separator(char c) {
  return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/';
}

// Role and system local parts (exact), and prefixes of generated system senders
// ("noreply-1234@", "bounces+abc@").
constexpr std::array<std::string_view, 16> role_locals = {
    "postmaster", "hostmaster", "webmaster",     "abuse",        "admin", "administrator",
    "root",       "info",       "support",       "sales",        "notifications",
    "notification", "mailer-daemon", "mailerdaemon", "nobody", "daemon"};
constexpr std::array<std::string_view, 7> role_prefixes = {
    "no-reply", "noreply", "no_reply", "do-not-reply", "donotreply", "do_not_reply", "bounce"};

bool is_role_local(std::string_view local) {
  if (std::find(role_locals.begin(), role_locals.end(), local) != role_locals.end()) return true;
  return std::any_of(role_prefixes.begin(), role_prefixes.end(),
                     [&](std::string_view p) { return local.starts_with(p); });
}

// ---------------------------------------------------------------- email parsing

struct ParsedEmail {
  std::string address;         // addr-spec as given
  std::string key;             // normalised key
  std::string suggestion_key;  // plus-stripped key
  std::string local_lower;     // lower-cased local part, before gmail rules, +tag removed
  std::string domain_lower;
};

// Extracts the addr-spec from a header value; nullopt for unbalanced quotes, comments or
// brackets and for more than one bracketed address.
std::optional<std::string> extract_address(std::string_view text) {
  if (text.size() >= 7 && ascii_lower(text.substr(0, 7)) == "mailto:") text.remove_prefix(7);
  std::string bare;
  std::string angle;
  bool in_angle = false;
  bool seen_angle = false;
  bool in_quote = false;
  int comment_depth = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quote) {
      if (c == '\\') ++i;  // quoted-pair: skip the escaped character
      else if (c == '"') in_quote = false;
      continue;
    }
    if (comment_depth > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++comment_depth;
      else if (c == ')') --comment_depth;
      continue;
    }
    if (in_angle) {
      if (c == '>') in_angle = false;
      else if (c == '<') return std::nullopt;
      else angle.push_back(c);
      continue;
    }
    switch (c) {
      case '"': in_quote = true; break;
      case '(': comment_depth = 1; break;
      case '<':
        if (seen_angle) return std::nullopt;
        seen_angle = in_angle = true;
        break;
      case '>':
      case ')': return std::nullopt;
      default: bare.push_back(c);
    }
  }
  if (in_quote || in_angle || comment_depth > 0) return std::nullopt;
  return std::string(trim(seen_angle ? angle : bare));
}

bool is_local_char(char c) {
  static constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
  return is_ascii_alpha(c) || is_ascii_digit(c) || static_cast<unsigned char>(c) >= 0x80 ||
         specials.find(c) != std::string_view::npos;
}

bool is_domain_char(char c) {
  return is_ascii_alpha(c) || is_ascii_digit(c) || c == '-' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool valid_dot_atom(std::string_view s, bool (*char_ok)(char)) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  if (s.find("..") != std::string_view::npos) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return c == '.' || char_ok(c); });
}

bool valid_domain(std::string_view domain) {
  if (domain.size() > 253 || !valid_dot_atom(domain, is_domain_char)) return false;
  std::size_t labels = 0;
  std::string_view last;
  for (std::size_t start = 0; start <= domain.size();) {
    auto end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    const auto label = domain.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    ++labels;
    last = label;
    start = end + 1;
  }
  // At least "name.tld", and a TLD is never all digits (that would be an IP address).
  return labels >= 2 && !std::all_of(last.begin(), last.end(), is_ascii_digit);
}

// Parses and normalises; no policy (role, own, blocked). `why` receives the reason on failure.
std::optional<ParsedEmail> parse_email(std::string_view input, std::string& why) {
  if (input.size() > max_email_input) {
    why = "longer than " + std::to_string(max_email_input) + " bytes";
    return std::nullopt;
  }
  if (!is_valid_utf8(input)) {
    why = "not valid UTF-8";
    return std::nullopt;
  }
  auto extracted = extract_address(trim(input));
  if (!extracted) {
    why = "unbalanced quotes, comments or angle brackets, or several addresses";
    return std::nullopt;
  }
  std::string address = trim_invisible_edges(*extracted);
  if (address.empty()) {
    why = "no address";
    return std::nullopt;
  }
  if (address.size() > max_email_address) {
    why = "address longer than 254 bytes";
    return std::nullopt;
  }
  if (has_control(address) || address.find(' ') != std::string::npos ||
      has_invisible(address)) {
    why = "spaces or control characters in the address";
    return std::nullopt;
  }
  const auto at = address.find('@');
  if (at == std::string::npos || address.find('@', at + 1) != std::string::npos) {
    why = "an address needs exactly one '@'";
    return std::nullopt;
  }
  const std::string_view local = std::string_view(address).substr(0, at);
  const std::string_view domain = std::string_view(address).substr(at + 1);
  if (local.size() > 64 || !valid_dot_atom(local, is_local_char)) {
    why = "invalid local part";
    return std::nullopt;
  }
  if (!valid_domain(domain)) {
    why = "invalid domain (needs a dot, letters, digits or hyphens)";
    return std::nullopt;
  }

  ParsedEmail parsed;
  parsed.domain_lower = ascii_lower(domain);
  const std::string local_lower = ascii_lower(local);
  const auto plus = local_lower.find('+');
  std::string untagged = local_lower.substr(0, plus);
  parsed.local_lower = untagged.empty() ? local_lower : untagged;

  if (parsed.domain_lower == "gmail.com" || parsed.domain_lower == "googlemail.com") {
    // Gmail ignores dots and +tags and treats both domains as one mailbox.
    std::erase(untagged, '.');
    if (untagged.empty()) {
      why = "gmail address without a mailbox name";
      return std::nullopt;
    }
    parsed.key = untagged + "@gmail.com";
    parsed.suggestion_key = parsed.key;
  } else {
    parsed.key = local_lower + "@" + parsed.domain_lower;
    parsed.suggestion_key =
        (untagged.empty() ? local_lower : untagged) + "@" + parsed.domain_lower;
  }
  parsed.address = std::move(address);
  return parsed;
}

}  // namespace

// ---------------------------------------------------------------- Normalizer

struct Normalizer::Impl {
  const pn::PhoneNumberUtil& util = *pn::PhoneNumberUtil::GetInstance();
  pn::ShortNumberInfo short_numbers;
  std::string default_region;                       // upper-case, may be empty
  std::unordered_set<std::string> blocked_text;     // lower-cased trimmed input
  std::unordered_set<std::string> blocked_keys;     // normalised phone / email keys
  std::unordered_set<std::string> own_numbers;      // E.164 without extension
  std::unordered_set<std::string> own_text;         // own entries that did not normalise
  std::unordered_set<std::string> own_email_keys;
  std::unordered_set<std::string> own_domains;      // lower-cased, from "@domain" entries
  std::unordered_set<std::string> internal_extensions;  // bare digits
  std::vector<std::string> ignored;

  // phone() is a pure function of (raw, region) for one Normalizer, and libphonenumber's parse
  // and validity checks are its most expensive step on the ingest path (a call's ringing,
  // answered and ended events, and the from/to/caller fields of each, carry the same number).
  // Bounded memo: at most phone_cache_limit entries, emptied when full; short inputs only.
  static constexpr std::size_t phone_cache_limit = 4096;
  static constexpr std::size_t phone_cache_max_key = 96;
  mutable std::mutex phone_cache_mutex;
  mutable std::unordered_map<std::string, NormalizeResult> phone_cache;

  // A phone string with invisible characters removed, trimmed; nullopt for bad bytes.
  struct PhoneText {
    std::string text;    // cleaned input handed to libphonenumber
    std::string digits;  // its digits (any script) as ASCII
    bool bare = false;   // nothing but digits, separators and one leading '+'
  };

  std::optional<PhoneText> clean_phone(std::string_view raw, std::string& why) const {
    if (raw.size() > max_phone_input) {
      why = "longer than " + std::to_string(max_phone_input) + " bytes";
      return std::nullopt;
    }
    if (!is_valid_utf8(raw)) {
      why = "not valid UTF-8";
      return std::nullopt;
    }
    PhoneText out;
    out.text = std::string(trim(strip_invisible(raw)));
    // Tabs and newlines inside a number are separators; other control bytes (NUL) are not.
    for (auto& c : out.text) {
      if (is_ascii_space(c)) c = ' ';
    }
    if (has_control(out.text)) {
      why = "control characters";
      return std::nullopt;
    }
    std::string body;
    for (std::size_t i = 0; i < out.text.size(); ++i) {
      const char c = out.text[i];
      if (c == '+' && body.empty() && i == out.text.find('+')) continue;
      if (!is_phone_separator(c)) body.push_back(c);
    }
    out.digits = body;
    util.NormalizeDigitsOnly(&out.digits);
    out.bare = !body.empty() && out.digits.size() == count_code_points(body);
    return out;
  }

  // Parses with the phone() region rules. False when libphonenumber refuses the text.
  bool parse(const std::string& text, std::string_view region_override,
             pn::PhoneNumber& number, std::string& region) const {
    const bool international = text.starts_with("+") || text.starts_with("\xEF\xBC\x8B");  // U+FF0B
    region = international ? "ZZ"
             : !region_override.empty() ? ascii_upper(region_override)
             : !default_region.empty()  ? default_region
                                        : "ZZ";
    return util.ParseAndKeepRawInput(text, region, &number) == pn::PhoneNumberUtil::NO_PARSING_ERROR;
  }

  static bool repeated_digits(const std::string& digits) {
    if (digits.empty()) return false;
    const bool all_zero = digits.find_first_not_of('0') == std::string::npos;
    const bool all_same = digits.find_first_not_of(digits.front()) == std::string::npos;
    return all_zero || (all_same && digits.size() >= 3);
  }

  static bool looks_alphanumeric_sender(std::string_view text) {
    // GSM alphanumeric sender ids: up to 11 characters, at least one letter.
    if (text.empty() || text.size() > 11) return false;
    static constexpr std::string_view extra = " .-_&'!";
    bool letter = false;
    for (char c : text) {
      if (is_ascii_alpha(c)) letter = true;
      else if (!is_ascii_digit(c) && extra.find(c) == std::string_view::npos) return false;
    }
    return letter;
  }

  NormalizeResult phone(std::string_view raw, std::string_view region_override) const {
    std::string why;
    const auto cleaned = clean_phone(raw, why);
    if (!cleaned) return NormalizeResult::rejected(RejectReason::invalid, "phone number: " + why);
    const std::string& text = cleaned->text;
    if (text.empty()) return NormalizeResult::rejected(RejectReason::empty, "empty phone number");
    const std::string lowered = ascii_lower(text);
    if (is_builtin_blocked(lowered) || blocked_text.contains(lowered)) {
      return NormalizeResult::rejected(RejectReason::blocked,
                                       quoted(text) + " is a blocked value, not a number");
    }
    if (cleaned->bare && internal_extensions.contains(cleaned->digits)) {
      return NormalizeResult::rejected(RejectReason::internal_extension,
                                       quoted(text) + " is a configured internal extension");
    }
    if (cleaned->bare && repeated_digits(cleaned->digits)) {
      return NormalizeResult::rejected(RejectReason::blocked,
                                       quoted(text) + " is all zeros or one repeated digit");
    }

    pn::PhoneNumber number;
    std::string region;
    const bool parsed = parse(text, region_override, number, region);
    if (!parsed || !util.IsValidNumber(number)) {
      if (parsed && region != "ZZ" && short_numbers.IsValidShortNumberForRegion(number, region)) {
        return NormalizeResult::rejected(RejectReason::short_code,
                                         quoted(text) + " is a short number in " + region);
      }
      const auto n = cleaned->digits.size();
      if (cleaned->bare && text.front() != '+' && n >= 2 && n <= 6) {
        if (n <= 4) {
          return NormalizeResult::rejected(RejectReason::internal_extension,
                                           quoted(text) + " looks like an internal extension");
        }
        return NormalizeResult::rejected(RejectReason::short_code,
                                         quoted(text) + " looks like a short code");
      }
      if (looks_alphanumeric_sender(text)) {
        return NormalizeResult::rejected(RejectReason::alphanumeric_sender,
                                         quoted(text) + " is an alphanumeric sender name");
      }
      if (!parsed && !text.starts_with("+") && region == "ZZ") {
        return NormalizeResult::rejected(
            RejectReason::invalid,
            quoted(text) + " has no country code and no default region is configured");
      }
      return NormalizeResult::rejected(RejectReason::invalid,
                                       quoted(text) + " is not a valid phone number" +
                                           (region != "ZZ" ? " for region " + region : ""));
    }

    std::string e164;
    util.Format(number, pn::PhoneNumberUtil::E164, &e164);
    Identifier id;
    id.kind = IdentifierKind::phone;
    id.key = e164;
    if (number.has_extension() && !number.extension().empty()) {
      id.key += ";ext=" + number.extension();
    }
    // The parsed number itself may be one repeated digit even when the raw text was not
    // ("+3333 /3333333f"): the key must obey the same rule as bare input (found by fuzzing).
    if (repeated_digits(e164.substr(1))) {
      return NormalizeResult::rejected(RejectReason::blocked, quoted(id.key) + " is all zeros or one repeated digit");
    }
    if (own_numbers.contains(e164)) {
      return NormalizeResult::rejected(RejectReason::own_value,
                                       quoted(id.key) + " is one of our own numbers");
    }
    if (blocked_keys.contains(e164) || blocked_keys.contains(id.key)) {
      return NormalizeResult::rejected(RejectReason::blocked,
                                       quoted(id.key) + " is on the blocked list");
    }
    util.GetNationalSignificantNumber(number, &id.suggestion_key);
    id.raw = std::string(trim(raw));
    return NormalizeResult::accepted(std::move(id));
  }

  NormalizeResult email(std::string_view raw) const {
    const auto trimmed = trim(raw);
    if (trimmed.empty()) return NormalizeResult::rejected(RejectReason::empty, "empty email address");
    if (trimmed.size() <= max_email_input) {
      const std::string lowered = ascii_lower(trimmed);
      if (is_builtin_blocked(lowered) || blocked_text.contains(lowered)) {
        return NormalizeResult::rejected(RejectReason::blocked,
                                         quoted(trimmed) + " is a blocked value");
      }
    }
    std::string why;
    auto parsed = parse_email(trimmed, why);
    if (!parsed) {
      return NormalizeResult::rejected(RejectReason::invalid,
                                       quoted(trimmed) + " is not an email address: " + why);
    }
    if (own_email_keys.contains(parsed->key) || own_domains.contains(parsed->domain_lower) ||
        own_text.contains(ascii_lower(parsed->address))) {
      return NormalizeResult::rejected(RejectReason::own_value,
                                       quoted(parsed->address) + " is one of our own addresses");
    }
    if (blocked_keys.contains(parsed->key)) {
      return NormalizeResult::rejected(RejectReason::blocked,
                                       quoted(parsed->address) + " is on the blocked list");
    }
    if (is_role_local(parsed->local_lower)) {
      return NormalizeResult::rejected(RejectReason::role_address,
                                       quoted(parsed->address) + " is a role or system mailbox");
    }
    Identifier id;
    id.kind = IdentifierKind::email;
    id.key = std::move(parsed->key);
    id.raw = std::move(parsed->address);
    id.suggestion_key = std::move(parsed->suggestion_key);
    return NormalizeResult::accepted(std::move(id));
  }

  NormalizeResult opaque(IdentifierKind kind, std::string_view raw) const {
    const std::string label(to_string(kind));
    const auto trimmed = trim(raw);
    if (trimmed.empty()) return NormalizeResult::rejected(RejectReason::empty, "empty " + label);
    if (trimmed.size() > max_other_key) {
      return NormalizeResult::rejected(RejectReason::invalid,
                                       label + " longer than " + std::to_string(max_other_key) + " bytes");
    }
    if (!is_valid_utf8(trimmed) || has_control(trimmed)) {
      return NormalizeResult::rejected(RejectReason::invalid,
                                       label + " is not valid UTF-8 text without control characters");
    }
    const std::string lowered = ascii_lower(trimmed);
    if (is_builtin_blocked(lowered) || blocked_text.contains(lowered) ||
        lowered.find_first_not_of('0') == std::string::npos) {
      return NormalizeResult::rejected(RejectReason::blocked,
                                       quoted(trimmed) + " is a blocked value");
    }
    Identifier id;
    id.kind = kind;
    id.key = std::string(trimmed);
    id.raw = id.key;
    return NormalizeResult::accepted(std::move(id));
  }

  void add_blocked(const std::string& value) {
    const auto trimmed = trim(value);
    if (trimmed.empty()) return;
    blocked_text.insert(ascii_lower(trimmed));
    std::string why;
    if (trimmed.find('@') != std::string_view::npos) {
      if (auto parsed = parse_email(trimmed, why)) blocked_keys.insert(parsed->key);
      return;
    }
    pn::PhoneNumber number;
    std::string region;
    if (parse(std::string(trimmed), {}, number, region) && util.IsValidNumber(number)) {
      std::string e164;
      util.Format(number, pn::PhoneNumberUtil::E164, &e164);
      if (number.has_extension() && !number.extension().empty()) {
        e164 += ";ext=" + number.extension();
      }
      blocked_keys.insert(e164);
    }
  }

  void add_own_number(const std::string& value) {
    std::string why;
    const auto cleaned = clean_phone(value, why);
    if (!cleaned || cleaned->text.empty()) {
      ignored.push_back("own_numbers: " + quoted(value) + " ignored: " + why);
      return;
    }
    if (cleaned->bare && cleaned->digits.size() <= 6 && !cleaned->text.starts_with("+")) {
      internal_extensions.insert(cleaned->digits);  // a short own "number" is an extension
      return;
    }
    pn::PhoneNumber number;
    std::string region;
    if (parse(cleaned->text, {}, number, region) && util.IsValidNumber(number)) {
      std::string e164;
      util.Format(number, pn::PhoneNumberUtil::E164, &e164);
      own_numbers.insert(e164);
      return;
    }
    ignored.push_back("own_numbers: " + quoted(value) +
                      " is not a valid number (write it with +country code)");
  }

  void add_own_address(const std::string& value) {
    const auto trimmed = trim(value);
    if (trimmed.starts_with("@") && trimmed.size() > 1) {
      own_domains.insert(ascii_lower(trimmed.substr(1)));
      return;
    }
    std::string why;
    if (auto parsed = parse_email(trimmed, why)) {
      own_email_keys.insert(parsed->key);
      return;
    }
    if (!trimmed.empty()) own_text.insert(ascii_lower(trimmed));
    ignored.push_back("own_addresses: " + quoted(value) + " is not an email address: " + why);
  }
};

Normalizer::Normalizer(NormalizeOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->default_region = ascii_upper(trim(options.default_region));
  for (const auto& extension : options.internal_extensions) {
    std::string digits(trim(extension));
    impl_->util.NormalizeDigitsOnly(&digits);
    if (!digits.empty()) impl_->internal_extensions.insert(digits);
  }
  for (const auto& value : options.blocked_values) impl_->add_blocked(value);
  for (const auto& value : options.own_numbers) impl_->add_own_number(value);
  for (const auto& value : options.own_addresses) impl_->add_own_address(value);
}

Normalizer::~Normalizer() = default;
Normalizer::Normalizer(Normalizer&&) noexcept = default;
Normalizer& Normalizer::operator=(Normalizer&&) noexcept = default;

NormalizeResult Normalizer::phone(std::string_view raw, std::string_view region_override) const {
  try {
    Impl& impl = *impl_;
    if (raw.size() + region_override.size() + 1 > Impl::phone_cache_max_key) return impl.phone(raw, region_override);
    std::string key;
    key.reserve(raw.size() + region_override.size() + 1);
    key.append(region_override).push_back('\x1f');
    key.append(raw);
    {
      std::lock_guard lock(impl.phone_cache_mutex);
      if (auto it = impl.phone_cache.find(key); it != impl.phone_cache.end()) return it->second;
    }
    NormalizeResult result = impl.phone(raw, region_override);
    std::lock_guard lock(impl.phone_cache_mutex);
    if (impl.phone_cache.size() >= Impl::phone_cache_limit) impl.phone_cache.clear();
    impl.phone_cache.emplace(std::move(key), result);
    return result;
  } catch (const std::exception& e) {  // allocation failure; libphonenumber itself does not throw
    return NormalizeResult::rejected(RejectReason::invalid, e.what());
  }
}

NormalizeResult Normalizer::email(std::string_view raw) const {
  try {
    return impl_->email(raw);
  } catch (const std::exception& e) {
    return NormalizeResult::rejected(RejectReason::invalid, e.what());
  }
}

NormalizeResult Normalizer::other(IdentifierKind kind, std::string_view raw) const {
  try {
    switch (kind) {
      case IdentifierKind::phone: return impl_->phone(raw, {});
      case IdentifierKind::email: return impl_->email(raw);
      default: return impl_->opaque(kind, raw);
    }
  } catch (const std::exception& e) {
    return NormalizeResult::rejected(RejectReason::invalid, e.what());
  }
}

PhoneMatch Normalizer::compare_phones(std::string_view a, std::string_view b) const {
  try {
    const Impl& impl = *impl_;
    std::string why;
    const auto left = impl.clean_phone(a, why);
    const auto right = impl.clean_phone(b, why);
    if (!left || !right || left->text.empty() || right->text.empty()) return PhoneMatch::none;
    for (const auto* side : {&*left, &*right}) {
      const std::string lowered = ascii_lower(side->text);
      if (is_builtin_blocked(lowered) || impl.blocked_text.contains(lowered) ||
          (side->bare && Impl::repeated_digits(side->digits))) {
        return PhoneMatch::none;
      }
    }
    pn::PhoneNumber first;
    pn::PhoneNumber second;
    std::string region;
    pn::PhoneNumberUtil::MatchType match = pn::PhoneNumberUtil::NO_MATCH;
    if (impl.parse(left->text, {}, first, region) && impl.parse(right->text, {}, second, region)) {
      match = impl.util.IsNumberMatch(first, second);
    } else {
      match = impl.util.IsNumberMatchWithTwoStrings(left->text, right->text);
    }
    switch (match) {
      case pn::PhoneNumberUtil::EXACT_MATCH: return PhoneMatch::exact;
      case pn::PhoneNumberUtil::NSN_MATCH: return PhoneMatch::nsn;
      case pn::PhoneNumberUtil::SHORT_NSN_MATCH: return PhoneMatch::short_nsn;
      default: return PhoneMatch::none;
    }
  } catch (const std::exception&) {
    return PhoneMatch::none;
  }
}

const std::vector<std::string>& Normalizer::ignored_options() const noexcept {
  return impl_->ignored;
}

}  // namespace omnitrail::identity
