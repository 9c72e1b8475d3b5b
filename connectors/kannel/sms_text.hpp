// SMS text encodings for the kannel connector: which data coding a text needs (GSM 03.38 7-bit
// or UCS-2), how many SMS parts it takes, and the decoders for what Kannel hands over (UTF-16BE
// for UCS-2 messages, ISO-8859-1). Pure; any thread; no function throws.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace omnitrail::connectors::kannel {

/// Kannel's `coding` values (sendsms and the %c escape).
enum class Coding { gsm7 = 0, binary = 1, ucs2 = 2 };

/// How a text goes out as SMS.
struct SmsEncoding {
  Coding coding = Coding::gsm7;
  /// Septets (GSM 7-bit: characters of the extension table count 2) or UTF-16 code units (UCS-2:
  /// characters outside the BMP, most emoji, count 2).
  std::size_t units = 0;
  /// SMS parts: one up to 160 septets / 70 units, else parts of 153 septets / 67 units (the
  /// 6-byte concatenation header takes the rest). An estimate of what the SMSC bills; 0 for "".
  std::size_t segments = 0;
};

/// The coding `utf8` needs: GSM 7-bit when every character is in the GSM 03.38 default alphabet
/// or its extension table, else UCS-2. Precondition: valid UTF-8 (an invalid byte counts as one
/// UCS-2 unit, so the result stays defined).
SmsEncoding sms_encoding(std::string_view utf8) noexcept;

/// True when `code_point` is in the GSM 03.38 default alphabet (1 septet); `extension` is set
/// when it is in the extension table instead (2 septets: escape + character).
bool in_gsm7(char32_t code_point, bool* extension = nullptr) noexcept;

/// Decodes UTF-16BE (what Kannel passes for UCS-2 messages) to UTF-8. A leading byte-order mark
/// FE FF is dropped. nullopt for an odd number of bytes, an unpaired surrogate or U+0000.
std::optional<std::string> utf16be_to_utf8(std::string_view bytes);

/// Decodes ISO-8859-1 to UTF-8. nullopt when the text holds a NUL byte.
std::optional<std::string> latin1_to_utf8(std::string_view bytes);

/// Appends `code_point` (at most U+10FFFF, not a surrogate) to `out` as UTF-8.
void append_utf8(std::string& out, char32_t code_point);

}  // namespace omnitrail::connectors::kannel
