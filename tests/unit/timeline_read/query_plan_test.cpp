// The screen-pop hot paths use their indexes (EXPLAIN QUERY PLAN on the exact SQL they run),
// checked on a populated database so the planner has a real choice.
#include <catch2/catch.hpp>

#include "daemon/timeline/queries.hpp"
#include "read_fixture.hpp"

using namespace omnitrail;
using namespace omnitrail::timeline;
using namespace omnitrail::timeline::testing;

namespace {

std::string plan(store::Database& db, std::string_view sql) {
  store::Statement statement = db.prepare("EXPLAIN QUERY PLAN " + std::string(sql));
  std::string out;
  while (statement.step()) out += statement.column<std::string>("detail") + "\n";
  return out;
}

void populate(ReadFixture& f) {
  for (int c = 0; c < 20; ++c) {
    const auto customer = f.customer("Customer " + std::to_string(c));
    f.identity(customer, "external", "crm-" + std::to_string(c), "crm", fixed_now);
    for (int i = 0; i < 30; ++i) {
      const char* channel = i % 2 ? "sms" : "phone";
      const auto conversation = f.conversation(customer, channel, fixed_now - i * hour_ms,
                                               i % 5 ? std::optional<std::int64_t>(fixed_now) : std::nullopt);
      f.interaction(customer, channel, "inbound", fixed_now - i * hour_ms, conversation.row);
    }
  }
  f.db.exec("ANALYZE");
}

}  // namespace

TEST_CASE("Recent interactions use the customer and time index without sorting", "[timeline_read][plan]") {
  ReadFixture f;
  populate(f);
  const std::string detail = plan(f.db, read_detail::hot_queries().recent_interactions);
  INFO(detail);
  CHECK_THAT(detail, Catch::Contains("USING INDEX interactions_customer_time (customer_id=?)"));
  CHECK_THAT(detail, !Catch::Contains("TEMP B-TREE"));
  CHECK_THAT(detail, !Catch::Contains("SCAN i"));
}

TEST_CASE("A timeline page is a range scan of the customer and time index", "[timeline_read][plan]") {
  ReadFixture f;
  populate(f);
  const std::string detail = plan(f.db, read_detail::hot_queries().timeline_page);
  INFO(detail);
  CHECK_THAT(detail, Catch::Contains("USING INDEX interactions_customer_time (customer_id=?"));
  CHECK_THAT(detail, !Catch::Contains("TEMP B-TREE FOR ORDER BY"));
  CHECK_THAT(detail, !Catch::Contains("SCAN i"));
}

TEST_CASE("Channel stats aggregate over the customer's index range", "[timeline_read][plan]") {
  ReadFixture f;
  populate(f);
  const std::string detail = plan(f.db, read_detail::hot_queries().channel_stats);
  INFO(detail);
  CHECK_THAT(detail, Catch::Contains("USING INDEX interactions_customer_time (customer_id=?)"));
  CHECK_THAT(detail, !Catch::Contains("SCAN interactions"));
}

TEST_CASE("Identities and open conversations use their customer indexes", "[timeline_read][plan]") {
  ReadFixture f;
  populate(f);
  const std::string identities = plan(f.db, read_detail::hot_queries().identities);
  INFO(identities);
  CHECK_THAT(identities, Catch::Contains("USING INDEX identities_customer (customer_id=?)"));
  const std::string open = plan(f.db, read_detail::hot_queries().open_conversations);
  INFO(open);
  CHECK_THAT(open, Catch::Contains("USING INDEX conversations_open (customer_id=?)"));
  CHECK_THAT(open, !Catch::Contains("TEMP B-TREE"));
}
