// ParsedEmail -> timeline::Interaction (kind email.received): the one place that decides what an
// inbound email looks like on the timeline. Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/imap_smtp/email_message.hpp"
#include "connectors/imap_smtp/reply_composer.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::connectors::imap_smtp {

/// Where the message was fetched and what the connector knows beyond the bytes.
struct MailboxPosition {
  std::string folder = "INBOX";
  std::uint64_t uidvalidity = 0;
  std::uint64_t uid = 0;
};

struct InteractionOptions {
  std::string queue;  ///< metadata.queue (routing to the queue's agents); empty: none
  /// The connector's own addresses (lower-case compare): a From among them is not claimed as a
  /// customer identifier (a copy of our own reply, a forward loop).
  std::vector<std::string> own_addresses;
};

/// Maps a parsed message:
/// - channel "email", direction "inbound", kind "email.received", occurred_at = date_ms;
/// - external_id = the (normalised) Message-ID, NOT "UIDVALIDITY:UID": a UIDVALIDITY change
///   renumbers every message, and the same message can be fetched from two folders or after a
///   move; the Message-ID stays, so (source, external_id) dedupes all of these. Messages without
///   one get the synthetic hash id (same bytes, same id). The UID is kept in metadata.imap.
/// - conversation_key = thread_key (the thread root, normalised);
/// - from = "Name <address>", to = the To addresses joined by ", " (bounded to 2000 bytes);
/// - customer identifier: the From address (kind email, trust claimed), unless it has no '@',
///   is one of own_addresses, or the message is a bounce (the sender is a mail system);
///   display name = the From display name;
/// - subject, text as parsed (text bounded by the parse limits; ingest bounds it again);
/// - metadata (README.md, "Metadata"): message_id, message_id_synthetic, in_reply_to,
///   references[], reply_to[], to[], cc[], attachments[], attachment_count, auto_reply, bounce,
///   automation_reasons[], quoted_from_offset (or null), text_source, text_truncated,
///   parts_truncated, date_from_header, size_bytes, imap {folder, uidvalidity, uid}, queue.
/// The result passes timeline::validate() whenever `source` is 1..128 bytes of UTF-8 and
/// date_ms > 0 (parse_message falls back to the received time, so pass one).
timeline::Interaction to_interaction(const ParsedEmail& email, const std::string& source,
                                     const MailboxPosition& position, const InteractionOptions& options = {});

/// The timeline record of a reply the connector sent (after SMTP accepted it): channel "email",
/// direction "outbound", kind "email.sent", external_id = the new Message-ID (so that the copy
/// IMAP may fetch later, e.g. from a Sent folder or a Bcc, dedupes against it), conversation_key
/// = the thread root (first of reply_references(), else the new id: the same key the customer's
/// next reply will carry), occurred_at = request.date_ms, agent =
/// `agent`, customer_id = `customer_id` (the card the agent replied from; may be empty), a
/// claimed email identifier for the first To address, text as sent (LF line endings).
/// metadata: message_id, in_reply_to, references[], to[], cc[].
timeline::Interaction to_sent_interaction(const ReplyRequest& request, const ComposedEmail& composed,
                                          const std::string& source, const std::string& agent,
                                          const std::string& customer_id);

}  // namespace omnitrail::connectors::imap_smtp
