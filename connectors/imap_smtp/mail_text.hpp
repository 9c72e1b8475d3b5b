// Text helpers of the email connector's pure layer: charset conversion to UTF-8 with sane
// fallbacks, HTML to readable text, quoted-reply detection and Message-ID normalisation.
// Pure functions (charset conversion uses GLib's iconv wrapper, no shared state); any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace omnitrail::connectors::imap_smtp {

/// Repairs `bytes` into valid UTF-8: well-formed UTF-8 sequences are kept, every other byte is
/// decoded as windows-1252 (so stray Latin-1 bytes in a UTF-8 text become the letters the
/// sender meant). NUL and C0/C1 control characters other than tab and line feed are dropped;
/// CR LF and lone CR become LF. The result is always valid UTF-8.
std::string repair_utf8(std::string_view bytes);

/// Converts `bytes` declared as `charset` (a MIME charset name, any case, may be empty) to
/// UTF-8, then repair_utf8. Rules, in order:
/// - empty, us-ascii, utf-8 (and aliases): valid UTF-8 is kept as is, otherwise repaired;
/// - iso-8859-1 / latin1 / us-ascii labels are decoded as windows-1252 (its superset, as the
///   WHATWG Encoding Standard does: mailers that say latin1 routinely send 0x80..0x9f quotes);
/// - any other charset iconv knows is converted strictly; a conversion that fails (wrong
///   declaration, invalid sequences, unknown charset) falls back to: the bytes as UTF-8 when they
///   are valid UTF-8, else windows-1252.
/// Never fails; the result is valid UTF-8 without NUL.
std::string to_utf8(std::string_view bytes, std::string_view charset);

/// Undoes RFC 3676 format=flowed (text with LF line endings): a line ending in a space is joined
/// with the next line of the same quote depth (with `delete_space`, DelSp=yes, the space goes),
/// space-stuffing is removed, quote markers are written back as "> " per level, and the
/// signature separator "-- " is never joined.
std::string unflow(std::string_view text, bool delete_space);

/// Readable text from an HTML document or fragment (already UTF-8): tags removed; the content of
/// script, style, head, title, template and noscript dropped; comments dropped; entities
/// decoded (named ones of HTML 4 that mail uses, numeric decimal and hex; invalid code points
/// become U+FFFD); runs of white space collapsed outside <pre>; line breaks for <br> and block
/// elements (p, div, tr, li, h1..h6, table, ...), list items prefixed "- ", cells separated by a
/// tab; the content of <blockquote> prefixed "> " per level (at most 8) so that
/// quoted_offset() finds HTML quotes too. At most `max_bytes` of output (cut at a character
/// boundary); `truncated` is set when cut. Never throws on any input.
std::string html_to_text(std::string_view html, std::size_t max_bytes, bool& truncated);

/// Where the quoted part of a reply starts in `text` (LF line endings), or nullopt when none is
/// found. The quoted part is the TRAILING block the sender did not write:
/// - the first attribution or separator line: "On ... wrote:", "Am ... schrieb ...:",
///   "Le ... a écrit :", "El ... escribió:", "Il ... ha scritto:", "Op ... schreef ...:",
///   "-----Original Message-----", "-----Ursprüngliche Nachricht-----", "Begin forwarded
///   message:", an Outlook "From: " header block after a "____" rule or at a line start followed
///   by "Sent: "/"Date: " -- whichever comes first, provided it is not at offset 0;
/// - otherwise the start of the last run of lines beginning with '>' (blank lines allowed inside
///   it) that reaches the end of the text; an attribution-like line ending in ':' right before it
///   is included.
/// Interleaved replies ("> question" / answer / "> question" / answer) keep their answers: only
/// a quote run that reaches the end counts. The offset is at a line start.
std::optional<std::size_t> quoted_offset(std::string_view text);

/// Normalises a Message-ID / In-Reply-To / References entry to the key form used for dedupe and
/// threading: surrounding blanks and one pair of angle brackets removed. Case is kept, domain
/// included: ids are compared as case-sensitive strings (as RFC 5256 THREAD does), and a reply's
/// In-Reply-To must repeat the parent's id byte for byte -- Outlook ids carry upper-case domains
/// ("<AM0PR07MB...@AM0PR07MB1234.eurprd07.prod.outlook.com>") and lower-casing them would break
/// the customer's threading. Returns "" when the result is empty, longer than 500 bytes, not valid UTF-8, or contains
/// blanks, control characters or one of < > " ( ) , ; \ (such an id is treated as absent: it
/// could not be written back into a reply's In-Reply-To intact).
std::string normalize_message_id(std::string_view id);

/// True when `text` is valid UTF-8 (timeline::is_valid_utf8, here to keep the header light).
bool valid_utf8(std::string_view text);

}  // namespace omnitrail::connectors::imap_smtp
