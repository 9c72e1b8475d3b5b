#include "daemon/outbox/messages.hpp"

#include <algorithm>

#include "daemon/store/status.hpp"
#include "daemon/timeline/interaction.hpp"
#include "daemon/timeline/queries.hpp"

namespace omnitrail::outbox {

using nlohmann::json;
using store::StatusCode;
using store::StoreError;
using timeline::format_time;
using timeline::read_detail::family_of;
using timeline::read_detail::ReadSnapshot;
using timeline::read_detail::resolve;
using timeline::read_detail::row_ids_json;
using timeline::read_detail::StatementScope;
using timeline::read_detail::survivor_of_row;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// At most `max` bytes, never half a UTF-8 character.
std::string bounded(std::string text, std::size_t max) {
  timeline::truncate_utf8(text, max);
  return text;
}

json time_or_null(const store::Statement& s, int column) {
  if (s.is_null(column)) return nullptr;
  return format_time(s.column<std::int64_t>(column));
}
json text_or_null(const store::Statement& s, int column) {
  if (s.is_null(column)) return nullptr;
  return s.column<std::string>(column);
}

// Delivery statuses in the order a message moves through them; delivered and failed are final.
int rank(const std::string& status) {
  if (status == "queued") return 0;
  if (status == "sending") return 1;
  if (status == "sent") return 2;
  if (status == "delivered" || status == "failed") return 3;
  return -1;
}

// metadata.delivery of interaction row `interaction`, merged with `changes` (which win).
void update_delivery(store::WriteContext& w, std::int64_t interaction, const json& changes) {
  if (interaction == 0) return;
  json delivery = json::object();
  {
    StatementScope row(w.statement("SELECT json_extract(metadata, '$.delivery') FROM interactions WHERE id = ?1"));
    row->bind(1, interaction);
    if (!row->step()) return;  // removed by retention: nothing to show the status on
    if (!row->is_null(0)) {
      auto parsed = json::parse(row->column<std::string>(0), nullptr, false);
      if (parsed.is_object()) delivery = std::move(parsed);
    }
  }
  for (const auto& [key, value] : changes.items()) delivery[key] = value;
  StatementScope update(
      w.statement("UPDATE interactions SET metadata = json_set(metadata, '$.delivery', json(?2)) WHERE id = ?1"));
  update->bind_all(interaction, dump(delivery));
  update->run();
}

std::string current_delivery_status(store::WriteContext& w, std::int64_t interaction) {
  StatementScope row(w.statement("SELECT json_extract(metadata, '$.delivery.status') FROM interactions WHERE id = ?1"));
  row->bind(1, interaction);
  if (!row->step() || row->is_null(0)) return {};
  return row->column<std::string>(0);
}

// The status an agent sees, from the row's state and the interaction's delivery status.
constexpr const char* derived_status_sql =
    "CASE o.status WHEN 'pending' THEN 'queued' WHEN 'sending' THEN 'sending'"
    " WHEN 'sent' THEN CASE WHEN json_extract(i.metadata, '$.delivery.status') IN ('delivered', 'failed')"
    "   THEN json_extract(i.metadata, '$.delivery.status') ELSE 'sent' END"
    " ELSE o.status END";

const std::string& message_select() {
  static const std::string sql = std::string(
      "SELECT o.public_id, o.target, json_extract(o.payload, '$.channel'), o.customer_id, i.public_id,"
      " v.public_id, json_extract(o.payload, '$.to'), json_extract(o.payload, '$.from'),"
      " json_extract(o.payload, '$.subject'), ") + derived_status_sql +
      ", o.attempts, o.last_error, o.last_http_status, o.provider_ref, o.created_at, o.updated_at,"
      " CASE WHEN o.status = 'pending' THEN o.next_attempt_at END, json_extract(o.payload, '$.agent'),"
      " json_extract(i.metadata, '$.delivery.error'), o.id"
      " FROM outbox AS o LEFT JOIN interactions AS i ON i.id = o.interaction_id"
      " LEFT JOIN conversations AS v ON v.id = i.conversation_id ";
  return sql;
}

json message_from_row(store::Database& db, const store::Statement& s) {
  json out{{"id", s.column<std::string>(0)},
           {"connector", s.column<std::string>(1)},
           {"channel", text_or_null(s, 2)},
           {"customer_id", nullptr},
           {"interaction_id", text_or_null(s, 4)},
           {"conversation_id", text_or_null(s, 5)},
           {"to", text_or_null(s, 6)},
           {"from", text_or_null(s, 7)},
           {"subject", text_or_null(s, 8)},
           {"status", s.column<std::string>(9)},
           {"attempts", s.column<std::int64_t>(10)},
           {"last_error", text_or_null(s, 11)},
           {"provider_code", s.is_null(12) ? json(nullptr) : json(s.column<std::int64_t>(12))},
           {"provider_id", text_or_null(s, 13)},
           {"created_at", time_or_null(s, 14)},
           {"updated_at", time_or_null(s, 15)},
           {"next_attempt_at", time_or_null(s, 16)},
           {"agent", text_or_null(s, 17)}};
  // A delivery report's reason (the provider's) is the message's error once sent.
  if (out["last_error"].is_null() && !s.is_null(18)) out["last_error"] = s.column<std::string>(18);
  if (!s.is_null(3)) {
    if (auto survivor = survivor_of_row(db, s.column<std::int64_t>(3))) out["customer_id"] = *survivor;
  }
  return out;
}

}  // namespace

