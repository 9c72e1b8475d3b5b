// Retention: only old interactions of the configured channels go, in bounded batches, and
// conversations left empty go with them.
#include <map>
#include <string>

#include "daemon/timeline/retention.hpp"
#include "timeline_test_support.hpp"

using namespace omnitrail;
using namespace omnitrail::timeline;
using namespace omnitrail::timeline::testing;

namespace {
constexpr std::int64_t day_ms = 24LL * 60 * 60 * 1000;
}

TEST_CASE("Retention deletes only old interactions of the configured channels", "[timeline][retention]") {
  Fixture f;
  const std::int64_t now = 1'800'000'000'000;
  const auto add = [&](const std::string& channel, std::int64_t age_days, const std::string& conversation) {
    Interaction in = f.inbound(channel, channel == "phone" ? "call.ringing" : "email.received",
                               {channel == "phone" ? phone("02079460123") : email("a@example.com")});
    in.occurred_at_ms = now - age_days * day_ms;
    in.conversation_key = conversation;
    return f.ingest(in);
  };
  add("phone", 40, "old-call");
  add("phone", 35, "mixed-call");
  add("phone", 1, "mixed-call");
  add("phone", 2, "new-call");
  add("email", 400, "old-thread");  // email is not configured: kept forever

  const std::map<std::string, int> days{{"phone", 30}, {"sms", 0}};
  CHECK(f.write([&](store::WriteContext& w) { return apply_retention(w, days, now, 1); }) == 1);
  CHECK(f.write([&](store::WriteContext& w) { return apply_retention(w, days, now, 10); }) == 1);
  CHECK(f.write([&](store::WriteContext& w) { return apply_retention(w, days, now, 10); }) == 0);

  CHECK(f.scalar("SELECT count(*) FROM interactions WHERE channel = 'phone'") == 2);
  CHECK(f.scalar("SELECT count(*) FROM interactions WHERE channel = 'phone' AND occurred_at < " +
                 std::to_string(now - 30 * day_ms)) == 0);
  CHECK(f.scalar("SELECT count(*) FROM interactions WHERE channel = 'email'") == 1);
  CHECK(f.scalar("SELECT count(*) FROM conversations WHERE key = 'old-call'") == 0);
  CHECK(f.scalar("SELECT count(*) FROM conversations WHERE key = 'mixed-call'") == 1);  // one left in it
  CHECK(f.scalar("SELECT count(*) FROM conversations WHERE key IN ('new-call', 'old-thread')") == 2);
  CHECK(f.scalar("SELECT count(*) FROM customers") == 2);   // customers stay
  CHECK(f.scalar("SELECT count(*) FROM identities") == 2);  // and so do their identifiers
}

TEST_CASE("Retention with no positive period or no budget deletes nothing", "[timeline][retention]") {
  Fixture f;
  Interaction in = f.call("02079460123");
  in.occurred_at_ms = 1000;
  f.ingest(in);
  const std::int64_t now = 1'800'000'000'000;
  CHECK(f.write([&](store::WriteContext& w) { return apply_retention(w, {{"phone", 0}}, now, 10); }) == 0);
  CHECK(f.write([&](store::WriteContext& w) { return apply_retention(w, {{"phone", 1}}, now, 0); }) == 0);
  CHECK(f.scalar("SELECT count(*) FROM interactions") == 1);
  CHECK(f.write([&](store::WriteContext& w) { return apply_retention(w, {{"phone", 1}}, now, 10); }) == 1);
  CHECK(f.scalar("SELECT count(*) FROM interactions") == 0);
}
