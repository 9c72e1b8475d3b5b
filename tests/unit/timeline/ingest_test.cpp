// Ingest specification: the scenarios of reference/identity.md on a real SQLite store, plus
// idempotency, truncation, limits, shared values and conversations.
#include <algorithm>
#include <string>

#include "daemon/store/status.hpp"
#include "daemon/timeline/customer_ops.hpp"
#include "daemon/timeline/ingest.hpp"
#include "daemon/timeline/resolver.hpp"
#include "timeline_test_support.hpp"

using namespace omnitrail;
using namespace omnitrail::timeline;
using namespace omnitrail::timeline::testing;
using identity::Trust;
using store::StatusCode;

TEST_CASE("A GB call and an SMS from the same number in E.164 give one customer", "[timeline][ingest][scenario]") {
  Fixture f;
  const auto call = f.ingest(f.call("02079460123"));
  const auto sms = f.ingest(f.inbound("sms", "sms.received", {phone("+44 20 7946 0123")}));
  CHECK(call.customer_created);
  CHECK_FALSE(sms.customer_created);
  CHECK(call.customer_id == sms.customer_id);
  CHECK(f.scalar("SELECT count(*) FROM customers") == 1);
  CHECK(f.text("SELECT key FROM identities") == "+442079460123");
  CHECK(f.text("SELECT raw FROM identities") == "02079460123");
  CHECK(f.text("SELECT from_key FROM interactions WHERE public_id = '" + sms.interaction_id + "'") ==
        "+442079460123");
}

TEST_CASE("An email in display form and a verified chat email give one customer", "[timeline][ingest][scenario]") {
  Fixture f;
  const auto mail = f.ingest(f.inbound("email", "email.received", {email("Alice <ALICE@Example.COM>")}));
  CHECK(f.text("SELECT trust FROM identities") == "claimed");
  const auto chat =
      f.ingest(f.inbound("chat", "chat.started", {email("alice@example.com", Trust::verified)}));
  CHECK(mail.customer_id == chat.customer_id);
  CHECK(f.scalar("SELECT count(*) FROM customers") == 1);
  CHECK(f.scalar("SELECT count(*) FROM identities") == 1);
  CHECK(f.text("SELECT key FROM identities") == "alice@example.com");
  CHECK(f.text("SELECT raw FROM identities") == "ALICE@Example.COM");
  CHECK(f.text("SELECT trust FROM identities") == "verified");  // upgraded on the verified contact
  f.ingest(f.inbound("email", "email.received", {email("alice@example.com")}));
  CHECK(f.text("SELECT trust FROM identities") == "verified");  // never downgraded
}

TEST_CASE("Two anonymous calls are two separate contacts without identities", "[timeline][ingest][scenario]") {
  Fixture f;
  const auto first = f.ingest(f.call("anonymous"));
  const auto second = f.ingest(f.call("Anonymous"));
  CHECK(first.customer_created);
  CHECK(second.customer_created);
  CHECK(first.customer_id != second.customer_id);
  CHECK(f.scalar("SELECT count(*) FROM customers") == 2);
  CHECK(f.scalar("SELECT count(*) FROM identities") == 0);
  CHECK(f.text("SELECT from_raw FROM interactions ORDER BY id LIMIT 1") == "anonymous");
}

TEST_CASE("A chat form claiming another customer's phone gives a suggestion, not a merge",
          "[timeline][ingest][scenario]") {
  Fixture f;
  const auto caller = f.ingest(f.call("07911 123456"));
  const auto chatter = f.ingest(f.inbound("chat", "chat.started", {chat_user("u-42")}));
  REQUIRE(caller.customer_id != chatter.customer_id);
  const auto form = f.ingest(f.inbound("chat", "chat.message", {chat_user("u-42"), phone("07911123456")}));
  CHECK(form.customer_id == chatter.customer_id);
  CHECK(form.merged_customer_ids.empty());
  REQUIRE(form.suggestion_ids.size() == 1);
  CHECK(f.scalar("SELECT count(*) FROM customers WHERE merged_into IS NOT NULL") == 0);
  CHECK(f.scalar("SELECT count(*) FROM merges") == 0);
  CHECK(f.text("SELECT status FROM suggestions") == "pending");
  CHECK(f.text("SELECT reason FROM suggestions") == "phone_match");
  // The phone stays with its owner; the chatter is linked to it.
  CHECK(f.scalar("SELECT customer_id FROM identities WHERE kind = 'phone'") == f.customer_row(caller.customer_id));
  CHECK(f.scalar("SELECT customer_id FROM identity_links") == f.customer_row(chatter.customer_id));
  // The same claim again widens the same suggestion instead of adding one.
  const auto again = f.ingest(f.inbound("chat", "chat.message", {chat_user("u-42"), phone("07911123456")}));
  CHECK(again.suggestion_ids == form.suggestion_ids);
  CHECK(f.scalar("SELECT count(*) FROM suggestions") == 1);
}

