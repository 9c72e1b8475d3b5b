#include "daemon/outbox/webhook_events.hpp"

#include <algorithm>
#include <cmath>

#include "daemon/timeline/queries.hpp"
#include "daemon/util/hmac.hpp"

namespace omnitrail::outbox {

using nlohmann::json;

namespace {

constexpr std::int64_t max_retry_delay_ms = 10 * 60 * 1000;

json or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

WebhookEvent make(std::string id, std::string type, std::string customer, std::int64_t at) {
  WebhookEvent e;
  e.id = std::move(id);
  e.type = std::move(type);
  e.customer_id = std::move(customer);
  e.occurred_at_ms = at;
  return e;
}

}  // namespace

const std::vector<std::string>& webhook_event_types() {
  static const std::vector<std::string> types{"interaction.created", "conversation.ended", "customer.created",
                                              "customer.merged",     "customer.unmerged",  "customer.erased",
                                              "pop.delivered"};
  return types;
}

std::string webhook_body(const WebhookEvent& event) {
  json body{{"id", event.id},
            {"type", event.type},
            {"created_at", timeline::format_time(event.occurred_at_ms)},
            {"customer_id", or_null(event.customer_id)},
            {"data", event.data}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<WebhookEvent> events_for_ingest(const timeline::Interaction& in, const timeline::IngestOutcome& outcome,
                                            std::int64_t now_ms) {
  std::vector<WebhookEvent> events;
  if (outcome.duplicate || outcome.interaction_id.empty()) return events;
  const std::string& customer = outcome.customer_id;
  if (outcome.customer_created && !customer.empty()) {
    auto e = make("evt_cc_" + customer, "customer.created", customer, now_ms);
    e.data = {{"customer", {{"id", customer}, {"display_name", or_null(in.customer_display_name)}}},
              {"interaction_id", outcome.interaction_id}};
    events.push_back(std::move(e));
  }
  for (const auto& merged : outcome.merged_customer_ids) {
    auto e = make("evt_cm_" + outcome.interaction_id + "_" + merged, "customer.merged", customer, now_ms);
    e.data = {{"survivor_id", customer}, {"merged_id", merged}, {"merge_id", nullptr},
              {"by", "rules"}, {"interaction_id", outcome.interaction_id}};
    events.push_back(std::move(e));
  }
  {
    auto e = make("evt_ic_" + outcome.interaction_id, "interaction.created", customer, now_ms);
    e.channel = in.channel;
    json metadata = json::parse(in.metadata_json, nullptr, false);
    if (metadata.is_discarded() || !metadata.is_object()) metadata = json::object();
    e.data = {{"interaction",
               {{"id", outcome.interaction_id},
                {"customer_id", or_null(customer)},
                {"conversation_id", or_null(outcome.conversation_id)},
                {"channel", in.channel},
                {"direction", in.direction},
                {"kind", in.kind},
                {"occurred_at", timeline::format_time(in.occurred_at_ms)},
                {"source", in.source},
                {"external_id", in.external_id},
                {"from", or_null(in.from)},
                {"to", or_null(in.to)},
                {"agent", or_null(in.agent)},
                {"subject", or_null(in.subject)},
                {"text", or_null(in.text)},
                {"text_truncated", outcome.text_truncated},
                {"metadata", std::move(metadata)}}}};
    events.push_back(std::move(e));
  }
  if (in.ends_conversation && !outcome.conversation_id.empty()) {
    auto e = make("evt_ce_" + outcome.conversation_id, "conversation.ended", customer, now_ms);
    e.channel = in.channel;
    e.data = {{"conversation", {{"id", outcome.conversation_id},
                                {"channel", in.channel},
                                {"source", in.source},
                                {"ended_at", timeline::format_time(in.occurred_at_ms)}}},
              {"interaction_id", outcome.interaction_id}};
    events.push_back(std::move(e));
  }
  return events;
}

WebhookEvent merged_event(std::int64_t merge_id, const std::string& survivor_id, const std::string& merged_id,
                          const std::string& actor, std::int64_t now_ms) {
  auto e = make("evt_cm_m" + std::to_string(merge_id), "customer.merged", survivor_id, now_ms);
  e.data = {{"survivor_id", survivor_id}, {"merged_id", merged_id}, {"merge_id", merge_id}, {"by", actor}};
  return e;
}

WebhookEvent unmerged_event(std::int64_t merge_id, const std::string& survivor_id, const std::string& restored_id,
                            const std::string& actor, std::int64_t now_ms) {
  auto e = make("evt_cu_m" + std::to_string(merge_id), "customer.unmerged", survivor_id, now_ms);
  e.data = {{"survivor_id", or_null(survivor_id)}, {"restored_id", or_null(restored_id)}, {"merge_id", merge_id},
            {"by", actor}};
  return e;
}

WebhookEvent erased_event(const std::string& customer_id, std::int64_t now_ms) {
  auto e = make("evt_cx_" + customer_id, "customer.erased", customer_id, now_ms);
  e.data = {{"customer_id", customer_id}};
  return e;
}

WebhookEvent pop_delivered_event(const std::string& agent_id, const json& pop, std::int64_t now_ms) {
  const std::string pop_id = pop.value("id", std::string());
  std::string customer;
  if (auto view = pop.find("customer_view"); view != pop.end() && view->is_object()) {
    if (auto c = view->find("customer"); c != view->end() && c->is_object()) customer = c->value("id", std::string());
  }
  auto e = make("evt_pd_" + pop_id + "_" + agent_id, "pop.delivered", customer, now_ms);
  json trigger = json::object();
  if (auto t = pop.find("trigger"); t != pop.end() && t->is_object()) {
    trigger = *t;
    e.channel = t->value("channel", std::string());
  }
  e.data = {{"pop_id", pop_id}, {"agent_id", agent_id}, {"customer_id", or_null(customer)}, {"trigger", trigger}};
  return e;
}

bool wants(const config::WebhookConfig& w, const WebhookEvent& event) {
  if (!w.events.empty() && std::find(w.events.begin(), w.events.end(), event.type) == w.events.end()) return false;
  if (!w.channels.empty() && !event.channel.empty() &&
      std::find(w.channels.begin(), w.channels.end(), event.channel) == w.channels.end()) {
    return false;
  }
  return true;
}

std::string webhook_signature(std::string_view secret, std::int64_t unix_seconds, std::string_view body) {
  std::string signed_text = std::to_string(unix_seconds);
  signed_text += '.';
  signed_text.append(body);
  return "t=" + std::to_string(unix_seconds) + ",v1=" + util::hmac_sha256_hex(secret, signed_text);
}

std::int64_t retry_delay_ms(int attempts, double jitter) {
  const int exponent = std::clamp(attempts - 1, 0, 20);
  const std::int64_t base = std::min<std::int64_t>(1000LL << exponent, max_retry_delay_ms);
  const double factor = 0.8 + 0.4 * std::clamp(jitter, 0.0, 1.0);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(static_cast<double>(base) * factor)));
}

AttemptOutcome classify_attempt(int http_status, bool got_response) {
  if (!got_response) return AttemptOutcome::retry;
  if (http_status >= 200 && http_status < 300) return AttemptOutcome::delivered;
  if (http_status == 408 || http_status == 429 || http_status >= 500) return AttemptOutcome::retry;
  return AttemptOutcome::dead;
}

}  // namespace omnitrail::outbox
