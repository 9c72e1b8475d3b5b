// Webhook events and the outbox rows behind them: event documents, filters, signatures, retry
// policy, and the SQL that records, orders, retries, dead-letters, lists and prunes deliveries
// on a real store.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../timeline/timeline_test_support.hpp"
#include "daemon/outbox/webhook_events.hpp"
#include "daemon/outbox/webhook_outbox.hpp"
#include "daemon/timeline/customer_ops.hpp"
#include "daemon/timeline/queries.hpp"
#include "daemon/util/hmac.hpp"

using namespace omnitrail;
using namespace omnitrail::outbox;
using nlohmann::json;
using timeline::testing::Fixture;
using timeline::testing::phone;
using timeline::read_detail::StatementScope;

namespace {

config::WebhookConfig hook(std::string name, std::vector<std::string> events = {},
                           std::vector<std::string> channels = {}) {
  config::WebhookConfig w;
  w.name = std::move(name);
  w.url = "http://127.0.0.1:9/hook";
  w.secret.value = "s3cret";
  w.events = std::move(events);
  w.channels = std::move(channels);
  return w;
}

std::vector<std::string> types(const std::vector<WebhookEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.type);
  return out;
}

}  // namespace

TEST_CASE("events of an ingest: created customer, interaction, ended conversation", "[outbox][events]") {
  timeline::Interaction in;
  in.channel = "phone";
  in.direction = "inbound";
  in.kind = "call.ended";
  in.occurred_at_ms = 1700000000123;
  in.source = "pbx";
  in.external_id = "L1:end";
  in.from = "+442079460123";
  in.metadata_json = R"({"disposition":"ANSWER"})";
  in.ends_conversation = true;
  in.customer_display_name = "Ada";
  timeline::IngestOutcome outcome;
  outcome.interaction_id = "i_1";
  outcome.customer_id = "c_1";
  outcome.conversation_id = "v_1";
  outcome.customer_created = true;
  outcome.merged_customer_ids = {"c_2"};
  auto events = events_for_ingest(in, outcome, 1700000000999);
  CHECK(types(events) ==
        std::vector<std::string>{"customer.created", "customer.merged", "interaction.created", "conversation.ended"});
  for (const auto& e : events) CHECK(e.customer_id == "c_1");
  const auto body = json::parse(webhook_body(events[2]));
  CHECK(body["id"] == "evt_ic_i_1");
  CHECK(body["type"] == "interaction.created");
  CHECK(body["customer_id"] == "c_1");
  CHECK(body["created_at"] == "2023-11-14T22:13:20.999Z");
  CHECK(body["data"]["interaction"]["metadata"]["disposition"] == "ANSWER");
  CHECK(body["data"]["interaction"]["conversation_id"] == "v_1");
  CHECK(body["data"]["interaction"]["occurred_at"] == "2023-11-14T22:13:20.123Z");
  CHECK(events[3].id == "evt_ce_v_1");
  CHECK(events[1].data["merged_id"] == "c_2");

  // The same change gives the same ids (the outbox de-duplicates on them); a duplicate none.
  CHECK(events_for_ingest(in, outcome, 5)[2].id == events[2].id);
  outcome.duplicate = true;
  CHECK(events_for_ingest(in, outcome, 5).empty());
}

TEST_CASE("webhook filters by event type and channel", "[outbox][events]") {
  WebhookEvent call;
  call.type = "interaction.created";
  call.channel = "phone";
  WebhookEvent merge;
  merge.type = "customer.merged";
  CHECK(wants(hook("all"), call));
  CHECK(wants(hook("all"), merge));
  CHECK(wants(hook("merges", {"customer.merged"}), merge));
  CHECK_FALSE(wants(hook("merges", {"customer.merged"}), call));
  CHECK_FALSE(wants(hook("email", {}, {"email"}), call));
  CHECK(wants(hook("email", {}, {"email"}), merge));  // channel filters apply to events with a channel
  CHECK(wants(hook("phone", {"interaction.created"}, {"phone", "sms"}), call));
}