json message_context(store::Database& db, const std::string& customer_id, const std::string& parent_id) {
  ReadSnapshot snapshot(db);
  const auto customer = resolve(db, customer_id);
  json out{{"customer_id", customer.public_id}, {"parent", nullptr}};
  const auto family = family_of(db, customer.row_id);
  if (!parent_id.empty()) {
    json parent = timeline::get_interaction(db, parent_id);
    std::string owner = parent["customer_id"].is_string() ? parent["customer_id"].get<std::string>() : "";
    if (owner.empty() || resolve(db, owner).public_id != customer.public_id) {
      throw StoreError(StatusCode::invalid_argument, "in_reply_to: interaction " + parent_id +
                                                         " is not on customer " + customer.public_id + "'s timeline");
    }
    StatementScope key(db.cached(
        "SELECT v.key FROM interactions AS i JOIN conversations AS v ON v.id = i.conversation_id WHERE i.public_id = ?1"));
    key->bind(1, parent_id);
    parent["conversation_key"] = key->step() ? json(key->column<std::string>(0)) : json(nullptr);
    out["parent"] = std::move(parent);
  }
  json defaults = json::object();
  StatementScope rows(db.cached(
      "SELECT kind, key FROM identities WHERE customer_id IN (SELECT value FROM json_each(?1))"
      " AND kind IN ('email', 'phone') ORDER BY last_seen DESC, id DESC"));
  rows->bind(1, row_ids_json(family));
  while (rows->step()) {
    auto kind = rows->column<std::string>(0);
    if (!defaults.contains(kind)) defaults[kind] = rows->column<std::string>(1);
  }
  out["default_to"] = std::move(defaults);
  return out;
}

std::string message_payload(const connectors::OutboundMessage& m) {
  return dump(json{{"id", m.id},
                   {"channel", m.channel},
                   {"connector", m.connector},
                   {"customer_id", m.customer_id},
                   {"agent", m.agent},
                   {"to", m.to},
                   {"subject", m.subject},
                   {"text", m.text},
                   {"created_at_ms", m.created_at_ms},
                   {"parent", m.parent},
                   {"from", m.from},
                   {"external_id", m.external_id},
                   {"conversation_key", m.conversation_key},
                   {"kind", m.kind},
                   {"metadata", m.metadata}});
}

connectors::OutboundMessage message_from_payload(const std::string& payload) {
  auto j = json::parse(payload, nullptr, false);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) {
    throw StoreError(StatusCode::internal, "outbox: a message row without a message payload");
  }
  auto text = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  connectors::OutboundMessage m;
  m.id = text("id");
  m.channel = text("channel");
  m.connector = text("connector");
  m.customer_id = text("customer_id");
  m.agent = text("agent");
  m.to = text("to");
  m.subject = text("subject");
  m.text = text("text");
  m.created_at_ms = j.value("created_at_ms", std::int64_t{0});
  m.parent = j.value("parent", json());
  m.from = text("from");
  m.external_id = text("external_id");
  m.conversation_key = text("conversation_key");
  m.kind = text("kind");
  m.metadata = j.value("metadata", json::object());
  return m;
}

