// The message rows of the durable outbox (table `outbox`, kind 'message'): an agent's reply by
// email, SMS or chat, queued in the same transaction as the outbound interaction that shows it on
// the timeline, attempted by the MessageDispatcher through the connector that owns its channel,
// and followed by the provider's delivery reports. docs/messages.md is the user-facing account.
//
// Row states: pending (queued or waiting for a retry), sending (an attempt is in progress: written
// BEFORE the connector is called), sent (the provider accepted it), failed (permanent refusal,
// retries exhausted, or interrupted mid-attempt), cancelled (its customer was erased; such rows
// are normally deleted with the customer).
// The delivery status an agent sees (metadata.delivery.status of the interaction, and `status`
// in GET /api/v1/messages/{id}): queued, sending, sent, delivered, failed.
//
// Thread contract: functions taking a WriteContext run on the store's writer thread inside a
// write job; those taking a Database& run on a reader (or the writer) inside a job.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/connector.hpp"
#include "daemon/store/store.hpp"

namespace omnitrail::outbox {

/// What POST /api/v1/messages needs to know before preparing a message, read in one snapshot:
/// {"customer_id": survivor, "parent": interaction JSON + "conversation_key" | null,
///  "default_to": {"email": "...", "phone": "..."} (the customer's most recently seen of each)}.
/// not_found: unknown/erased customer or parent; invalid_argument: the parent belongs to another
/// customer.
nlohmann::json message_context(store::Database& db, const std::string& customer_id, const std::string& parent_id);

/// The payload stored in the outbox row (and read back for send()): every field of the message.
std::string message_payload(const connectors::OutboundMessage& message);
/// The inverse; throws StoreError(internal) when the payload is not a message.
connectors::OutboundMessage message_from_payload(const std::string& payload);

/// Inserts the outbox row for `message`, whose interaction (source = message.connector,
/// external_id = message.external_id) was ingested in the same transaction. `idempotency_key`
/// unique across the outbox. A row with that key already there is left alone. Returns the
/// message's current JSON (as get_message()), with "duplicate": true when it existed.
nlohmann::json queue_message(store::WriteContext& w, const connectors::OutboundMessage& message,
                             const std::string& idempotency_key, std::int64_t now_ms);

/// A message to attempt.
struct DueMessage {
  std::int64_t id = 0;  // outbox row id
  connectors::OutboundMessage message;
  int attempts = 0;  // attempts made before this one
  std::int64_t created_at_ms = 0;
};

/// Pending rows due now, oldest first, at most `limit`, for the connectors named only; a row
/// waits while an older message of its (connector, conversation) is pending or sending, so the
/// messages of a conversation leave in order.
std::vector<DueMessage> due_messages(store::Database& db, std::int64_t now_ms, int limit,
                                     const std::vector<std::string>& connectors);

/// pending -> sending (attempts + 1), committed before the connector is called. False when the
/// row is no longer pending (erased, retried twice...): do not attempt it.
bool mark_sending(store::WriteContext& w, std::int64_t id, std::int64_t now_ms);

/// Records an attempt's outcome on the row and on the interaction's metadata.delivery:
/// `state` "sent", "failed" or "pending" (a retry at next_attempt_ms). Only a row in 'sending'
/// changes.
void record_message_attempt(store::WriteContext& w, std::int64_t id, const std::string& state,
                            const connectors::SendResult& result, std::int64_t next_attempt_ms, std::int64_t now_ms);

/// At start-up: rows left 'sending' by a crash or a forced stop become failed ("interrupted:
/// it may have been sent; not resent automatically"). Returns their number.
std::size_t fail_interrupted_messages(store::WriteContext& w, std::int64_t now_ms);

/// Applies a delivery report of `connector` (see connectors::DeliveryReport). Returns the
/// message's public id. not_found when no message of that connector matches; invalid_argument
/// for an unknown status. A report about a message already delivered or failed changes nothing.
std::string record_delivery_report(store::WriteContext& w, const std::string& connector,
                                   const connectors::DeliveryReport& report, std::int64_t now_ms);

/// One message by public id: {id, channel, connector, customer_id, interaction_id,
/// conversation_id, to, from, subject, status, attempts, last_error, provider_code, provider_id,
/// created_at, updated_at, next_attempt_at, agent}. not_found when unknown.
nlohmann::json get_message(store::Database& db, const std::string& public_id);

/// Listing, newest first: `status` "" or one of queued, sending, sent, delivered, failed;
/// `connector` "" or a name; cursor = last row id of the previous page (0: first page).
/// {"messages": [...], "next_cursor": "..."|null}
nlohmann::json list_messages(store::Database& db, const std::string& status, const std::string& connector, int limit,
                             std::int64_t cursor);

/// Puts a failed message back in its queue (pending, due now, attempts 0). not_found when
/// unknown; constraint unless it is failed.
nlohmann::json retry_message(store::WriteContext& w, const std::string& public_id, std::int64_t now_ms);

/// Deletes sent/failed/cancelled message rows finished before `before_ms` (the interaction stays
/// on the timeline with its final delivery status), at most `limit`.
std::size_t prune_messages(store::WriteContext& w, std::int64_t before_ms, int limit);

/// Pending + sending rows per connector, and the creation time of the oldest.
struct MessageQueueStats {
  std::string connector;
  std::int64_t pending = 0;
  std::int64_t oldest_created_at_ms = 0;
};
std::vector<MessageQueueStats> message_queue_stats(store::Database& db);

}  // namespace omnitrail::outbox
