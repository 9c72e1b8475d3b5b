#include "connectors/kannel/sms_text.hpp"

namespace omnitrail::connectors::kannel {
namespace {

// The GSM 03.38 default alphabet outside printable ASCII, and the ASCII characters it lacks.
constexpr char32_t kGsmNonAscii[] = {
    0x00A3, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7, 0x00D8, 0x00F8, 0x00C5, 0x00E5,  // £¥èéùìòÇØøÅå
    0x0394, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, 0x03A3, 0x0398, 0x039E,                  // ΔΦΓΛΩΠΨΣΘΞ
    0x00C6, 0x00E6, 0x00DF, 0x00C9, 0x00A4, 0x00A1, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7, 0x00BF,  // ÆæßÉ¤¡ÄÖÑÜ§¿
    0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,                                                          // äöñüà
};
// The extension table (escape 0x1B + one septet).
constexpr char32_t kGsmExtension[] = {0x000C, '^', '{', '}', '\\', '[', '~', ']', '|', 0x20AC};

// Decodes one UTF-8 sequence at `i` (advancing it); an invalid byte yields U+FFFD and advances 1.
char32_t next_code_point(std::string_view s, std::size_t& i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](std::size_t k) -> int {
    if (i + k >= s.size()) return -1;
    const auto b = static_cast<unsigned char>(s[i + k]);
    return (b & 0xC0) == 0x80 ? (b & 0x3F) : -1;
  };
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len = 0;
  char32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    int c = cont(static_cast<std::size_t>(k));
    if (c < 0) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | static_cast<char32_t>(c);
  }
  i += static_cast<std::size_t>(len);
  return cp;
}

}  // namespace

bool in_gsm7(char32_t cp, bool* extension) noexcept {
  if (extension) *extension = false;
  if (cp == '\n' || cp == '\r') return true;
  if (cp >= 0x20 && cp <= 0x7E) {
    // Printable ASCII is in the default alphabet except ` and the extension characters.
    if (cp == '`') return false;
    for (char32_t e : kGsmExtension) {
      if (e == cp) {
        if (extension) *extension = true;
        return true;
      }
    }
    return true;
  }
  for (char32_t g : kGsmNonAscii) {
    if (g == cp) return true;
  }
  for (char32_t e : kGsmExtension) {
    if (e == cp) {
      if (extension) *extension = true;
      return true;
    }
  }
  return false;
}

SmsEncoding sms_encoding(std::string_view utf8) noexcept {
  std::size_t septets = 0;
  std::size_t utf16_units = 0;
  bool gsm = true;
  for (std::size_t i = 0; i < utf8.size();) {
    const char32_t cp = next_code_point(utf8, i);
    utf16_units += cp > 0xFFFF ? 2 : 1;
    bool extension = false;
    if (gsm && in_gsm7(cp, &extension)) {
      septets += extension ? 2 : 1;
    } else {
      gsm = false;
    }
  }
  SmsEncoding e;
  e.coding = gsm ? Coding::gsm7 : Coding::ucs2;
  e.units = gsm ? septets : utf16_units;
  const std::size_t single = gsm ? 160 : 70;
  const std::size_t part = gsm ? 153 : 67;
  if (e.units == 0) {
    e.segments = 0;
  } else if (e.units <= single) {
    e.segments = 1;
  } else {
    e.segments = (e.units + part - 1) / part;
  }
  return e;
}

void append_utf8(std::string& out, char32_t cp) {
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

std::optional<std::string> utf16be_to_utf8(std::string_view bytes) {
  if (bytes.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(bytes.size() * 3 / 2);
  std::size_t i = 0;
  auto unit = [&](std::size_t at) {
    return static_cast<char32_t>((static_cast<unsigned char>(bytes[at]) << 8) | static_cast<unsigned char>(bytes[at + 1]));
  };
  if (bytes.size() >= 2 && unit(0) == 0xFEFF) i = 2;
  for (; i < bytes.size(); i += 2) {
    char32_t u = unit(i);
    if (u == 0) return std::nullopt;
    if (u >= 0xD800 && u <= 0xDBFF) {
      if (i + 3 >= bytes.size()) return std::nullopt;
      char32_t low = unit(i + 2);
      if (low < 0xDC00 || low > 0xDFFF) return std::nullopt;
      u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
      i += 2;
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      return std::nullopt;
    }
    append_utf8(out, u);
  }
  return out;
}

std::optional<std::string> latin1_to_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    if (c == '\0') return std::nullopt;
    append_utf8(out, static_cast<unsigned char>(c));
  }
  return out;
}

}  // namespace omnitrail::connectors::kannel
