#include "connectors/imap_smtp/mail_text.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include <glib.h>

#include "daemon/timeline/interaction.hpp"

namespace omnitrail::connectors::imap_smtp {
namespace {

// windows-1252 0x80..0x9f; 0 marks the five undefined bytes (they become U+FFFD).
constexpr std::array<std::uint16_t, 32> cp1252_high = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

void append_code_point(std::string& out, std::uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::uint32_t cp1252(unsigned char c) {
  if (c >= 0x80 && c <= 0x9F) {
    std::uint32_t cp = cp1252_high[c - 0x80];
    return cp == 0 ? 0xFFFD : cp;
  }
  return c;
}

// Length of the well-formed UTF-8 sequence at s[i], or 0 when the byte does not start one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len <= 1) return len;
  if (i + len > s.size()) return 0;
  return timeline::is_valid_utf8(s.substr(i, len)) ? len : 0;
}

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

bool starts_with_icase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char a = text[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

bool contains(std::string_view text, std::string_view needle) { return text.find(needle) != std::string_view::npos; }

// ---------------------------------------------------------------- HTML

struct Entity {
  std::string_view name;
  std::uint32_t code_point;
};

// The named entities mail clients emit (HTML 4 Latin-1 and typographic sets, trimmed).
constexpr Entity entities[] = {
    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},        {"quot", '"'},      {"apos", '\''},
    {"nbsp", ' '},      {"ensp", ' '},      {"emsp", ' '},      {"thinsp", ' '},    {"shy", 0xAD},
    {"copy", 0xA9},     {"reg", 0xAE},      {"trade", 0x2122},  {"hellip", 0x2026}, {"mdash", 0x2014},
    {"ndash", 0x2013},  {"lsquo", 0x2018},  {"rsquo", 0x2019},  {"sbquo", 0x201A},  {"ldquo", 0x201C},
    {"rdquo", 0x201D},  {"bdquo", 0x201E},  {"laquo", 0xAB},    {"raquo", 0xBB},    {"bull", 0x2022},
    {"middot", 0xB7},   {"euro", 0x20AC},   {"pound", 0xA3},    {"yen", 0xA5},      {"cent", 0xA2},
    {"sect", 0xA7},     {"deg", 0xB0},      {"plusmn", 0xB1},   {"times", 0xD7},    {"divide", 0xF7},
    {"para", 0xB6},     {"iexcl", 0xA1},    {"iquest", 0xBF},   {"ordf", 0xAA},     {"ordm", 0xBA},
    {"frac12", 0xBD},   {"frac14", 0xBC},   {"frac34", 0xBE},   {"sup2", 0xB2},     {"sup3", 0xB3},
    {"micro", 0xB5},    {"szlig", 0xDF},    {"agrave", 0xE0},   {"aacute", 0xE1},   {"acirc", 0xE2},
    {"atilde", 0xE3},   {"auml", 0xE4},     {"aring", 0xE5},    {"aelig", 0xE6},    {"ccedil", 0xE7},
    {"egrave", 0xE8},   {"eacute", 0xE9},   {"ecirc", 0xEA},    {"euml", 0xEB},     {"igrave", 0xEC},
    {"iacute", 0xED},   {"icirc", 0xEE},    {"iuml", 0xEF},     {"ntilde", 0xF1},   {"ograve", 0xF2},
    {"oacute", 0xF3},   {"ocirc", 0xF4},    {"otilde", 0xF5},   {"ouml", 0xF6},     {"oslash", 0xF8},
    {"ugrave", 0xF9},   {"uacute", 0xFA},   {"ucirc", 0xFB},    {"uuml", 0xFC},     {"yacute", 0xFD},
    {"yuml", 0xFF},     {"Agrave", 0xC0},   {"Aacute", 0xC1},   {"Acirc", 0xC2},    {"Atilde", 0xC3},
    {"Auml", 0xC4},     {"Aring", 0xC5},    {"AElig", 0xC6},    {"Ccedil", 0xC7},   {"Egrave", 0xC8},
    {"Eacute", 0xC9},   {"Ecirc", 0xCA},    {"Euml", 0xCB},     {"Igrave", 0xCC},   {"Iacute", 0xCD},
    {"Icirc", 0xCE},    {"Iuml", 0xCF},     {"Ntilde", 0xD1},   {"Ograve", 0xD2},   {"Oacute", 0xD3},
    {"Ocirc", 0xD4},    {"Otilde", 0xD5},   {"Ouml", 0xD6},     {"Oslash", 0xD8},   {"Ugrave", 0xD9},
    {"Uacute", 0xDA},   {"Ucirc", 0xDB},    {"Uuml", 0xDC},     {"Yacute", 0xDD},   {"oelig", 0x153},
    {"OElig", 0x152},   {"scaron", 0x161},  {"Scaron", 0x160},  {"zwnj", 0x200C},   {"zwj", 0x200D},
    {"lrm", 0x200E},    {"rlm", 0x200F},    {"larr", 0x2190},   {"rarr", 0x2192},   {"uarr", 0x2191},
    {"darr", 0x2193},   {"hearts", 0x2665}, {"check", 0x2713},  {"minus", 0x2212},  {"prime", 0x2032},
};

// Decodes the entity at html[i] == '&'; appends its text and returns the bytes consumed, or 0
// when it is not an entity (the '&' is then literal text).
std::size_t decode_entity(std::string_view html, std::size_t i, std::string& out) {
  std::size_t j = i + 1;
  if (j < html.size() && html[j] == '#') {
    ++j;
    bool hex = j < html.size() && (html[j] == 'x' || html[j] == 'X');
    if (hex) ++j;
    std::uint64_t value = 0;
    std::size_t digits = 0;
    while (j < html.size() && digits < 10) {
      char c = html[j];
      int d = c >= '0' && c <= '9' ? c - '0'
              : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
              : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : -1;
      if (d < 0) break;
      value = value * (hex ? 16 : 10) + static_cast<std::uint64_t>(d);
      ++digits;
      ++j;
    }
    if (digits == 0) return 0;
    if (j < html.size() && html[j] == ';') ++j;
    if (value == 0 || value > 0x10FFFF) value = 0xFFFD;
    if (value < 0x20 && value != '\t' && value != '\n') value = ' ';
    if (value >= 0x80 && value <= 0x9F) value = cp1252(static_cast<unsigned char>(value));  // as browsers do
    append_code_point(out, static_cast<std::uint32_t>(value));
    return j - i;
  }
  std::size_t start = j;
  while (j < html.size() && j - start < 10 &&
         ((html[j] >= 'a' && html[j] <= 'z') || (html[j] >= 'A' && html[j] <= 'Z') || (html[j] >= '0' && html[j] <= '9'))) {
    ++j;
  }
  std::string_view name = html.substr(start, j - start);
  for (const Entity& e : entities) {
    if (e.name == name) {
      if (j < html.size() && html[j] == ';') ++j;
      append_code_point(out, e.code_point);
      return j - i;
    }
  }
  return 0;
}

bool tag_in(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Builds the text with lazy line breaks (emitted only before more text, so a document never
// starts or ends with blank lines and never has more than one blank line in a row), handling
// blockquote prefixes, white space collapsing and the byte bound in one place.
class TextBuilder {
 public:
  explicit TextBuilder(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  void text(std::string_view chunk, bool preformatted) {
    for (char c : chunk) {
      if (full_) return;
      if (preformatted) {
        if (c == '\r') continue;
        if (c == '\n') {
          line_break();
          continue;
        }
        put(c);
        continue;
      }
      if (is_blank(c)) {
        pending_space_ = true;
        continue;
      }
      if (pending_space_ && line_open_) put(' ');
      pending_space_ = false;
      put(c);
    }
  }

  /// <br>: ends the line; a second one in a row leaves one blank line.
  void line_break() {
    pending_space_ = false;
    if (line_open_ || pending_breaks_ > 0) pending_breaks_ = std::min(pending_breaks_ + 1, 2);
    line_open_ = false;
  }
  /// Block element: the next text starts on a new line.
  void block_break() {
    pending_space_ = false;
    if (line_open_) pending_breaks_ = std::max(pending_breaks_, 1);
    line_open_ = false;
  }
  /// Paragraph: one blank line before the next text.
  void paragraph() {
    pending_space_ = false;
    if (!out_.empty()) pending_breaks_ = 2;
    line_open_ = false;
  }
  /// A cell separator between cells of one row (not before the first).
  void separator(char c) {
    if (!line_open_) return;
    pending_space_ = false;
    put(c);
  }

  void set_quote_depth(int depth) { quote_depth_ = std::clamp(depth, 0, 8); }
  bool full() const { return full_; }

  std::string finish(bool& truncated) {
    truncated = full_;
    if (full_) {
      // Bytes are appended one at a time: the bound may have cut a sequence; drop its head.
      std::size_t lead = out_.size();
      while (lead > 0 && (static_cast<unsigned char>(out_[lead - 1]) & 0xC0) == 0x80) --lead;
      if (lead > 0 && !timeline::is_valid_utf8(std::string_view(out_).substr(lead - 1))) out_.resize(lead - 1);
    }
    while (!out_.empty() && (out_.back() == ' ' || out_.back() == '\t')) out_.pop_back();
    return std::move(out_);
  }

 private:
  void put(char c) {
    if (!line_open_) {
      if (!out_.empty()) {
        while (!out_.empty() && out_.back() == ' ') out_.pop_back();
        for (int k = 0; k < std::max(pending_breaks_, 1); ++k) append("\n");
      }
      pending_breaks_ = 0;
      for (int k = 0; k < quote_depth_; ++k) append("> ");
      line_open_ = true;
    }
    append(std::string_view(&c, 1));
  }

  void append(std::string_view s) {
    if (full_) return;
    if (out_.size() + s.size() > max_bytes_) {
      full_ = true;
      return;
    }
    out_ += s;
  }

  std::size_t max_bytes_;
  std::string out_;
  bool line_open_ = false;  // the current line has text
  bool pending_space_ = false;
  int pending_breaks_ = 0;
  int quote_depth_ = 0;
  bool full_ = false;
};

// ---------------------------------------------------------------- quotes

bool attribution_line(std::string_view line) {
  std::string_view t = trim(line);
  if (t.size() < 4 || t.size() > 400) return false;
  auto ends = [&](std::string_view suffix) {
    return t.size() >= suffix.size() && lower_ascii(t.substr(t.size() - suffix.size())) == suffix;
  };
  if (starts_with_icase(t, "on ") && (ends("wrote:") || ends("writes:"))) return true;
  if (starts_with_icase(t, "am ") && ends(":") && contains(lower_ascii(t), "schrieb")) return true;
  if (starts_with_icase(t, "le ") && (ends("a \xC3\xA9" "crit :") || ends("a \xC3\xA9" "crit:"))) return true;
  if (starts_with_icase(t, "el ") && ends("escribi\xC3\xB3:")) return true;
  if (starts_with_icase(t, "il ") && ends("ha scritto:")) return true;
  if (starts_with_icase(t, "op ") && ends(":") && contains(lower_ascii(t), "schreef")) return true;
  return false;
}

bool separator_line(std::string_view line) {
  std::string_view t = trim(line);
  std::string lower = lower_ascii(t);
  return lower == "-----original message-----" || lower == "-----ursprüngliche nachricht-----" ||
         lower == "----- original message -----" || lower == "begin forwarded message:" ||
         lower == "---------- forwarded message ---------";
}

bool outlook_rule(std::string_view line) {
  std::string_view t = trim(line);
  return t.size() >= 10 && std::all_of(t.begin(), t.end(), [](char c) { return c == '_'; });
}

}  // namespace

bool valid_utf8(std::string_view text) { return timeline::is_valid_utf8(text); }

std::string repair_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x80) {
      if (c == '\r') {
        out += '\n';
        if (i + 1 < bytes.size() && bytes[i + 1] == '\n') ++i;
      } else if (c >= 0x20 || c == '\t' || c == '\n') {
        if (c != 0x7F) out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    std::size_t len = utf8_sequence(bytes, i);
    if (len > 1) {
      // C1 controls encoded as UTF-8 (U+0080..U+009F) are dropped like the C0 ones.
      bool c1 = len == 2 && c == 0xC2 && static_cast<unsigned char>(bytes[i + 1]) < 0xA0;
      if (!c1) out.append(bytes.data() + i, len);
      i += len;
      continue;
    }
    append_code_point(out, cp1252(c));
    ++i;
  }
  return out;
}

std::string to_utf8(std::string_view bytes, std::string_view charset) {
  std::string name = lower_ascii(trim(charset));
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
  const bool utf8_label = name.empty() || name == "utf-8" || name == "utf8" || name == "unicode-1-1-utf-8";
  const bool latin_label = name == "us-ascii" || name == "ascii" || name == "iso-8859-1" || name == "iso8859-1" ||
                           name == "iso_8859-1" || name == "latin1" || name == "l1" || name == "windows-1252" ||
                           name == "cp1252" || name == "x-cp1252" || name == "cp819" || name == "ibm819";
  if (utf8_label || latin_label) {
    // Valid UTF-8 under a Latin label is almost always a mislabelled UTF-8 body (an ASCII body
    // is both); keeping it is the sane reading.
    return repair_utf8(bytes);
  }
  if (name.size() <= 64 && name.find('\0') == std::string::npos) {
    gsize read = 0, written = 0;
    GError* error = nullptr;
    gchar* converted = g_convert(bytes.data(), static_cast<gssize>(bytes.size()), "UTF-8", name.c_str(), &read, &written,
                                 &error);
    if (error != nullptr) g_error_free(error);
    if (converted != nullptr) {
      std::string out(converted, written);
      g_free(converted);
      if (read == bytes.size()) return repair_utf8(out);
    }
  }
  return repair_utf8(bytes);
}

std::string unflow(std::string_view text, bool delete_space) {
  std::string out;
  out.reserve(text.size());
  bool joining = false;  // the previous line was flowed: this one continues it
  std::size_t previous_depth = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    const bool last = end == std::string_view::npos;
    if (last) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    std::size_t depth = 0;
    while (depth < line.size() && line[depth] == '>') ++depth;
    line.remove_prefix(depth);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);  // space-stuffing
    const bool signature = line == "-- ";
    const bool flowed = !signature && !line.empty() && line.back() == ' ';
    if (joining && depth != previous_depth) out += '\n';  // a flowed line may not cross depths
    if (!joining || depth != previous_depth) {
      for (std::size_t k = 0; k < std::min<std::size_t>(depth, 8); ++k) out += '>';
      if (depth > 0) out += ' ';
    }
    out += flowed && delete_space ? line.substr(0, line.size() - 1) : line;
    joining = flowed;
    previous_depth = depth;
    if (last) break;
    if (!flowed) out += '\n';
  }
  return out;
}

std::string html_to_text(std::string_view html, std::size_t max_bytes, bool& truncated) {
  TextBuilder out(max_bytes);
  int pre_depth = 0;
  int quote_depth = 0;
  std::size_t i = 0;
  std::string run;  // decoded text between tags
  auto flush = [&] {
    out.text(run, pre_depth > 0);
    run.clear();
  };
  while (i < html.size() && !out.full()) {
    char c = html[i];
    if (c == '&') {
      std::size_t used = decode_entity(html, i, run);
      if (used > 0) {
        i += used;
        continue;
      }
      run += c;
      ++i;
      continue;
    }
    if (c != '<') {
      run += c;
      ++i;
      continue;
    }
    // Comments, doctype and processing instructions.
    if (html.substr(i, 4) == "<!--") {
      std::size_t end = html.find("-->", i + 4);
      i = end == std::string_view::npos ? html.size() : end + 3;
      continue;
    }
    if (i + 1 < html.size() && (html[i + 1] == '!' || html[i + 1] == '?')) {
      std::size_t end = html.find('>', i);
      i = end == std::string_view::npos ? html.size() : end + 1;
      continue;
    }
    std::size_t j = i + 1;
    bool closing = j < html.size() && html[j] == '/';
    if (closing) ++j;
    std::size_t name_start = j;
    while (j < html.size() && ((html[j] >= 'a' && html[j] <= 'z') || (html[j] >= 'A' && html[j] <= 'Z') ||
                               (html[j] >= '0' && html[j] <= '9'))) {
      ++j;
    }
    if (j == name_start) {
      // "a < b": not a tag.
      run += c;
      ++i;
      continue;
    }
    std::string name = lower_ascii(html.substr(name_start, j - name_start));
    // Skip attributes up to the closing '>' (quoted values may hold '>').
    char quote = 0;
    while (j < html.size()) {
      char a = html[j];
      if (quote != 0) {
        if (a == quote) quote = 0;
      } else if (a == '"' || a == '\'') {
        quote = a;
      } else if (a == '>') {
        break;
      }
      ++j;
    }
    i = j < html.size() ? j + 1 : html.size();
    flush();
    if (!closing && tag_in(name, {"script", "style", "head", "title", "template", "noscript", "xml"})) {
      // Raw content up to the matching end tag (case-insensitive); unterminated: drop the rest.
      std::string end_tag = "</" + name;
      std::size_t k = i;
      std::size_t found = std::string_view::npos;
      while (k + end_tag.size() <= html.size()) {
        std::size_t lt = html.find('<', k);
        if (lt == std::string_view::npos) break;
        if (starts_with_icase(html.substr(lt), end_tag)) {
          found = lt;
          break;
        }
        k = lt + 1;
      }
      if (found == std::string_view::npos) {
        i = html.size();
      } else {
        std::size_t gt = html.find('>', found);
        i = gt == std::string_view::npos ? html.size() : gt + 1;
      }
      continue;
    }
    if (name == "br") {
      out.line_break();
    } else if (name == "p" || tag_in(name, {"h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl"})) {
      out.paragraph();
    } else if (name == "blockquote") {
      out.block_break();
      quote_depth += closing ? -1 : 1;
      quote_depth = std::max(quote_depth, 0);
      out.set_quote_depth(quote_depth);
    } else if (name == "pre") {
      out.block_break();
      pre_depth = std::max(pre_depth + (closing ? -1 : 1), 0);
    } else if (name == "li") {
      out.block_break();
      if (!closing) run += "- ";
    } else if (name == "hr") {
      out.block_break();
      if (!closing) {
        out.text("----", true);
        out.block_break();
      }
    } else if (name == "td" || name == "th") {
      if (!closing) out.separator('\t');
    } else if (tag_in(name, {"div", "tr", "dt", "dd", "section", "article", "header", "footer", "address", "center",
                             "form", "fieldset", "figure", "figcaption", "main", "nav", "aside", "caption"})) {
      out.block_break();
    }
  }
  flush();
  return out.finish(truncated);
}

std::optional<std::size_t> quoted_offset(std::string_view text) {
  struct Line {
    std::size_t offset;
    std::string_view content;
  };
  std::vector<Line> lines;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back({pos, text.substr(pos, end - pos)});
    if (end == text.size()) break;
    pos = end + 1;
  }
  // Marker lines.
  for (std::size_t n = 0; n < lines.size(); ++n) {
    std::string_view line = lines[n].content;
    bool marker = attribution_line(line) || separator_line(line);
    if (!marker && starts_with_icase(trim(line), "from:") && n + 1 < lines.size()) {
      bool after_rule = n > 0 && outlook_rule(lines[n - 1].content);
      std::string_view next = trim(lines[n + 1].content);
      bool header_block = starts_with_icase(next, "sent:") || starts_with_icase(next, "date:") ||
                          starts_with_icase(next, "gesendet:") || starts_with_icase(next, "envoy\xC3\xA9 :");
      if (after_rule || header_block) {
        std::size_t at = after_rule ? lines[n - 1].offset : lines[n].offset;
        if (at > 0) return at;
      }
    }
    if (marker && lines[n].offset > 0) return lines[n].offset;
  }
  // Trailing run of '>' lines.
  std::optional<std::size_t> start;
  for (std::size_t n = lines.size(); n-- > 0;) {
    std::string_view t = trim(lines[n].content);
    if (t.empty()) continue;
    if (t.front() == '>') {
      start = n;
      continue;
    }
    break;
  }
  if (!start) return std::nullopt;
  std::size_t first = *start;
  if (first > 0) {
    std::string_view previous = trim(lines[first - 1].content);
    if (!previous.empty() && previous.back() == ':' && previous.size() < 400) --first;
  }
  return lines[first].offset;
}

std::string normalize_message_id(std::string_view id) {
  std::string_view t = trim(id);
  if (t.size() >= 2 && t.front() == '<' && t.back() == '>') t = t.substr(1, t.size() - 2);
  t = trim(t);
  if (t.empty() || t.size() > 500 || !timeline::is_valid_utf8(t)) return {};
  for (char c : t) {
    auto u = static_cast<unsigned char>(c);
    // Blanks, controls and the specials that end or quote an id in a header (RFC 5322 3.2.3)
    // cannot be written back into In-Reply-To / References intact.
    if (u <= 0x20 || u == 0x7F || std::string_view("<>\"(),;\\").find(c) != std::string_view::npos) return {};
  }
  return std::string(t);
}

}  // namespace omnitrail::connectors::imap_smtp