json queue_message(store::WriteContext& w, const connectors::OutboundMessage& m, const std::string& idempotency_key,
                   std::int64_t now_ms) {
  {
    StatementScope insert(w.statement(
        "INSERT OR IGNORE INTO outbox(kind, idempotency_key, payload, customer_id, status, attempts, next_attempt_at,"
        " created_at, updated_at, target, order_key, public_id, interaction_id)"
        " VALUES ('message', ?1, ?2, (SELECT id FROM customers WHERE public_id = ?3), 'pending', 0, ?4, ?4, ?4, ?5,"
        "  ?6, ?7, (SELECT id FROM interactions WHERE source = ?5 AND external_id = ?8))"));
    insert->bind_all(idempotency_key, message_payload(m), m.customer_id, now_ms, m.connector,
                     m.conversation_key.empty() ? m.customer_id : m.conversation_key, m.id, m.external_id);
    insert->run();
  }
  const bool duplicate = w.db().changes() == 0;
  std::string id = m.id;
  if (duplicate) {
    StatementScope existing(w.statement("SELECT public_id, payload FROM outbox WHERE idempotency_key = ?1"));
    existing->bind(1, idempotency_key);
    if (!existing->step() || existing->is_null(0)) {
      throw StoreError(StatusCode::constraint, "Idempotency-Key: already used for something else");
    }
    // The same key for a different message is a client bug: refused (409), and the whole job,
    // the interaction just ingested included, is rolled back.
    const auto first = message_from_payload(existing->column<std::string>(1));
    // (Not the customer id: a merge between the two requests changes it, the key is the same.)
    if (first.channel != m.channel || first.connector != m.connector || first.text != m.text || first.to != m.to) {
      throw StoreError(StatusCode::constraint, "Idempotency-Key: already used for a different message");
    }
    id = existing->column<std::string>(0);
  }
  auto out = get_message(w.db(), id);
  out["duplicate"] = duplicate;
  return out;
}

std::vector<DueMessage> due_messages(store::Database& db, std::int64_t now_ms, int limit,
                                     const std::vector<std::string>& connectors) {
  json names = json::array();
  for (const auto& n : connectors) names.push_back(n);
  std::vector<DueMessage> out;
  StatementScope rows(db.cached(
      "SELECT o.id, o.payload, o.attempts, o.created_at FROM outbox AS o"
      " WHERE o.kind = 'message' AND o.status = 'pending' AND o.next_attempt_at <= ?1"
      "   AND o.target IN (SELECT value FROM json_each(?3))"
      "   AND NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.kind = 'message' AND p.status IN ('pending', 'sending')"
      "                   AND p.target = o.target AND p.order_key = o.order_key AND p.id < o.id)"
      " ORDER BY o.id LIMIT ?2"));
  rows->bind_all(now_ms, limit, names.dump());
  while (rows->step()) {
    DueMessage d;
    d.id = rows->column<std::int64_t>(0);
    d.message = message_from_payload(rows->column<std::string>(1));
    d.attempts = static_cast<int>(rows->column<std::int64_t>(2));
    d.created_at_ms = rows->column<std::int64_t>(3);
    out.push_back(std::move(d));
  }
  return out;
}

bool mark_sending(store::WriteContext& w, std::int64_t id, std::int64_t now_ms) {
  std::int64_t interaction = 0;
  {
    StatementScope update(w.statement(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ?2"
        " WHERE id = ?1 AND kind = 'message' AND status = 'pending' RETURNING coalesce(interaction_id, 0), attempts"));
    update->bind_all(id, now_ms);
    if (!update->step()) return false;
    interaction = update->column<std::int64_t>(0);
    const auto attempts = update->column<std::int64_t>(1);
    while (update->step()) {
    }
    const auto current = current_delivery_status(w, interaction);
    if (rank(current) < 2) update_delivery(w, interaction, json{{"status", "sending"}, {"attempts", attempts}});
  }
  return true;
}