TEST_CASE("Emails differing in case are one customer and keep the original spelling",
          "[timeline][ingest][scenario]") {
  Fixture f;
  const auto a = f.ingest(f.inbound("email", "email.received", {email("John.Smith@Example.COM")}));
  const auto b = f.ingest(f.inbound("email", "email.received", {email("john.smith@example.com")}));
  CHECK(a.customer_id == b.customer_id);
  CHECK(f.scalar("SELECT count(*) FROM identities") == 1);
  CHECK(f.text("SELECT raw FROM identities") == "John.Smith@Example.COM");  // replies go here
}

TEST_CASE("Gmail dots and plus tags join, other domains keep dots apart", "[timeline][ingest][scenario]") {
  Fixture f;
  const auto a = f.ingest(f.inbound("email", "email.received", {email("j.smith+promo@gmail.com")}));
  const auto b = f.ingest(f.inbound("email", "email.received", {email("jsmith@googlemail.com")}));
  CHECK(a.customer_id == b.customer_id);
  const auto c = f.ingest(f.inbound("email", "email.received", {email("j.smith@acme.com")}));
  const auto d = f.ingest(f.inbound("email", "email.received", {email("jsmith@acme.com")}));
  CHECK(c.customer_id != d.customer_id);
  CHECK(c.customer_id != a.customer_id);
  CHECK(f.scalar("SELECT count(*) FROM customers") == 3);
}

TEST_CASE("SMS from a short code or an alphanumeric sender stores no identifier", "[timeline][ingest][scenario]") {
  Fixture f;
  const auto code = f.ingest(f.inbound("sms", "sms.received", {phone("72345")}));
  const auto bank = f.ingest(f.inbound("sms", "sms.received", {phone("BANK")}));
  CHECK_FALSE(code.internal);
  CHECK_FALSE(bank.internal);
  CHECK(code.customer_id != bank.customer_id);
  CHECK(f.scalar("SELECT count(*) FROM identities") == 0);
  CHECK(f.scalar("SELECT count(*) FROM interactions WHERE from_raw IN ('72345', 'BANK')") == 2);
  CHECK(f.scalar("SELECT count(*) FROM interactions WHERE from_key IS NOT NULL") == 0);
}

TEST_CASE("An internal extension calling the queue creates no customer", "[timeline][ingest][scenario]") {
  Fixture f;
  Interaction in = f.call("6001");
  in.conversation_key = "linkedid-1";
  const auto outcome = f.ingest(in);
  CHECK(outcome.internal);
  CHECK(outcome.customer_id.empty());
  CHECK_FALSE(outcome.interaction_id.empty());
  CHECK_FALSE(outcome.conversation_id.empty());
  CHECK(f.scalar("SELECT count(*) FROM customers") == 0);
  CHECK(f.scalar("SELECT count(*) FROM interactions WHERE customer_id IS NULL") == 1);
  CHECK(f.scalar("SELECT count(*) FROM conversations WHERE customer_id IS NULL") == 1);
  // The company's own number is internal too.
  CHECK(f.ingest(f.call("+44 20 7946 0999")).internal);
  CHECK(f.scalar("SELECT count(*) FROM customers") == 0);
}

TEST_CASE("Ingesting the same source and external id twice returns the first ids and changes nothing",
          "[timeline][ingest]") {
  Fixture f;
  Interaction in = f.call("02079460123");
  in.conversation_key = "call-1";
  const auto first = f.ingest(in);
  const auto rows_before = f.dump("interactions");
  Interaction again = in;
  again.text = "different text";
  again.customer_identifiers = {phone("07911123999")};
  const auto second = f.ingest(again);
  CHECK(second.duplicate);
  CHECK_FALSE(first.duplicate);
  CHECK(second.interaction_id == first.interaction_id);
  CHECK(second.customer_id == first.customer_id);
  CHECK(second.conversation_id == first.conversation_id);
  CHECK_FALSE(second.customer_created);
  CHECK(f.dump("interactions") == rows_before);
  CHECK(f.scalar("SELECT count(*) FROM customers") == 1);
  CHECK(f.scalar("SELECT count(*) FROM identities") == 1);
}

