// Inbound email: RFC 5322 / MIME bytes (as fetched over IMAP) -> ParsedEmail, the connector's
// view of one message (UTF-8 text, addresses, threading ids, attachments as metadata, loop
// flags). Parsing uses GMime 3; GMime stays out of this header.
// Thread contract: parse_message may run on any thread, concurrently (GMime is initialised once,
// each call uses its own parser objects). It does CPU work proportional to the message size:
// callers on the io thread should hand big messages to a worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/imap_smtp/result.hpp"

namespace omnitrail::connectors::imap_smtp {

/// One address of a From / To / Cc / Reply-To header. Both fields are valid UTF-8 without
/// control characters; `address` is the addr-spec ("alice@example.com"), possibly without a
/// domain for broken senders ("MAILER-DAEMON").
struct Mailbox {
  std::string display_name;  ///< RFC 2047 decoded; may be empty
  std::string address;

  /// "Name <address>" or "address" (display only; not RFC 5322 quoting).
  std::string display() const;
  friend bool operator==(const Mailbox&, const Mailbox&) = default;
};

/// A MIME leaf that is not the message text. Contents are never kept.
struct Attachment {
  std::string filename;      ///< RFC 2231 / 2047 decoded, UTF-8; may be empty
  std::string content_type;  ///< "type/subtype", lower-case ("application/pdf")
  std::uint64_t size_bytes = 0;  ///< decoded size (after base64 / quoted-printable)
  std::string disposition;   ///< "attachment" or "inline" (an image of an HTML body, ...)
  std::string content_id;    ///< Content-ID without brackets, if any
};

/// Bounds applied by parse_message. The defaults suit a support mailbox.
struct ParseLimits {
  /// A larger message is refused (error) before it is parsed.
  std::size_t max_message_bytes = 32 * 1024 * 1024;
  /// The body text kept (ParsedEmail::text); longer text is cut at a character boundary and
  /// `text_truncated` set.
  std::size_t max_text_bytes = 256 * 1024;
  /// Header fields of the top-level message; more is refused (error): such a message is built
  /// to exhaust something, real ones have a few hundred at most.
  std::size_t max_header_fields = 5000;
  /// Lines starting with "--" (a superset of MIME boundary delimiters) and header fields in MIME
  /// part header blocks; more of either is refused (error). GMime builds the whole MIME tree
  /// before anything can be skipped, so these bound its memory (roughly 1.4 KB per part, 500 bytes
  /// per header field): 3 MB of empty parts would otherwise cost 420 MB.
  std::size_t max_boundary_lines = 10000;
  /// Bytes of all header blocks together (the message's and its parts'); more is refused. An
  /// address list costs GMime some 60 times its size (8 MB of To: took 495 MB).
  std::size_t max_header_bytes = 1024 * 1024;
  std::size_t max_part_header_fields = 20000;
  /// MIME parts walked; the rest are not looked at and `parts_truncated` is set.
  std::size_t max_parts = 500;
  /// Nesting depth of multiparts followed; deeper parts are ignored (`parts_truncated`).
  std::size_t max_depth = 20;
  /// Attachments recorded in the metadata (all are counted in attachment_count).
  std::size_t max_attachments = 100;
  /// References kept: the first (the thread root) and the last max_references - 1.
  std::size_t max_references = 50;
  /// Addresses kept per header (To, Cc, Reply-To).
  std::size_t max_addresses = 100;
  /// Subject, display names and filenames are cut to this many bytes.
  std::size_t max_header_text_bytes = 1000;
};

/// What parse_message found. Every string is valid UTF-8 (without NUL); ids are in the
/// normalize_message_id() form (no angle brackets, case kept).
struct ParsedEmail {
  // --- identity and threading
  std::string message_id;        ///< normalised; never empty (synthetic when absent, see below)
  bool message_id_synthetic = false;  ///< true: derived from a hash of the raw bytes
  std::string in_reply_to;       ///< normalised first id of In-Reply-To, or ""
  std::vector<std::string> references;  ///< normalised, in order, bounded (max_references)
  /// The conversation key: the thread root (first References id, else In-Reply-To, else the
  /// message's own id), normalised. See thread_key().
  std::string thread_key;

