#include "daemon/outbox/webhook_outbox.hpp"

#include <algorithm>

#include "daemon/store/status.hpp"
#include "daemon/timeline/queries.hpp"

namespace omnitrail::outbox {

using nlohmann::json;
using store::StatusCode;
using store::StoreError;
using timeline::read_detail::StatementScope;

std::size_t record_webhook_events(store::WriteContext& w, const std::vector<config::WebhookConfig>& webhooks,
                                  const std::vector<WebhookEvent>& events, std::int64_t now_ms) {
  if (webhooks.empty() || events.empty()) return 0;
  std::size_t inserted = 0;
  for (const auto& event : events) {
    std::string body;  // serialised once per event, shared by its webhooks
    for (const auto& hook : webhooks) {
      if (!wants(hook, event)) continue;
      if (body.empty()) body = webhook_body(event);
      StatementScope insert(w.statement(
          "INSERT OR IGNORE INTO outbox(kind, idempotency_key, payload, customer_id, status, attempts,"
          " next_attempt_at, created_at, updated_at, target, order_key)"
          " VALUES ('webhook', ?1, ?2, (SELECT id FROM customers WHERE public_id = ?3), 'pending', 0,"
          "  CASE WHEN EXISTS (SELECT 1 FROM outbox WHERE kind = 'webhook' AND status = 'pending'"
          "                    AND target = ?5 AND order_key = ?3) THEN ?6 ELSE ?4 END,"
          "  ?4, ?4, ?5, ?3)"));
      insert->bind_all("webhook:" + hook.name + ":" + event.id, body, event.customer_id, now_ms, hook.name, kWaiting);
      insert->run();
      inserted += static_cast<std::size_t>(w.db().changes());
    }
  }
  return inserted;
}

std::vector<DueDelivery> due_webhook_deliveries(store::Database& db, std::int64_t now_ms, int limit,
                                                const std::vector<std::int64_t>& in_flight,
                                                const std::vector<std::string>& webhooks) {
  json names = json::array();
  for (const auto& n : webhooks) names.push_back(n);
  std::vector<DueDelivery> out;
  // A queue whose head is in flight is skipped as a whole: the head stays 'pending' until its
  // attempt is recorded, so the sub-select keeps naming it and its successors wait.
  StatementScope rows(db.cached(
      "SELECT o.id, o.target, o.payload, o.attempts, o.created_at FROM outbox AS o"
      " WHERE o.status = 'pending' AND o.next_attempt_at <= ?1 AND o.kind = 'webhook'"
      "   AND o.target IN (SELECT value FROM json_each(?3))"
      "   AND o.id = (SELECT min(p.id) FROM outbox AS p WHERE p.kind = 'webhook' AND p.status = 'pending'"
      "               AND p.target = o.target AND p.order_key = o.order_key)"
      " ORDER BY o.id LIMIT ?2"));
  rows->bind_all(now_ms, limit + static_cast<int>(in_flight.size()), names.dump());
  while (rows->step()) {
    const auto id = rows->column<std::int64_t>(0);
    if (std::find(in_flight.begin(), in_flight.end(), id) != in_flight.end()) continue;
    if (static_cast<int>(out.size()) >= limit) break;
    out.push_back(DueDelivery{id, rows->column<std::string>(1), rows->column<std::string>(2),
                              static_cast<int>(rows->column<std::int64_t>(3)), rows->column<std::int64_t>(4)});
  }
  return out;
}

void record_webhook_attempt(store::WriteContext& w, std::int64_t id, const std::string& state, int http_status,
                            const std::string& error, std::int64_t next_attempt_ms, std::int64_t now_ms) {
  if (state != "sent" && state != "failed" && state != "pending") {
    throw StoreError(StatusCode::invalid_argument, "webhook attempt state must be sent, failed or pending");
  }
  StatementScope update(w.statement(
      "UPDATE outbox SET status = ?2, attempts = attempts + 1, last_http_status = NULLIF(?3, 0),"
      " last_error = NULLIF(?4, ''), next_attempt_at = ?5, updated_at = ?6,"
      " done_at = CASE WHEN ?2 = 'pending' THEN NULL ELSE ?6 END"
      " WHERE id = ?1 AND kind = 'webhook' AND status = 'pending'"));
  update->bind_all(id, state, http_status, error.substr(0, 300), next_attempt_ms, now_ms);
  update->run();
  if (state == "pending" || w.db().changes() == 0) return;
  // Finished: the next row of its queue becomes due.
  StatementScope promote(w.statement(
      "UPDATE outbox SET next_attempt_at = ?2 WHERE id = (SELECT n.id FROM outbox AS n, outbox AS d"
      " WHERE d.id = ?1 AND n.kind = 'webhook' AND n.status = 'pending' AND n.target = d.target"
      " AND n.order_key = d.order_key ORDER BY n.id LIMIT 1) AND next_attempt_at >= ?3"));
  promote->bind_all(id, now_ms, kWaiting);
  promote->run();
}

std::size_t repair_webhook_queues(store::WriteContext& w, std::int64_t now_ms) {
  StatementScope update(w.statement(
      "UPDATE outbox SET next_attempt_at = ?1 WHERE next_attempt_at >= ?2 AND id IN"
      " (SELECT min(id) FROM outbox WHERE kind = 'webhook' AND status = 'pending' GROUP BY target, order_key)"));
  update->bind_all(now_ms, kWaiting);
  update->run();
  return static_cast<std::size_t>(w.db().changes());
}

std::size_t cancel_unconfigured_webhooks(store::WriteContext& w, const std::vector<std::string>& configured,
                                         std::int64_t now_ms) {
  json names = json::array();
  for (const auto& n : configured) names.push_back(n);
  StatementScope update(w.statement(
      "UPDATE outbox SET status = 'cancelled', updated_at = ?2, done_at = ?2,"
      " last_error = 'webhook removed from the configuration'"
      " WHERE kind = 'webhook' AND status = 'pending' AND target NOT IN (SELECT value FROM json_each(?1))"));
  update->bind_all(names.dump(), now_ms);
  update->run();
  return static_cast<std::size_t>(w.db().changes());
}

json list_webhook_deliveries(store::Database& db, const std::string& status, const std::string& webhook, int limit,
                             std::int64_t cursor) {
  StatementScope rows(db.cached(
      "SELECT id, target, json_extract(payload, '$.id'), json_extract(payload, '$.type'), status, attempts,"
      " last_http_status, last_error, created_at, next_attempt_at, done_at FROM outbox"
      " WHERE kind = 'webhook' AND (?1 = '' OR status = ?1) AND (?2 = '' OR target = ?2) AND (?3 = 0 OR id < ?3)"
      " ORDER BY id DESC LIMIT ?4"));
  rows->bind_all(status, webhook, cursor, limit + 1);
  json items = json::array();
  json next = nullptr;
  while (rows->step()) {
    auto& s = *rows;
    if (static_cast<int>(items.size()) == limit) {
      next = std::to_string(items.back()["id"].get<std::int64_t>());
      break;
    }
    auto time_or_null = [&](int column) {
      auto v = s.column<std::optional<std::int64_t>>(column);
      return v ? json(timeline::format_time(*v)) : json(nullptr);
    };
    const auto http_status = s.column<std::optional<std::int64_t>>(6);
    const auto error = s.column<std::optional<std::string>>(7);
    const std::string state = s.column<std::string>(4);
    items.push_back(json{{"id", s.column<std::int64_t>(0)},
                         {"webhook", s.column<std::string>(1)},
                         {"event_id", s.column<std::string>(2)},
                         {"event_type", s.column<std::string>(3)},
                         {"status", state},
                         {"attempts", s.column<std::int64_t>(5)},
                         {"last_http_status", http_status ? json(*http_status) : json(nullptr)},
                         {"last_error", error ? json(*error) : json(nullptr)},
                         {"created_at", time_or_null(8)},
                         {"next_attempt_at", state == "pending" ? time_or_null(9) : json(nullptr)},
                         {"done_at", time_or_null(10)}});
  }
  return json{{"deliveries", std::move(items)}, {"next_cursor", next}};
}

void retry_webhook_delivery(store::WriteContext& w, std::int64_t id, std::int64_t now_ms) {
  StatementScope row(w.statement("SELECT status FROM outbox WHERE id = ?1 AND kind = 'webhook'"));
  row->bind(1, id);
  if (!row->step()) throw StoreError(StatusCode::not_found, "no such webhook delivery");
  const std::string state = row->column<std::string>(0);
  if (state == "pending" || state == "sent") {
    throw StoreError(StatusCode::constraint, "delivery " + std::to_string(id) + " is " + state +
                                                 "; only failed or cancelled deliveries can be retried");
  }
  // Back at the head of its queue (lowest id): due now; the queue's current head, if any, waits
  // behind it (the head-of-queue check in due_webhook_deliveries).
  StatementScope update(w.statement(
      "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?2, created_at = ?2, updated_at = ?2,"
      " done_at = NULL WHERE id = ?1"));
  update->bind_all(id, now_ms);
  update->run();
}

std::size_t prune_webhook_deliveries(store::WriteContext& w, std::int64_t before_ms, int limit) {
  StatementScope remove(w.statement(
      "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE kind = 'webhook'"
      " AND status IN ('sent', 'failed', 'cancelled') AND done_at < ?1 LIMIT ?2)"));
  remove->bind_all(before_ms, limit);
  remove->run();
  return static_cast<std::size_t>(w.db().changes());
}

std::vector<WebhookEvent> erased_events(store::Database& db, const std::string& customer_id, std::int64_t now_ms) {
  const auto who = timeline::read_detail::resolve(db, customer_id);
  std::vector<WebhookEvent> events{erased_event(who.public_id, now_ms)};
  for (const auto& member : timeline::read_detail::family_of(db, who.row_id)) {
    if (member.row_id != who.row_id) events.push_back(erased_event(member.public_id, now_ms));
  }
  for (auto& e : events) e.data["erased_with"] = who.public_id;
  return events;
}

std::pair<std::string, std::string> merge_party_ids(store::Database& db, std::int64_t merge_id) {
  StatementScope row(db.cached(
      "SELECT s.public_id, m.public_id FROM merges AS j JOIN customers AS s ON s.id = j.survivor_id"
      " JOIN customers AS m ON m.id = j.merged_id WHERE j.id = ?1"));
  row->bind(1, merge_id);
  if (!row->step()) return {};
  return {row->column<std::string>(0), row->column<std::string>(1)};
}

std::vector<WebhookQueueStats> webhook_queue_stats(store::Database& db) {
  std::vector<WebhookQueueStats> out;
  StatementScope rows(db.cached(
      "SELECT target, count(*), min(created_at) FROM outbox WHERE kind = 'webhook' AND status = 'pending'"
      " GROUP BY target"));
  while (rows->step()) {
    out.push_back({rows->column<std::string>(0), rows->column<std::int64_t>(1), rows->column<std::int64_t>(2)});
  }
  return out;
}

}  // namespace omnitrail::outbox