TEST_CASE("A duplicate after a merge returns the survivor", "[timeline][ingest]") {
  Fixture f;
  Interaction in = f.call("02079460123");
  const auto first = f.ingest(in);
  const auto other = f.ingest(f.inbound("email", "email.received", {email("bob@example.com")}));
  const Actor agent{"agent-7", "agent"};
  f.write([&](store::WriteContext& w) { return merge_customers(w, other.customer_id, first.customer_id, agent, 5); });
  const auto duplicate = f.ingest(in);
  CHECK(duplicate.duplicate);
  CHECK(duplicate.interaction_id == first.interaction_id);
  CHECK(duplicate.customer_id == other.customer_id);
}

TEST_CASE("Text is cut at a UTF-8 boundary and flagged", "[timeline][ingest]") {
  Fixture f;
  f.settings.max_text_bytes = 5;
  Interaction in = f.inbound("sms", "sms.received", {phone("07911123456")});
  in.text = "abcd\xC3\xA9xyz";  // "abcdé xyz": byte 5 is inside é
  const auto cut = f.ingest(in);
  CHECK(cut.text_truncated);
  CHECK(f.text("SELECT text FROM interactions") == "abcd");
  CHECK(f.scalar("SELECT text_truncated FROM interactions") == 1);
  Interaction short_text = f.inbound("sms", "sms.received", {phone("07911123456")});
  short_text.text = "ok";
  CHECK_FALSE(f.ingest(short_text).text_truncated);
}

TEST_CASE("An invalid interaction is refused with the field named and writes nothing", "[timeline][ingest]") {
  Fixture f;
  Interaction in = f.call("02079460123");
  in.channel = "fax";
  const auto status = f.write_status([&](store::WriteContext& w) { ingest(w, f.settings, in, 1); });
  CHECK(status.code() == StatusCode::invalid_argument);
  CHECK(status.message().find("channel") != std::string::npos);
  CHECK(f.scalar("SELECT count(*) FROM customers") == 0);
  CHECK(f.scalar("SELECT count(*) FROM interactions") == 0);
}

TEST_CASE("A new email over the per-customer limit becomes a suggestion", "[timeline][ingest]") {
  Fixture f;
  f.settings.limits.max_emails = 1;
  const auto first = f.ingest(f.inbound("chat", "chat.started", {chat_user("u-1"), email("a@example.com", Trust::verified)}));
  const auto second =
      f.ingest(f.inbound("chat", "chat.started", {chat_user("u-1"), email("b@example.com", Trust::verified)}));
  CHECK(second.customer_id == first.customer_id);
  REQUIRE(second.suggestion_ids.size() == 1);
  CHECK(f.scalar("SELECT count(*) FROM identities WHERE kind = 'email'") == 1);
  CHECK(f.text("SELECT reason FROM suggestions") == "limit_exceeded");
  CHECK(f.scalar("SELECT count(*) FROM suggestions WHERE customer_b IS NULL") == 1);
  CHECK(f.text("SELECT evidence FROM suggestions").find("b@example.com") != std::string::npos);
}

TEST_CASE("A configured shared value links but never merges and lists the candidates", "[timeline][ingest]") {
  Fixture f;
  f.settings.shared_values = {"+44 20 7946 0500"};
  const auto a = f.ingest(f.inbound("email", "email.received", {email("a@example.com"), phone("020 7946 0500")}));
  const auto b = f.ingest(f.inbound("email", "email.received", {email("b@example.com"), phone("02079460500")}));
  CHECK(a.customer_id != b.customer_id);
  CHECK(b.shared_candidate_customer_ids == std::vector<std::string>{a.customer_id});
  CHECK(f.scalar("SELECT count(*) FROM identities WHERE kind = 'phone'") == 0);
  const auto switchboard = f.ingest(f.call("+442079460500"));
  CHECK(switchboard.merged_customer_ids.empty());
  auto candidates = switchboard.shared_candidate_customer_ids;
  std::sort(candidates.begin(), candidates.end());
  auto expected = std::vector<std::string>{a.customer_id, b.customer_id};
  std::sort(expected.begin(), expected.end());
  CHECK(candidates == expected);
  CHECK(f.scalar("SELECT count(*) FROM merges") == 0);
}