TEST_CASE("signature: t and v1 over timestamp.body, verifiable with HMAC-SHA256", "[outbox][events]") {
  const std::string body = R"({"id":"evt_1"})";
  const auto header = webhook_signature("s3cret", 1700000000, body);
  CHECK(header == "t=1700000000,v1=" + util::hmac_sha256_hex("s3cret", "1700000000." + body));
  CHECK(header.size() == std::string("t=1700000000,v1=").size() + 64);
  CHECK(webhook_signature("other", 1700000000, body) != header);
  CHECK(webhook_signature("s3cret", 1700000001, body) != header);
  // python3 -c "import hmac,hashlib;print(hmac.new(b'key',b'1.{}',hashlib.sha256).hexdigest())"
  CHECK(webhook_signature("key", 1, "{}") == "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
  CHECK(util::hmac_sha256_hex("key", "The quick brown fox jumps over the lazy dog") ==
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
  CHECK(util::constant_time_equal("abc", "abc"));
  CHECK_FALSE(util::constant_time_equal("abc", "abd"));
  CHECK_FALSE(util::constant_time_equal("abc", "ab"));
}

TEST_CASE("retry policy: exponential with jitter, capped; which statuses retry", "[outbox][events]") {
  CHECK(retry_delay_ms(1, 0.5) == 1000);
  CHECK(retry_delay_ms(2, 0.5) == 2000);
  CHECK(retry_delay_ms(5, 0.5) == 16000);
  CHECK(retry_delay_ms(100, 0.5) == 600000);
  CHECK(retry_delay_ms(3, 0.0) == 3200);
  CHECK(retry_delay_ms(3, 0.999999) >= 4799);
  CHECK(retry_delay_ms(3, 0.999999) <= 4800);
  CHECK(classify_attempt(200, true) == AttemptOutcome::delivered);
  CHECK(classify_attempt(204, true) == AttemptOutcome::delivered);
  for (int status : {408, 429, 500, 502, 503}) CHECK(classify_attempt(status, true) == AttemptOutcome::retry);
  for (int status : {301, 400, 401, 403, 404, 410, 422}) CHECK(classify_attempt(status, true) == AttemptOutcome::dead);
  CHECK(classify_attempt(0, false) == AttemptOutcome::retry);
}

TEST_CASE("outbox: rows per wanted webhook, idempotent, ordered per customer", "[outbox][sql]") {
  Fixture f;
  const std::vector<config::WebhookConfig> hooks{hook("crm"), hook("merges", {"customer.merged"})};
  auto a = f.ingest(f.call("+44 20 7946 0123"));
  auto b = f.ingest(f.call("+44 20 7946 0456"));
  auto a2 = f.ingest(f.call("+44 20 7946 0123"));
  std::vector<WebhookEvent> events;
  for (const auto* o : {&a, &b, &a2}) {
    timeline::Interaction in;
    in.channel = "phone";
    in.kind = "call.ringing";
    auto more = events_for_ingest(in, *o, 1000);
    events.insert(events.end(), more.begin(), more.end());
  }
  // a: customer.created + interaction.created; b: the same; a2: interaction.created.
  REQUIRE(events.size() == 5);
  CHECK(f.write([&](store::WriteContext& w) { return record_webhook_events(w, hooks, events, 1000); }) == 5);
  CHECK(f.write([&](store::WriteContext& w) { return record_webhook_events(w, hooks, events, 1000); }) == 0);
  CHECK(f.scalar("SELECT count(*) FROM outbox WHERE kind = 'webhook' AND target = 'crm'") == 5);
  CHECK(f.scalar("SELECT count(*) FROM outbox WHERE target = 'merges'") == 0);
  CHECK(f.scalar("SELECT count(*) FROM outbox WHERE customer_id IS NULL") == 0);

  // Heads of queues only: customer a's first row and customer b's first row.
  auto due = f.write([](store::WriteContext& w) { return due_webhook_deliveries(w.db(), 2000, 10, {}, {"crm"}); });
  REQUIRE(due.size() == 2);
  CHECK(json::parse(due[0].body)["customer_id"] == a.customer_id);
  CHECK(json::parse(due[0].body)["type"] == "customer.created");
  CHECK(json::parse(due[1].body)["customer_id"] == b.customer_id);
  // Not yet due, or in flight: skipped (and the queue behind it waits).
  CHECK(f.write([](store::WriteContext& w) { return due_webhook_deliveries(w.db(), 999, 10, {}, {"crm"}); }).empty());
  auto skipping = f.write([&](store::WriteContext& w) { return due_webhook_deliveries(w.db(), 2000, 10, {due[0].id}, {"crm"}); });
  REQUIRE(skipping.size() == 1);
  CHECK(skipping[0].id == due[1].id);

  // Delivering a's head makes a's next row the head; a retry keeps it at the head, not due.
  f.write([&](store::WriteContext& w) { record_webhook_attempt(w, due[0].id, "sent", 200, "", 2000, 2000); });
  f.write([&](store::WriteContext& w) { record_webhook_attempt(w, due[1].id, "pending", 503, "HTTP 503", 9000, 2000); });
  auto next = f.write([](store::WriteContext& w) { return due_webhook_deliveries(w.db(), 3000, 10, {}, {"crm"}); });
  REQUIRE(next.size() == 1);
  CHECK(json::parse(next[0].body)["customer_id"] == a.customer_id);
  CHECK(json::parse(next[0].body)["type"] == "interaction.created");
  CHECK(f.scalar("SELECT attempts FROM outbox WHERE id = " + std::to_string(due[1].id)) == 1);
  CHECK(f.text("SELECT last_error FROM outbox WHERE id = " + std::to_string(due[1].id)) == "HTTP 503");

  // Dead-lettering b's head unblocks b's queue; retry puts it back at the head.
  f.write([&](store::WriteContext& w) { record_webhook_attempt(w, due[1].id, "failed", 410, "HTTP 410", 9000, 9000); });
  auto after_dead = f.write([](store::WriteContext& w) { return due_webhook_deliveries(w.db(), 9000, 10, {}, {"crm"}); });
  CHECK(after_dead.size() == 2);
  auto listed = f.write([](store::WriteContext& w) { return list_webhook_deliveries(w.db(), "failed", "", 50, 0); });
  REQUIRE(listed["deliveries"].size() == 1);
  CHECK(listed["deliveries"][0]["last_http_status"] == 410);
  CHECK(listed["deliveries"][0]["event_type"] == "customer.created");
  CHECK(listed["deliveries"][0]["next_attempt_at"].is_null());
  f.write([&](store::WriteContext& w) { retry_webhook_delivery(w, due[1].id, 9500); });
  CHECK(f.text("SELECT status FROM outbox WHERE id = " + std::to_string(due[1].id)) == "pending");
  {
    // Back at the head of b's queue: due, and b's other row waits behind it.
    auto heads = f.write([](store::WriteContext& w) { return due_webhook_deliveries(w.db(), 9500, 10, {}, {"crm"}); });
    std::vector<std::int64_t> ids;
    for (const auto& h : heads) ids.push_back(h.id);
    CHECK(std::find(ids.begin(), ids.end(), due[1].id) != ids.end());
    CHECK(heads.size() == 2);
  }
  CHECK(f.scalar("SELECT attempts FROM outbox WHERE id = " + std::to_string(due[1].id)) == 0);
  CHECK(f.write_status([&](store::WriteContext& w) { retry_webhook_delivery(w, due[1].id, 9500); }).code() ==
        store::StatusCode::constraint);
  CHECK(f.write_status([&](store::WriteContext& w) { retry_webhook_delivery(w, 999999, 9500); }).code() ==
        store::StatusCode::not_found);

  // Paging, newest first.
  auto page1 = f.write([](store::WriteContext& w) { return list_webhook_deliveries(w.db(), "", "crm", 2, 0); });
  REQUIRE(page1["deliveries"].size() == 2);
  REQUIRE(page1["next_cursor"].is_string());
  auto page2 = f.write([&](store::WriteContext& w) {
    return list_webhook_deliveries(w.db(), "", "crm", 10, std::stoll(page1["next_cursor"].get<std::string>()));
  });
  CHECK(page2["deliveries"].size() == 3);
  CHECK(page2["next_cursor"].is_null());

  // Stats, cancellation of removed webhooks, pruning of finished rows.
  auto stats = f.write([](store::WriteContext& w) { return webhook_queue_stats(w.db()); });
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].webhook == "crm");
  CHECK(stats[0].pending == 4);
  CHECK(f.write([](store::WriteContext& w) { return cancel_unconfigured_webhooks(w, {"crm"}, 10000); }) == 0);
  CHECK(f.write([](store::WriteContext& w) { return cancel_unconfigured_webhooks(w, {"other"}, 10000); }) == 4);
  CHECK(f.write([](store::WriteContext& w) { return due_webhook_deliveries(w.db(), 20000, 10, {}, {"crm"}); }).empty());
  CHECK(f.write([](store::WriteContext& w) { return prune_webhook_deliveries(w, 10000, 100); }) == 1);  // the sent one
  CHECK(f.write([](store::WriteContext& w) { return prune_webhook_deliveries(w, 10001, 100); }) == 4);
  CHECK(f.scalar("SELECT count(*) FROM outbox") == 0);
}

