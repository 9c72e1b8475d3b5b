// Outbound email: an agent's reply as a complete RFC 5322 message (CRLF, MIME, threading
// headers) ready for an SMTP upload, plus its envelope. Written by hand rather than with GMime so
// the exact bytes are under our control and every header value is checked. Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "connectors/imap_smtp/email_message.hpp"
#include "connectors/imap_smtp/result.hpp"

namespace omnitrail::connectors::imap_smtp {

struct ReplyRequest {
  Mailbox from;             ///< the connector's address (display name may be any UTF-8)
  std::vector<Mailbox> to;  ///< at least one; usually the parent's Reply-To, else its From
  std::vector<Mailbox> cc;
  std::string parent_subject;  ///< "Re: " is prefixed unless it already starts with Re:/RE:/Aw:...
  /// parent_subject is the subject to write as is (a new message, or the agent's own subject).
  bool subject_as_is = false;
  std::string text;            ///< the agent's text, UTF-8; any line endings
  /// The parent's Message-ID (with or without angle brackets); empty for a new message.
  std::string parent_message_id;
  std::vector<std::string> parent_references;  ///< the parent's References, oldest first
  /// The parent's In-Reply-To: stands in for its References when it has none (RFC 5322 3.6.4),
  /// so that the thread root stays the same.
  std::string parent_in_reply_to;
  /// Domain of the new Message-ID ("mail.example.com"): letters, digits, '-' and '.'.
  std::string message_id_domain;
  /// Left part of the new Message-ID. Pass a durable unique id (the outbox entry id) so that a
  /// retried send keeps its Message-ID and recipients and our own IMAP intake dedupe it; empty:
  /// 128 random bits. Letters, digits, '.', '-', '_' only.
  std::string message_id_token;
  std::int64_t date_ms = 0;  ///< the Date header (UTC); must be > 0
  /// References written: the parent's first (the root) and the last max_references - 1.
  std::size_t max_references = 20;
};

struct ComposedEmail {
  std::string message;             ///< the whole message, CRLF line endings, lines <= 998 bytes
  std::string message_id;          ///< without angle brackets
  std::string envelope_from;       ///< MAIL FROM address (from.address)
  std::vector<std::string> recipients;  ///< RCPT TO addresses: to + cc, duplicates removed
  std::string subject;             ///< the subject as written (decoded form)
};

/// Builds the reply. Headers: From, To, Cc, Subject, Date (RFC 5322, +0000), Message-ID,
/// In-Reply-To and References (RFC 5322 3.6.4: parent's References, or its In-Reply-To when it
/// has no References, + parent's Message-ID, bounded; a synthetic parent id is written too: the
/// customer's client cannot match it, but the customer's next reply carries it back and lands
/// on the same conversation_key), MIME-Version, Content-Type text/plain; charset=utf-8, Content-Transfer-Encoding
/// quoted-printable (base64 when most of the text is non-ASCII). Non-ASCII subjects and display
/// names are RFC 2047 Q-encoded UTF-8 words; long headers are folded. Errors (a message naming
/// the field, never its value):
/// - CR, LF or NUL in any header value, address, id or domain (header injection);
/// - an address that is not a plain ASCII addr-spec (local@domain, no blanks, no specials), or
///   no To address;
/// - text or header values that are not valid UTF-8;
/// - a bad message_id_domain or message_id_token, or date_ms <= 0.
/// No dot-stuffing: curl's SMTP upload does it.
Result<ComposedEmail> compose_reply(const ReplyRequest& request);

/// The ids a reply's References hold before bounding, without brackets: the parent's
/// References (else its In-Reply-To), then the parent's Message-ID. Invalid ids are skipped.
std::vector<std::string> reply_references(const ReplyRequest& request);

/// "Re: " + subject, unless subject already starts with a reply prefix (Re, RE, Aw, Sv, Antw,
/// "Re[2]", any case, followed by ':'); blanks around it trimmed.
std::string reply_subject(const std::string& subject);

/// The RFC 5322 date-time of `ms` in UTC: "Tue, 01 Dec 2026 07:40:00 +0000".
std::string rfc5322_date(std::int64_t ms);

}  // namespace omnitrail::connectors::imap_smtp