TEST_CASE("A value seen with more customers than the threshold is treated as shared", "[timeline][ingest]") {
  Fixture f;
  f.settings.shared_threshold = 1;
  const auto owner = f.ingest(f.call("07911123456"));
  // A verified login never rides on a phone: a new customer, linked to the phone.
  const auto other = f.ingest(f.inbound("chat", "chat.started", {chat_user("u-9"), phone("07911123456")}));
  CHECK(other.customer_id != owner.customer_id);
  CHECK(f.scalar("SELECT count(*) FROM identity_links") == 1);
  // Now two customers carry it (> 1): a plain call from it joins neither and lists both.
  const auto call = f.ingest(f.call("07911123456"));
  CHECK(call.customer_created);
  CHECK(call.shared_candidate_customer_ids.size() == 2);
  CHECK(f.scalar("SELECT count(*) FROM merges") == 0);
}

TEST_CASE("Two different tier-A values block an automatic merge and suggest it instead", "[timeline][ingest]") {
  Fixture f;
  const auto x = f.ingest(f.inbound("api", "crm.sync", {external("crm-1"), email("x@example.com", Trust::verified)}));
  const auto y = f.ingest(f.inbound("api", "crm.sync", {external("crm-2"), email("y@example.com", Trust::verified)}));
  const auto both = f.ingest(
      f.inbound("chat", "chat.started", {email("x@example.com", Trust::verified), email("y@example.com", Trust::verified)}));
  CHECK(both.merged_customer_ids.empty());
  CHECK(f.scalar("SELECT count(*) FROM merges") == 0);
  REQUIRE(both.suggestion_ids.size() == 1);
  CHECK(f.text("SELECT reason FROM suggestions") == "tier_a_conflict");
  CHECK(x.customer_id != y.customer_id);
}

TEST_CASE("A verified email reaching two customers merges them into the oldest", "[timeline][ingest]") {
  Fixture f;
  const auto older = f.ingest(f.inbound("chat", "chat.started", {chat_user("u-1")}));
  const auto newer = f.ingest(f.inbound("email", "email.received", {email("a@example.com")}));
  Interaction in = f.inbound("chat", "chat.started", {chat_user("u-1"), email("a@example.com", Trust::verified)});
  in.conversation_key = "chat-9";
  const auto merged = f.ingest(in);
  CHECK(merged.customer_id == older.customer_id);
  CHECK(merged.merged_customer_ids == std::vector<std::string>{newer.customer_id});
  CHECK(f.scalar("SELECT count(*) FROM identities WHERE customer_id = " +
                 std::to_string(f.customer_row(older.customer_id))) == 2);
  CHECK(f.text("SELECT rule FROM merges") == "verified_email");
  CHECK(f.text("SELECT actor FROM merges") == "test");
  const std::string moved = f.text("SELECT moved FROM merges");
  CHECK(moved.find("\"identities\":[2]") != std::string::npos);
  CHECK(moved.find("\"interactions\":[2]") != std::string::npos);
  CHECK(f.scalar("SELECT count(*) FROM audit") == 0);  // ingest writes no audit line
}

TEST_CASE("Unmerge records a do-not-merge pair and the same evidence never merges again", "[timeline][ingest]") {
  Fixture f;
  const auto x = f.ingest(f.inbound("chat", "chat.started", {chat_user("u-1")}));
  const auto y = f.ingest(f.inbound("email", "email.received", {email("a@example.com")}));
  const auto contact = f.ingest(f.inbound("chat", "chat.started", {chat_user("u-1"), email("a@example.com", Trust::verified)}));
  REQUIRE(contact.merged_customer_ids.size() == 1);
  const auto merge_id = f.scalar("SELECT id FROM merges");
  f.write([&](store::WriteContext& w) { unmerge(w, merge_id, Actor{"agent-1", "agent"}, 100); });
  CHECK(f.scalar("SELECT count(*) FROM do_not_merge") == 1);
  CHECK(f.text("SELECT evidence FROM do_not_merge").find("a@example.com") != std::string::npos);
  const auto again = f.ingest(f.inbound("chat", "chat.started", {chat_user("u-1"), email("a@example.com", Trust::verified)}));
  CHECK(again.merged_customer_ids.empty());
  CHECK(again.suggestion_ids.empty());
  CHECK(f.scalar("SELECT count(*) FROM merges WHERE reverted_at IS NULL") == 0);
  CHECK(f.scalar("SELECT count(*) FROM customers WHERE merged_into IS NOT NULL") == 0);
  CHECK(x.customer_id != y.customer_id);
}