TEST_CASE("outbox: erasure removes the customer's pending rows; the erased event survives", "[outbox][sql]") {
  Fixture f;
  const std::vector<config::WebhookConfig> hooks{hook("crm")};
  auto a = f.ingest(f.call("+44 20 7946 0123"));
  timeline::Interaction in;
  in.channel = "phone";
  f.write([&](store::WriteContext& w) { return record_webhook_events(w, hooks, events_for_ingest(in, a, 1), 1); });
  CHECK(f.scalar("SELECT count(*) FROM outbox") == 2);
  f.write([&](store::WriteContext& w) {
    timeline::erase_customer(w, a.customer_id, timeline::Actor{"admin", "admin"}, 2);
    record_webhook_events(w, hooks, {erased_event(a.customer_id, 2)}, 2);
  });
  CHECK(f.scalar("SELECT count(*) FROM outbox") == 1);
  CHECK(f.text("SELECT json_extract(payload, '$.type') FROM outbox") == "customer.erased");
  CHECK(f.text("SELECT order_key FROM outbox") == a.customer_id);
  CHECK(f.text("SELECT payload FROM outbox").find("+44") == std::string::npos);
}

TEST_CASE("outbox: merge parties and merge events", "[outbox][sql]") {
  Fixture f;
  auto a = f.ingest(f.call("+44 20 7946 0123"));
  auto b = f.ingest(f.call("+44 20 7946 0456"));
  auto merge_id = f.write([&](store::WriteContext& w) {
    return timeline::merge_customers(w, a.customer_id, b.customer_id, timeline::Actor{"admin", "admin"}, 5);
  });
  auto parties = f.write([&](store::WriteContext& w) { return merge_party_ids(w.db(), merge_id); });
  CHECK(parties.first == a.customer_id);
  CHECK(parties.second == b.customer_id);
  CHECK(f.write([](store::WriteContext& w) { return merge_party_ids(w.db(), 424242); }).first.empty());
  auto merged = merged_event(merge_id, parties.first, parties.second, "admin", 5);
  auto unmerged = unmerged_event(merge_id, parties.first, parties.second, "admin", 6);
  CHECK(merged.type == "customer.merged");
  CHECK(unmerged.type == "customer.unmerged");
  CHECK(merged.id != unmerged.id);
  CHECK(merged.customer_id == a.customer_id);
  CHECK(merged.data["merge_id"] == merge_id);
  // Erasing the merged id erases the whole group: both ids are announced, survivor first.
  auto erased = f.write([&](store::WriteContext& w) { return erased_events(w.db(), b.customer_id, 7); });
  REQUIRE(erased.size() == 2);
  CHECK(erased[0].customer_id == a.customer_id);
  CHECK(erased[1].customer_id == b.customer_id);
  CHECK(erased[1].data["erased_with"] == a.customer_id);
  CHECK(erased[0].id != erased[1].id);
  CHECK(f.write_status([&](store::WriteContext& w) { erased_events(w.db(), "c_nobody", 7); }).code() ==
        store::StatusCode::not_found);
}

