// Outbound webhook events (issue #9): what happened, as the JSON document a receiver gets, and
// which configured webhooks want it. Pure values and functions, no I/O. Any thread.
//
// Event ids are derived from the change that caused the event (the interaction's id, the merge
// journal id, ...), never random: recording the same change twice yields the same id, and the
// outbox's UNIQUE(idempotency_key) turns the second record into a no-op. Receivers de-duplicate
// on the id across redeliveries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/config/config.hpp"
#include "daemon/timeline/ingest.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::outbox {

/// The event types, in documentation order.
const std::vector<std::string>& webhook_event_types();

struct WebhookEvent {
  std::string id;           ///< "evt_..." stable for the change (see above)
  std::string type;         ///< one of webhook_event_types()
  std::string customer_id;  ///< public id the event concerns (ordering key); may be empty
  std::string channel;      ///< for interaction / conversation / pop events; empty otherwise
  std::int64_t occurred_at_ms = 0;
  nlohmann::json data = nlohmann::json::object();
};

/// The delivered body: {"id","type","created_at" (RFC 3339, ms),"customer_id","data"} as compact
/// UTF-8 JSON (invalid UTF-8 replaced). Stored once and sent byte for byte on every attempt.
std::string webhook_body(const WebhookEvent& event);

/// Events of one committed ingest (never of a duplicate): interaction.created; customer.created
/// when it created the customer; customer.merged for every automatic merge it made;
/// conversation.ended when the interaction ends its conversation.
std::vector<WebhookEvent> events_for_ingest(const timeline::Interaction& in, const timeline::IngestOutcome& outcome,
                                            std::int64_t now_ms);

/// customer.merged for a merge by an agent or admin (REST merge, accepted suggestion).
WebhookEvent merged_event(std::int64_t merge_id, const std::string& survivor_id, const std::string& merged_id,
                          const std::string& actor, std::int64_t now_ms);
/// customer.unmerged for a reverted merge.
WebhookEvent unmerged_event(std::int64_t merge_id, const std::string& survivor_id, const std::string& restored_id,
                            const std::string& actor, std::int64_t now_ms);
/// customer.erased: carries only the public id (the personal data is gone).
WebhookEvent erased_event(const std::string& customer_id, std::int64_t now_ms);
/// pop.delivered: a screen-pop reached an agent's console (`pop` is the pop object sent).
WebhookEvent pop_delivered_event(const std::string& agent_id, const nlohmann::json& pop, std::int64_t now_ms);

/// True when webhook `w` subscribes to `event` (its events list, empty = all; its channels list
/// applies to events that have a channel).
bool wants(const config::WebhookConfig& w, const WebhookEvent& event);

/// The `Omnitrail-Signature` header value for a delivery: `t=<unix seconds>,v1=<hex>` where
/// hex = lower-case HMAC-SHA256(secret, "<t>." + body). The same scheme the CTI webhook connector
/// verifies inbound, so one verification snippet serves both directions.
std::string webhook_signature(std::string_view secret, std::int64_t unix_seconds, std::string_view body);

/// Retry delay after `attempts` failed attempts (1, 2, ...): 2^(attempts-1) seconds capped at
/// 10 minutes, with +-20 % jitter drawn from `jitter` in [0, 1).
std::int64_t retry_delay_ms(int attempts, double jitter);

/// How a delivery attempt ended.
enum class AttemptOutcome { delivered, retry, dead };
/// 2xx: delivered. 408, 429, 5xx, no response (timeout, connection error): retry. Other 4xx (and
/// 1xx/3xx: redirects are not followed): dead at once.
AttemptOutcome classify_attempt(int http_status, bool got_response);

}  // namespace omnitrail::outbox
