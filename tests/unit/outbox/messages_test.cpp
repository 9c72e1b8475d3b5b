// The message rows of the outbox on a real store: queueing with the timeline interaction,
// idempotency, per-conversation order, attempts and retries, interrupted sends after a crash,
// delivery reports (never backwards, overtaking the attempt's own outcome), the agent's retry,
// listing, and the context read before a message is prepared.
#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "../timeline/timeline_test_support.hpp"
#include "daemon/outbox/messages.hpp"
#include "daemon/store/status.hpp"
#include "daemon/timeline/ingest.hpp"
#include "daemon/timeline/queries.hpp"

using namespace omnitrail;
using namespace omnitrail::outbox;
using connectors::OutboundMessage;
using connectors::SendResult;
using nlohmann::json;
using timeline::testing::Fixture;
using timeline::testing::phone;

namespace {

struct Messages : Fixture {
  std::string customer;
  int counter = 0;

  Messages() { customer = ingest(call("+44 20 7946 0123")).customer_id; }

  // Ingests the outbound interaction and queues the row in one write job, like the REST route.
  json queue(const std::string& conversation, const std::string& key = "", const std::string& connector = "sms1") {
    OutboundMessage m;
    m.id = "m_" + std::to_string(1000000000000000 + ++counter);
    m.channel = "sms";
    m.connector = connector;
    m.customer_id = customer;
    m.agent = "alice";
    m.to = "+442079460123";
    m.text = "Your order shipped ✓";
    m.created_at_ms = tick();
    m.external_id = m.id;
    m.conversation_key = conversation;
    m.from = "+15550001111";
    m.metadata = json{{"segments", 1}};
    timeline::Interaction in;
    in.channel = "sms";
    in.direction = "outbound";
    in.kind = "sms.sent";
    in.occurred_at_ms = m.created_at_ms;
    in.source = connector;
    in.external_id = m.id;
    in.conversation_key = conversation;
    in.customer_id = customer;
    in.text = m.text;
    in.metadata_json = json{{"delivery", {{"status", "queued"}, {"message_id", m.id}}}}.dump();
    const std::string idempotency = key.empty() ? "message:" + m.id : key;
    return write([this, in, m, idempotency](store::WriteContext& w) {
      timeline::ingest(w, settings, in, m.created_at_ms);
      return queue_message(w, m, idempotency, m.created_at_ms);
    });
  }

  json get(const std::string& id) { return get_message(reader(), id); }
  std::vector<DueMessage> due(std::int64_t now = 4'000'000'000'000) { return due_messages(reader(), now, 10, {"sms1", "sms2"}); }
  std::int64_t row(const std::string& id) { return scalar("SELECT id FROM outbox WHERE public_id = '" + id + "'"); }
  bool start(const std::string& id) {
    auto r = row(id);
    return write([r](store::WriteContext& w) { return mark_sending(w, r, 1'700'000'500'000); });
  }
  void finish(const std::string& id, const std::string& state, SendResult result, std::int64_t next = 0) {
    auto r = row(id);
    write([r, state, result, next](store::WriteContext& w) {
      record_message_attempt(w, r, state, result, next, 1'700'000'600'000);
    });
  }
  std::string delivery_status(const std::string& id) {
    return text("SELECT json_extract(i.metadata, '$.delivery.status') FROM outbox AS o JOIN interactions AS i"
                " ON i.id = o.interaction_id WHERE o.public_id = '" + id + "'");
  }
};

SendResult result(SendResult::Outcome outcome, std::string provider_id = "", std::string error = "", int code = 0) {
  SendResult r;
  r.outcome = outcome;
  r.provider_id = std::move(provider_id);
  r.error = std::move(error);
  r.provider_code = code;
  return r;
}

}  // namespace