TEST_CASE("Two first contacts from one number queued together create one customer", "[timeline][ingest]") {
  Fixture f;
  const Interaction a = f.call("02079460123");
  const Interaction b = f.call("+442079460123");
  std::promise<IngestOutcome> pa, pb;
  const auto settings = f.settings;
  REQUIRE(f.store().submit_write<IngestOutcome>(
      [&](store::WriteContext& w) { return ingest(w, settings, a, 1); },
      [&](store::Result<IngestOutcome> r) { pa.set_value(r.ok() ? *r : IngestOutcome{}); }));
  REQUIRE(f.store().submit_write<IngestOutcome>(
      [&](store::WriteContext& w) { return ingest(w, settings, b, 2); },
      [&](store::Result<IngestOutcome> r) { pb.set_value(r.ok() ? *r : IngestOutcome{}); }));
  const auto ra = pa.get_future().get();
  const auto rb = pb.get_future().get();
  CHECK_FALSE(ra.customer_id.empty());
  CHECK(ra.customer_id == rb.customer_id);
  CHECK(f.scalar("SELECT count(*) FROM customers") == 1);
}

TEST_CASE("Conversations are upserted with start, last activity and end", "[timeline][ingest]") {
  Fixture f;
  Interaction ring = f.call("02079460123");
  ring.conversation_key = "linked-1";
  const auto first = f.ingest(ring);
  Interaction end = f.call("02079460123");
  end.kind = "call.ended";
  end.conversation_key = "linked-1";
  end.ends_conversation = true;
  const auto second = f.ingest(end);
  CHECK(first.conversation_id == second.conversation_id);
  CHECK(f.scalar("SELECT count(*) FROM conversations") == 1);
  CHECK(f.scalar("SELECT started_at FROM conversations") == ring.occurred_at_ms);
  CHECK(f.scalar("SELECT last_at FROM conversations") == end.occurred_at_ms);
  CHECK(f.scalar("SELECT ended_at FROM conversations") == end.occurred_at_ms);
  CHECK(f.scalar("SELECT customer_id FROM conversations") == f.customer_row(first.customer_id));
}

TEST_CASE("A note for a named customer attaches to it, a merged id reaches the survivor",
          "[timeline][ingest]") {
  Fixture f;
  const auto a = f.ingest(f.call("02079460123"));
  const auto b = f.ingest(f.inbound("email", "email.received", {email("b@example.com")}));
  f.write([&](store::WriteContext& w) { return merge_customers(w, a.customer_id, b.customer_id, Actor{"x", "agent"}, 9); });
  Interaction note = f.inbound("note", "note", {email("new@example.com")});
  note.direction = "outbound";
  note.customer_id = b.customer_id;  // the old id
  note.conversation_key = "note-thread";
  const auto outcome = f.ingest(note);
  CHECK(outcome.customer_id == a.customer_id);
  CHECK_FALSE(outcome.customer_created);
  CHECK(f.scalar("SELECT customer_id FROM identities WHERE key = 'new@example.com'") == f.customer_row(a.customer_id));
  Interaction unknown = f.inbound("note", "note", {});
  unknown.customer_id = "c_0000000000000000";
  const auto status = f.write_status([&](store::WriteContext& w) { ingest(w, f.settings, unknown, 1); });
  CHECK(status.code() == StatusCode::not_found);
  CHECK(status.message().find("c_0000000000000000") != std::string::npos);
}

TEST_CASE("Reading a merged customer by its old id gives the survivor, marked as such", "[timeline][scenario]") {
  Fixture f;
  const auto a = f.ingest(f.call("02079460123"));
  const auto b = f.ingest(f.call("07911123456"));
  f.write([&](store::WriteContext& w) { return merge_customers(w, a.customer_id, b.customer_id, Actor{"x", "agent"}, 9); });
  const auto ref = f.write([&](store::WriteContext& w) { return find_customer(w.db(), b.customer_id); });
  CHECK(ref.public_id == a.customer_id);
  CHECK(ref.requested_id == b.customer_id);
  CHECK(ref.redirected);
  const auto direct = f.write([&](store::WriteContext& w) { return find_customer(w.db(), a.customer_id); });
  CHECK_FALSE(direct.redirected);
  // Both numbers now ring up the survivor.
  CHECK(f.ingest(f.call("07911123456")).customer_id == a.customer_id);
}