  // --- addresses and headers
  Mailbox from;                   ///< first From mailbox (empty address when none)
  std::vector<Mailbox> to, cc, reply_to;
  std::string sender;             ///< Sender: address, if any
  std::optional<std::string> return_path;  ///< Return-Path address; "" for the null path <>
  std::string subject;            ///< decoded, unfolded, trimmed
  /// Date header in ms since 1970 UTC, or the received time when the header is absent, does not
  /// parse, is before 1970, or is more than a day after the received time.
  std::int64_t date_ms = 0;
  bool date_from_header = false;  ///< false: date_ms is the received time

  // --- body
  std::string text;               ///< LF line endings, bounded by max_text_bytes
  bool text_truncated = false;
  std::string text_source;        ///< "plain", "html" (converted) or "none"
  /// Byte offset in `text` where the quoted reply (the trailing part the sender did not write)
  /// begins; nullopt when none was found. text.substr(0, *quoted_from_offset) is the new part.
  std::optional<std::size_t> quoted_from_offset;

  // --- attachments
  std::vector<Attachment> attachments;  ///< bounded by max_attachments
  std::size_t attachment_count = 0;     ///< all attachments, including those not listed
  bool parts_truncated = false;         ///< max_parts or max_depth reached

  // --- loop protection: callers never auto-answer a message with either flag
  bool auto_reply = false;  ///< Auto-Submitted != no, X-Autoreply, X-Autorespond, Precedence
                            ///< bulk/list/junk/auto_reply, List-Id, a disposition notification
  bool bounce = false;      ///< delivery-status report, MAILER-DAEMON / postmaster sender, null
                            ///< Return-Path <>
  /// Why the flags are set, e.g. "auto-submitted:auto-replied", "precedence:bulk",
  /// "report:delivery-status", "sender:mailer-daemon", "return-path:null".
  std::vector<std::string> automation_reasons;

  std::size_t raw_bytes = 0;  ///< size of the message as given

  /// True when the message must not be answered automatically.
  bool do_not_auto_reply() const noexcept { return auto_reply || bounce; }
};

/// Parses one message. `received_at_ms` (the IMAP INTERNALDATE or the fetch time) stands in for
/// a missing or bad Date.
/// - Headers: RFC 2047 encoded words (Q and B, any charset iconv knows) decoded; 8-bit header
///   bytes without a charset are read as UTF-8 when valid, else windows-1252.
/// - Body: the first text/plain part that is not an attachment (several inline text/plain parts
///   of a multipart/mixed are joined with a blank line); in multipart/alternative the plain
///   alternative wins over the HTML one; otherwise text/html converted by html_to_text().
///   Charsets as to_utf8(); format=flowed text is unflowed (RFC 3676). Embedded message/rfc822 parts are attachments (a bounce's copy of
///   the original never becomes the text).
/// - A missing, empty or unusable Message-ID gets "<sha256 of the raw bytes, 32 hex>@
///   synthetic.omnitrail.invalid": the same bytes fetched again give the same id.
/// Errors (no crash, no exception, no message contents in the text): the message is larger than
/// max_message_bytes; it has no header at all; it has more than max_header_fields header fields,
/// max_boundary_lines "--" lines, max_part_header_fields part header fields or max_header_bytes
/// of headers.
Result<ParsedEmail> parse_message(std::string_view raw, const ParseLimits& limits, std::int64_t received_at_ms);

/// The conversation key of a message: the first of `references`, else `in_reply_to`, else
/// `message_id` that is non-empty after normalize_message_id(). Using the root (not the parent)
/// keeps a whole thread on one key even when a client drops part of References.
std::string thread_key(const std::vector<std::string>& references, std::string_view in_reply_to,
                       std::string_view message_id);

/// The domain of synthetic Message-IDs.
inline constexpr std::string_view synthetic_id_domain = "synthetic.omnitrail.invalid";

}  // namespace omnitrail::connectors::imap_smtp