TEST_CASE_METHOD(Messages, "a queued message is on the timeline and in the outbox, once per idempotency key",
                 "[outbox][messages]") {
  auto first = queue("+442079460123|+15550001111", "message-key:alice:k1");
  CHECK(first["status"] == "queued");
  CHECK(first["duplicate"] == false);
  CHECK(first["customer_id"] == customer);
  CHECK(first["channel"] == "sms");
  CHECK(first["connector"] == "sms1");
  CHECK(first["attempts"] == 0);
  CHECK(first["interaction_id"].is_string());
  CHECK(first["conversation_id"].is_string());
  auto again = queue("+442079460123|+15550001111", "message-key:alice:k1");
  CHECK(again["duplicate"] == true);
  CHECK(again["id"] == first["id"]);
  CHECK(scalar("SELECT count(*) FROM outbox WHERE kind = 'message'") == 1);
  // The same key for another message (here: through another connector) is refused, and the
  // interaction ingested in that job is rolled back with it.
  const auto interactions = scalar("SELECT count(*) FROM interactions");
  try {
    customer = ingest(call("+44 20 7946 0999")).customer_id;
    queue("+442079460999|+15550001111", "message-key:alice:k1", "sms2");
    FAIL("a reused key was accepted");
  } catch (const store::StoreError& e) {
    CHECK(e.status().code() == store::StatusCode::constraint);
  }
  CHECK(scalar("SELECT count(*) FROM interactions") == interactions + 1);  // the call only
  CHECK(scalar("SELECT count(*) FROM outbox WHERE kind = 'message'") == 1);
  auto interaction = timeline::get_interaction(reader(), first["interaction_id"].get<std::string>());
  CHECK(interaction["kind"] == "sms.sent");
  CHECK(interaction["metadata"]["delivery"]["status"] == "queued");

  // The payload holds every field send() needs.
  auto payload = text("SELECT payload FROM outbox WHERE public_id = '" + first["id"].get<std::string>() + "'");
  auto m = message_from_payload(payload);
  CHECK(m.id == first["id"]);
  CHECK(m.text == "Your order shipped ✓");
  CHECK(m.conversation_key == "+442079460123|+15550001111");
  CHECK(m.metadata["segments"] == 1);
  CHECK_THROWS_AS(message_from_payload("{\"type\":\"webhook\"}"), store::StoreError);
}

TEST_CASE_METHOD(Messages, "a conversation's messages leave in order; other conversations do not wait",
                 "[outbox][messages]") {
  auto a1 = queue("A")["id"].get<std::string>();
  auto a2 = queue("A")["id"].get<std::string>();
  auto b1 = queue("B")["id"].get<std::string>();
  auto ids = [&] {
    std::vector<std::string> out;
    for (const auto& d : due()) out.push_back(d.message.id);
    return out;
  };
  CHECK(ids() == std::vector<std::string>{a1, b1});
  REQUIRE(start(a1));
  CHECK_FALSE(start(a1));  // no longer pending: never attempted twice
  CHECK(get(a1)["status"] == "sending");
  CHECK(delivery_status(a1) == "sending");
  CHECK(ids() == std::vector<std::string>{b1});  // a2 waits behind a1 in flight
  finish(a1, "sent", result(SendResult::Outcome::sent, "SM123", "", 201));
  CHECK(ids() == std::vector<std::string>{a2, b1});
  auto sent = get(a1);
  CHECK(sent["status"] == "sent");
  CHECK(sent["attempts"] == 1);
  CHECK(sent["provider_id"] == "SM123");
  CHECK(sent["provider_code"] == 201);
}