TEST_CASE("pop.delivered event carries the pop's trigger and customer", "[outbox][events]") {
  json pop = {{"id", "p_1"},
              {"trigger", {{"channel", "phone"}, {"kind", "call.ringing"}}},
              {"customer_view", {{"customer", {{"id", "c_9"}}}}}};
  auto e = pop_delivered_event("alice", pop, 7);
  CHECK(e.id == "evt_pd_p_1_alice");
  CHECK(e.customer_id == "c_9");
  CHECK(e.channel == "phone");
  CHECK(e.data["agent_id"] == "alice");
  CHECK(e.data["trigger"]["kind"] == "call.ringing");
  CHECK(pop_delivered_event("bob", pop, 7).id != e.id);
}

TEST_CASE("outbox: only queue heads are due; successors wait, are promoted, and can be repaired", "[outbox][sql]") {
  Fixture f;
  const std::vector<config::WebhookConfig> hooks{hook("crm")};
  auto a = f.ingest(f.call("+44 20 7946 0123"));
  auto a2 = f.ingest(f.call("+44 20 7946 0123"));
  auto a3 = f.ingest(f.call("+44 20 7946 0123"));
  timeline::Interaction in;
  in.channel = "phone";
  for (const auto* o : {&a, &a2, &a3}) {
    f.write([&](store::WriteContext& w) { return record_webhook_events(w, hooks, events_for_ingest(in, *o, 100), 100); });
  }
  // customer.created (head, due at 100) + three interaction.created waiting.
  CHECK(f.scalar("SELECT count(*) FROM outbox WHERE next_attempt_at = 100") == 1);
  CHECK(f.scalar("SELECT count(*) FROM outbox WHERE next_attempt_at = " + std::to_string(kWaiting)) == 3);
  CHECK(f.write([](store::WriteContext& w) { return due_webhook_deliveries(w.db(), 200, 10, {}, {"other"}); }).empty());
  auto head = f.write([](store::WriteContext& w) { return due_webhook_deliveries(w.db(), 200, 10, {}, {"crm"}); });
  REQUIRE(head.size() == 1);
  // A retry keeps the successors waiting; a success promotes exactly the next one.
  f.write([&](store::WriteContext& w) { record_webhook_attempt(w, head[0].id, "pending", 500, "HTTP 500", 300, 200); });
  CHECK(f.scalar("SELECT count(*) FROM outbox WHERE next_attempt_at = " + std::to_string(kWaiting)) == 3);
  f.write([&](store::WriteContext& w) { record_webhook_attempt(w, head[0].id, "sent", 200, "", 300, 300); });
  CHECK(f.scalar("SELECT count(*) FROM outbox WHERE next_attempt_at = " + std::to_string(kWaiting)) == 2);
  auto second = f.write([](store::WriteContext& w) { return due_webhook_deliveries(w.db(), 300, 10, {}, {"crm"}); });
  REQUIRE(second.size() == 1);
  CHECK(json::parse(second[0].body)["data"]["interaction"]["id"] == a.interaction_id);
  // A head that disappears without an attempt leaves the queue stranded until repaired.
  f.write([&](store::WriteContext& w) {
    StatementScope remove(w.statement("DELETE FROM outbox WHERE id = ?1"));
    remove->bind(1, second[0].id);
    remove->run();
  });
  CHECK(f.write([](store::WriteContext& w) { return due_webhook_deliveries(w.db(), 400, 10, {}, {"crm"}); }).empty());
  CHECK(f.write([](store::WriteContext& w) { return repair_webhook_queues(w, 400); }) == 1);
  auto third = f.write([](store::WriteContext& w) { return due_webhook_deliveries(w.db(), 400, 10, {}, {"crm"}); });
  REQUIRE(third.size() == 1);
  CHECK(json::parse(third[0].body)["data"]["interaction"]["id"] == a2.interaction_id);
  CHECK(f.write([](store::WriteContext& w) { return repair_webhook_queues(w, 400); }) == 0);
}