void record_message_attempt(store::WriteContext& w, std::int64_t id, const std::string& state,
                            const connectors::SendResult& result, std::int64_t next_attempt_ms, std::int64_t now_ms) {
  if (state != "sent" && state != "failed" && state != "pending") {
    throw StoreError(StatusCode::invalid_argument, "message attempt state must be sent, failed or pending");
  }
  std::int64_t interaction = 0, attempts = 0;
  std::string current;
  {
    StatementScope row(w.statement("SELECT coalesce(interaction_id, 0) FROM outbox WHERE id = ?1"));
    row->bind(1, id);
    if (!row->step()) return;  // erased meanwhile
    interaction = row->column<std::int64_t>(0);
  }
  current = current_delivery_status(w, interaction);
  // The provider's delivery report came first (sent, delivered or failed): the provider has the
  // message, whatever this attempt saw (a timeout, a 5xx after it arrived). Recording a retry or
  // a failure now would send it again or hide the report.
  std::string state_recorded = state;
  if (rank(current) >= 2) state_recorded = "sent";
  {
    StatementScope update(w.statement(
        "UPDATE outbox SET status = ?2, last_http_status = NULLIF(?3, 0), last_error = NULLIF(?4, ''),"
        " provider_ref = coalesce(NULLIF(?5, ''), provider_ref), next_attempt_at = ?6, updated_at = ?7,"
        " done_at = CASE WHEN ?2 = 'pending' THEN NULL ELSE ?7 END"
        " WHERE id = ?1 AND kind = 'message' AND status = 'sending' RETURNING attempts"));
    update->bind_all(id, state_recorded, result.provider_code,
                     state_recorded == "sent" ? std::string() : bounded(result.error, 300),
                     bounded(result.provider_id, 200), next_attempt_ms, now_ms);
    if (!update->step()) return;  // no longer 'sending' (failed as interrupted, retried...)
    attempts = update->column<std::int64_t>(0);
    while (update->step()) {
    }
  }
  json changes{{"attempts", attempts}, {"updated_at", format_time(now_ms)}};
  if (!result.provider_id.empty()) changes["provider_id"] = bounded(result.provider_id, 200);
  if (result.provider_code != 0) changes["provider_code"] = result.provider_code;
  if (state_recorded == "sent") {
    // A delivery report may have overtaken the attempt's own outcome: never move backwards.
    if (rank(current) < 2) {
      changes["status"] = "sent";
      changes["error"] = nullptr;
    }
    changes["sent_at"] = format_time(now_ms);
  } else if (state == "failed") {
    changes["status"] = "failed";
    changes["error"] = bounded(result.error, 300);
  } else {
    changes["status"] = "queued";
    changes["error"] = bounded(result.error, 300);
    changes["next_attempt_at"] = format_time(next_attempt_ms);
  }
  update_delivery(w, interaction, changes);
}

std::size_t fail_interrupted_messages(store::WriteContext& w, std::int64_t now_ms) {
  const std::string reason = "interrupted: the daemon stopped during the attempt, so it may have been sent;"
                             " not resent automatically (retry it if the customer did not get it)";
  std::vector<std::pair<std::int64_t, std::int64_t>> rows;  // outbox id, interaction id
  {
    StatementScope select(w.statement(
        "SELECT id, coalesce(interaction_id, 0) FROM outbox WHERE kind = 'message' AND status = 'sending'"));
    while (select->step()) rows.emplace_back(select->column<std::int64_t>(0), select->column<std::int64_t>(1));
  }
  std::size_t failed = 0;
  for (const auto& [id, interaction] : rows) {
    // A delivery report already proved the provider has it: sent, not in doubt.
    const bool reported = rank(current_delivery_status(w, interaction)) >= 2;
    StatementScope update(w.statement(
        "UPDATE outbox SET status = ?2, last_error = NULLIF(?3, ''), updated_at = ?4, done_at = ?4 WHERE id = ?1"));
    update->bind_all(id, reported ? "sent" : "failed", reported ? std::string() : reason, now_ms);
    update->run();
    if (reported) continue;
    ++failed;
    update_delivery(w, interaction, json{{"status", "failed"}, {"error", reason}, {"updated_at", format_time(now_ms)}});
  }
  return failed;
}

std::string record_delivery_report(store::WriteContext& w, const std::string& connector,
                                   const connectors::DeliveryReport& report, std::int64_t now_ms) {
  if (report.status != "sent" && report.status != "delivered" && report.status != "failed") {
    throw StoreError(StatusCode::invalid_argument, "delivery report: status must be sent, delivered or failed");
  }
  std::int64_t interaction = 0;
  std::string public_id;
  {
    StatementScope row(w.statement(
        "SELECT coalesce(interaction_id, 0), public_id FROM outbox WHERE kind = 'message' AND target = ?1"
        " AND ((?2 <> '' AND public_id = ?2) OR (?2 = '' AND ?3 <> '' AND provider_ref = ?3))"
        " ORDER BY id DESC LIMIT 1"));
    row->bind_all(connector, report.message_id, report.provider_id);
    if (!row->step()) throw StoreError(StatusCode::not_found, "delivery report for an unknown message");
    interaction = row->column<std::int64_t>(0);
    public_id = row->column<std::string>(1);
  }
  const auto current = current_delivery_status(w, interaction);
  if (rank(current) >= 3) return public_id;                     // final already
  if (report.status == "sent" && rank(current) >= 2) return public_id;  // nothing new
  json changes{{"status", report.status}, {"reported_at", format_time(report.occurred_at_ms > 0 ? report.occurred_at_ms : now_ms)},
               {"updated_at", format_time(now_ms)}};
  if (!report.provider_id.empty()) changes["provider_id"] = bounded(report.provider_id, 200);
  changes["error"] = report.error.empty() ? json(nullptr) : json(bounded(report.error, 300));
  update_delivery(w, interaction, changes);
  if (!report.provider_id.empty()) {
    StatementScope update(w.statement(
        "UPDATE outbox SET provider_ref = coalesce(provider_ref, ?2) WHERE public_id = ?1"));
    update->bind_all(public_id, bounded(report.provider_id, 200));
    update->run();
  }
  return public_id;
}