TEST_CASE_METHOD(Messages, "a temporary failure waits for its retry time with the reason; a permanent one fails",
                 "[outbox][messages]") {
  auto id = queue("A")["id"].get<std::string>();
  REQUIRE(start(id));
  finish(id, "pending", result(SendResult::Outcome::retry, "", "connection refused"), 1'700'000'700'000);
  auto waiting = get(id);
  CHECK(waiting["status"] == "queued");
  CHECK(waiting["last_error"] == "connection refused");
  CHECK(waiting["next_attempt_at"] == timeline::format_time(1'700'000'700'000));
  CHECK(delivery_status(id) == "queued");
  CHECK(due(1'700'000'699'999).empty());
  CHECK(due(1'700'000'700'000).size() == 1);
  REQUIRE(start(id));
  finish(id, "failed", result(SendResult::Outcome::failed, "", "HTTP 400: 21211 invalid To", 400));
  auto failed = get(id);
  CHECK(failed["status"] == "failed");
  CHECK(failed["attempts"] == 2);
  CHECK(failed["last_error"] == "HTTP 400: 21211 invalid To");
  CHECK(delivery_status(id) == "failed");
  CHECK(due().empty());

  // An agent puts it back: queued, attempts from zero; only a failed message can be retried.
  auto retried = write([id](store::WriteContext& w) { return retry_message(w, id, 1'700'000'800'000); });
  CHECK(retried["status"] == "queued");
  CHECK(retried["attempts"] == 0);
  CHECK(delivery_status(id) == "queued");
  CHECK(write_status([id](store::WriteContext& w) { retry_message(w, id, 1); }).code() == store::StatusCode::constraint);
  CHECK(write_status([](store::WriteContext& w) { retry_message(w, "m_nope", 1); }).code() == store::StatusCode::not_found);
}

TEST_CASE_METHOD(Messages, "a send interrupted by a crash fails as interrupted and is never resent", "[outbox][messages]") {
  auto id = queue("A")["id"].get<std::string>();
  auto other = queue("B")["id"].get<std::string>();
  REQUIRE(start(id));
  // The daemon dies here. At the next start:
  auto n = write([](store::WriteContext& w) { return fail_interrupted_messages(w, 1'700'000'900'000); });
  CHECK(n == 1);
  auto m = get(id);
  CHECK(m["status"] == "failed");
  CHECK(m["last_error"].get<std::string>().find("interrupted") == 0);
  CHECK(delivery_status(id) == "failed");
  CHECK(get(other)["status"] == "queued");  // never started: still queued
  // A late outcome of the interrupted attempt changes nothing (the row is no longer 'sending').
  finish(id, "sent", result(SendResult::Outcome::sent, "SM9"));
  CHECK(get(id)["status"] == "failed");
}

