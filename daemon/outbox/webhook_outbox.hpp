// The webhook rows of the durable outbox (table `outbox`, kind 'webhook'): recording events in
// the transaction of the change that caused them, picking the next deliveries (one in flight per
// webhook and customer, so each customer's events arrive in order), recording attempt outcomes,
// the admin listing and retry, pruning and queue statistics.
//
// Thread contract: functions taking a WriteContext run on the store's writer thread inside a
// write job; those taking a Database& run on a reader (or the writer) inside a job.
//
// States: pending (waiting or being attempted), sent (a 2xx), failed (dead letter: a permanent
// 4xx, or retry_for elapsed), cancelled (its webhook was removed from the configuration).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/config/config.hpp"
#include "daemon/outbox/webhook_events.hpp"
#include "daemon/store/store.hpp"

namespace omnitrail::outbox {

/// Inserts one pending row per (event, webhook that wants it). A row whose (webhook, event id)
/// exists already is left alone (idempotent). Returns the number of rows inserted.
/// Only the head of a (webhook, customer) queue is ever due: a row queued behind a pending one
/// gets next_attempt_at = kWaiting, and becomes due when its predecessor finishes (so a long
/// outage costs each poll only the due heads, not every waiting row).
std::size_t record_webhook_events(store::WriteContext& w, const std::vector<config::WebhookConfig>& webhooks,
                                  const std::vector<WebhookEvent>& events, std::int64_t now_ms);

/// A delivery to attempt.
struct DueDelivery {
  std::int64_t id = 0;
  std::string webhook;
  std::string body;
  int attempts = 0;
  std::int64_t created_at_ms = 0;
};

/// next_attempt_at of a row waiting behind its queue's head.
inline constexpr std::int64_t kWaiting = 4'000'000'000'000'000;

/// The oldest pending row of each (webhook, customer) queue that is due (next_attempt_at <= now),
/// oldest first, at most `limit`, for the webhooks in `webhooks` only, skipping the ids in
/// `in_flight` (their queues wait for them).
std::vector<DueDelivery> due_webhook_deliveries(store::Database& db, std::int64_t now_ms, int limit,
                                                const std::vector<std::int64_t>& in_flight,
                                                const std::vector<std::string>& webhooks);

/// Makes the oldest pending row of every queue due when it is still marked waiting (a head that
/// left its queue other than by an attempt, e.g. an erased customer's rows). Returns the count.
std::size_t repair_webhook_queues(store::WriteContext& w, std::int64_t now_ms);

/// Records an attempt. `state` is "sent", "failed" or "pending" (a retry at next_attempt_ms).
/// `error` is a short reason without secrets. Attempts are counted.
void record_webhook_attempt(store::WriteContext& w, std::int64_t id, const std::string& state, int http_status,
                            const std::string& error, std::int64_t next_attempt_ms, std::int64_t now_ms);

/// Cancels the pending rows of webhooks not in `configured` (removed on reload). Returns the count.
std::size_t cancel_unconfigured_webhooks(store::WriteContext& w, const std::vector<std::string>& configured,
                                         std::int64_t now_ms);

/// Admin listing, newest first: `status` "" (any) or one of pending, sent, failed, cancelled;
/// `webhook` "" or a name; cursor = the last id of the previous page ("" for the first).
/// {"deliveries":[{id, webhook, event_id, event_type, status, attempts, last_http_status,
///   last_error, created_at, next_attempt_at, done_at}], "next_cursor": "..."|null}
nlohmann::json list_webhook_deliveries(store::Database& db, const std::string& status, const std::string& webhook,
                                       int limit, std::int64_t cursor);

/// Puts a failed or cancelled delivery back in its queue: pending, due now, attempts 0, and its
/// retry window restarted. not_found when no such webhook row; constraint when it is pending or sent.
void retry_webhook_delivery(store::WriteContext& w, std::int64_t id, std::int64_t now_ms);

/// Deletes finished rows (sent, failed, cancelled) finished before `before_ms`, at most `limit`.
std::size_t prune_webhook_deliveries(store::WriteContext& w, std::int64_t before_ms, int limit);

/// customer.erased events for an erasure of `customer_id` BEFORE it runs: erasing a merged id
/// erases its survivor's whole group, so there is one event per member (survivor first), each
/// with `erased_with` = the survivor. Throws not_found like the erasure would.
std::vector<WebhookEvent> erased_events(store::Database& db, const std::string& customer_id, std::int64_t now_ms);

/// The public ids (survivor, merged) of merge journal entry `merge_id`; empty strings when unknown.
std::pair<std::string, std::string> merge_party_ids(store::Database& db, std::int64_t merge_id);

/// Pending rows per webhook and the creation time of the oldest.
struct WebhookQueueStats {
  std::string webhook;
  std::int64_t pending = 0;
  std::int64_t oldest_created_at_ms = 0;
};
std::vector<WebhookQueueStats> webhook_queue_stats(store::Database& db);

}  // namespace omnitrail::outbox