json get_message(store::Database& db, const std::string& public_id) {
  ReadSnapshot snapshot(db);
  StatementScope row(db.cached(message_select() + "WHERE o.public_id = ?1 AND o.kind = 'message'"));
  row->bind(1, public_id);
  if (!row->step()) throw StoreError(StatusCode::not_found, "message " + public_id.substr(0, 64) + " not found");
  return message_from_row(db, *row);
}

json list_messages(store::Database& db, const std::string& status, const std::string& connector, int limit,
                   std::int64_t cursor) {
  ReadSnapshot snapshot(db);
  StatementScope rows(db.cached(message_select() + "WHERE o.kind = 'message' AND (?1 = '' OR " +
                                derived_status_sql + " = ?1) AND (?2 = '' OR o.target = ?2) AND (?3 = 0 OR o.id < ?3)"
                                " ORDER BY o.id DESC LIMIT ?4"));
  rows->bind_all(status, connector, cursor, limit + 1);
  json items = json::array();
  json next = nullptr;
  std::int64_t last_row = 0;
  while (rows->step()) {
    if (static_cast<int>(items.size()) == limit) {
      next = std::to_string(last_row);  // rows with a smaller id follow
      break;
    }
    items.push_back(message_from_row(db, *rows));
    last_row = rows->column<std::int64_t>(19);
  }
  return json{{"messages", std::move(items)}, {"next_cursor", std::move(next)}};
}

json retry_message(store::WriteContext& w, const std::string& public_id, std::int64_t now_ms) {
  std::int64_t interaction = 0;
  std::string status;
  {
    StatementScope row(w.statement(
        "SELECT coalesce(interaction_id, 0), status FROM outbox WHERE kind = 'message' AND public_id = ?1"));
    row->bind(1, public_id);
    if (!row->step()) throw StoreError(StatusCode::not_found, "message " + public_id.substr(0, 64) + " not found");
    interaction = row->column<std::int64_t>(0);
    status = row->column<std::string>(1);
  }
  // Failed: refused, given up, interrupted, or accepted and then reported undeliverable.
  const bool reported_failed = status == "sent" && current_delivery_status(w, interaction) == "failed";
  if (status != "failed" && !reported_failed) {
    throw StoreError(StatusCode::constraint, "only a failed message can be retried (this one is " +
                                                 std::string(status == "pending" ? "queued" : status) + ")");
  }
  StatementScope update(w.statement(
      "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?2, updated_at = ?2, done_at = NULL,"
      " last_error = NULL, provider_ref = NULL, created_at = ?2 WHERE kind = 'message' AND public_id = ?1"));
  update->bind_all(public_id, now_ms);
  update->run();
  update_delivery(w, interaction, json{{"status", "queued"}, {"error", nullptr}, {"attempts", 0},
                                       {"updated_at", format_time(now_ms)}});
  return get_message(w.db(), public_id);
}

std::size_t prune_messages(store::WriteContext& w, std::int64_t before_ms, int limit) {
  StatementScope del(w.statement(
      "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE kind = 'message'"
      " AND status IN ('sent', 'failed', 'cancelled') AND done_at < ?1 ORDER BY id LIMIT ?2)"));
  del->bind_all(before_ms, limit);
  del->run();
  return static_cast<std::size_t>(w.db().changes());
}

std::vector<MessageQueueStats> message_queue_stats(store::Database& db) {
  StatementScope rows(db.cached(
      "SELECT target, count(*), min(created_at) FROM outbox WHERE kind = 'message'"
      " AND status IN ('pending', 'sending') GROUP BY target"));
  std::vector<MessageQueueStats> out;
  while (rows->step()) {
    out.push_back({rows->column<std::string>(0), rows->column<std::int64_t>(1), rows->column<std::int64_t>(2)});
  }
  return out;
}

}  // namespace omnitrail::outbox