TEST_CASE_METHOD(Messages, "delivery reports: by message id or provider id, per connector, never backwards",
                 "[outbox][messages]") {
  auto id = queue("A")["id"].get<std::string>();
  auto report = [&](std::string connector, std::string message_id, std::string provider_id, std::string status,
                    std::string error = "") {
    connectors::DeliveryReport r{std::move(message_id), std::move(provider_id), std::move(status), std::move(error), 0};
    return write([connector, r](store::WriteContext& w) { return record_delivery_report(w, connector, r, 1'700'001'000'000); });
  };
  REQUIRE(start(id));
  // The provider's report overtakes the attempt's own outcome: "delivered" stays.
  CHECK(report("sms1", id, "", "delivered") == id);
  finish(id, "sent", result(SendResult::Outcome::sent, "SM77", "", 202));
  CHECK(get(id)["status"] == "delivered");
  CHECK(delivery_status(id) == "delivered");
  CHECK(report("sms1", "", "SM77", "failed", "handset off") == id);  // final already: no change
  CHECK(get(id)["status"] == "delivered");

  auto second = queue("B")["id"].get<std::string>();
  REQUIRE(start(second));
  finish(second, "sent", result(SendResult::Outcome::sent, "SM78", "", 202));
  CHECK(report("sms1", "", "SM78", "sent") == second);
  CHECK(get(second)["status"] == "sent");
  CHECK(report("sms1", "", "SM78", "failed", "30003 unreachable") == second);
  auto failed = get(second);
  CHECK(failed["status"] == "failed");
  CHECK(failed["last_error"] == "30003 unreachable");

  CHECK(write_status([](store::WriteContext& w) {
          record_delivery_report(w, "sms2", connectors::DeliveryReport{"", "SM78", "delivered", "", 0}, 1);
        }).code() == store::StatusCode::not_found);  // another connector's message
  CHECK(write_status([](store::WriteContext& w) {
          record_delivery_report(w, "sms1", connectors::DeliveryReport{"", "SM-unknown", "delivered", "", 0}, 1);
        }).code() == store::StatusCode::not_found);
  CHECK(write_status([&](store::WriteContext& w) {
          record_delivery_report(w, "sms1", connectors::DeliveryReport{id, "", "read", "", 0}, 1);
        }).code() == store::StatusCode::invalid_argument);

  // A report that overtakes a timed-out attempt: the provider has it, so the retry outcome is
  // recorded as sent (not queued again: that would send it twice) and "delivered" stays.
  auto third = queue("C")["id"].get<std::string>();
  REQUIRE(start(third));
  CHECK(report("sms1", third, "", "delivered") == third);
  finish(third, "pending", result(SendResult::Outcome::retry, "", "timed out"), 1'700'000'700'000);
  CHECK(get(third)["status"] == "delivered");
  CHECK(get(third)["last_error"].is_null());
  CHECK(due().size() == 0);
  // A crash after such a report: sent, not "interrupted".
  auto fourth = queue("D")["id"].get<std::string>();
  REQUIRE(start(fourth));
  CHECK(report("sms1", fourth, "", "sent") == fourth);
  CHECK(write([](store::WriteContext& w) { return fail_interrupted_messages(w, 1'700'000'900'000); }) == 0);
  CHECK(get(fourth)["status"] == "sent");
  // Reported undeliverable after it was accepted: failed, and an agent may retry it.
  CHECK(report("sms1", fourth, "", "failed", "30005 unknown handset") == fourth);
  CHECK(get(fourth)["status"] == "failed");
  auto again = write([fourth](store::WriteContext& w) { return retry_message(w, fourth, 1'700'001'100'000); });
  CHECK(again["status"] == "queued");
  CHECK(again["provider_id"].is_null());
  REQUIRE(start(fourth));
  finish(fourth, "sent", result(SendResult::Outcome::sent, "SM99"));
  CHECK(get(fourth)["status"] == "sent");

  auto listing = list_messages(reader(), "failed", "", 10, 0);
  REQUIRE(listing["messages"].size() == 1);
  CHECK(listing["messages"][0]["id"] == second);
  CHECK(list_messages(reader(), "delivered", "sms1", 10, 0)["messages"].size() == 2);
  CHECK(list_messages(reader(), "", "sms2", 10, 0)["messages"].empty());
  auto page = list_messages(reader(), "", "", 1, 0);
  REQUIRE(page["messages"].size() == 1);
  CHECK(page["messages"][0]["id"] == fourth);  // newest first
  REQUIRE(page["next_cursor"].is_string());
  auto next = list_messages(reader(), "", "", 3, std::stoll(page["next_cursor"].get<std::string>()));
  REQUIRE(next["messages"].size() == 3);
  CHECK(next["messages"][0]["id"] == third);
  CHECK(next["messages"][2]["id"] == id);
  CHECK(next["next_cursor"].is_null());
}

TEST_CASE_METHOD(Messages, "the context of a reply: survivor, parent on this customer only, default recipients",
                 "[outbox][messages]") {
  auto parent = ingest(inbound("email", "email.received",
                               {timeline::IdentifierClaim{identity::IdentifierKind::email, "Ann@Example.org",
                                                          identity::Trust::claimed}}));
  auto ctx = message_context(reader(), parent.customer_id, parent.interaction_id);
  CHECK(ctx["customer_id"] == parent.customer_id);
  CHECK(ctx["parent"]["id"] == parent.interaction_id);
  CHECK(ctx["default_to"]["email"] == "ann@example.org");
  auto mine = message_context(reader(), customer, "");
  CHECK(mine["parent"].is_null());
  CHECK(mine["default_to"]["phone"] == "+442079460123");
  CHECK_THROWS_MATCHES(message_context(reader(), customer, parent.interaction_id), store::StoreError,
                       Catch::Predicate<store::StoreError>([](const store::StoreError& e) {
                         return e.status().code() == store::StatusCode::invalid_argument;
                       }));
  CHECK_THROWS_AS(message_context(reader(), "c_unknown", ""), store::StoreError);
}
