// The GDPR access export holds everything about one customer (and the customers merged into
// it) and nothing about anyone else.
#include <catch2/catch.hpp>

#include "daemon/timeline/export.hpp"
#include "daemon/timeline/queries.hpp"
#include "read_fixture.hpp"

using namespace omnitrail;
using namespace omnitrail::timeline;
using namespace omnitrail::timeline::testing;
using nlohmann::json;

TEST_CASE("The export holds every row about the customer and its merged customers", "[timeline_read][export]") {
  ReadFixture f;
  const auto survivor = f.customer("Survivor", fixed_now - 50 * day_ms, R"({"plan":"gold"})");
  const auto merged = f.customer("Merged", fixed_now - 40 * day_ms);
  const auto stranger = f.customer("Stranger");
  f.merge(merged, survivor);

  f.identity(survivor, "phone", "+442079460123", "020 7946 0123", fixed_now, "claimed", "2079460123");
  f.identity(merged, "email", "m@example.com", "M@example.com", fixed_now);
  f.identity(stranger, "email", "s@example.com", "s@example.com", fixed_now);

  const auto conversation = f.conversation(survivor, "phone", fixed_now - day_ms, fixed_now);
  f.conversation(stranger, "sms", fixed_now, std::nullopt);
  std::vector<std::string> interactions;
  // More than the view's recent limit: the export is not bounded.
  for (int i = 0; i < 250; ++i) {
    interactions.push_back(f.interaction(i % 2 ? survivor : merged, "sms", "inbound",
                                         fixed_now - (250 - i) * minute_ms));
  }
  interactions.push_back(f.interaction(survivor, "phone", "inbound", fixed_now, conversation.row));
  f.interaction(stranger, "sms", "inbound", fixed_now);

  f.db.exec("INSERT INTO merges(survivor_id, merged_id, rule, actor, evidence, moved, created_at) "
            "VALUES (" + std::to_string(survivor.row) + ", " + std::to_string(merged.row) +
            ", 'verified_email', 'system', '[\"m@example.com\"]', '{\"identities\":[2]}', 7)");
  f.suggestion(survivor, stranger, "rejected", fixed_now);
  const auto other = f.customer("Other");
  f.suggestion(other, stranger, "pending", fixed_now);
  f.db.exec("INSERT INTO do_not_merge(a, b, created_at) VALUES (" + std::to_string(survivor.row) +
            ", " + std::to_string(stranger.row) + ", 8)");
  f.db.exec("INSERT INTO outbox(kind, idempotency_key, payload, customer_id, next_attempt_at, "
            "created_at, updated_at) VALUES ('sms.send', 'k1', '{\"to\":\"+442079460123\"}', " +
            std::to_string(merged.row) + ", 1, 1, 1)");
  f.db.exec("INSERT INTO audit(at, actor, action, detail) VALUES "
            "(1, 'agent-7', 'merge', '{\"survivor\":\"" + survivor.id + "\",\"merged\":\"" + merged.id + "\"}'), "
            "(2, 'admin', 'reload', 'config'), "
            "(3, 'admin', 'note', 'about " + merged.id + "'), "
            "(4, 'admin', 'note', 'about " + stranger.id + "')");

  // Schema v2 adds identifier links (a value seen with a member, owned by someone else).
  const bool has_links =
      f.count("SELECT count(*) FROM sqlite_schema WHERE name = 'identity_links'") == 1;
  if (has_links) {
    f.db.exec("INSERT INTO identity_links(kind, key, customer_id, first_seen, last_seen) VALUES "
              "('email', 's@example.com', " + std::to_string(merged.row) + ", 1, 2), "
              "('email', 'x@example.com', " + std::to_string(stranger.row) + ", 1, 2)");
  }

  const json out = export_customer(f.db, merged.id);  // a merged id exports the survivor
  CHECK(out["format"] == "omnitrail.customer-export.v1");
  CHECK(out["customer_id"] == survivor.id);
  CHECK(out["requested_id"] == merged.id);

  REQUIRE(out["customers"].size() == 2);
  CHECK(out["customers"][0]["id"] == survivor.id);
  CHECK(out["customers"][0]["attributes"] == json{{"plan", "gold"}});
  CHECK(out["customers"][0]["merged_into"].is_null());
  CHECK(out["customers"][1]["id"] == merged.id);
  CHECK(out["customers"][1]["merged_into"] == survivor.id);

  REQUIRE(out["identities"].size() == 2);
  CHECK(out["identities"][0]["suggestion_key"] == "2079460123");
  CHECK(out["identities"][1]["customer_id"] == merged.id);
  CHECK(out["identities"][1]["value"] == "M@example.com");

  std::vector<std::string> exported;
  for (const auto& item : out["interactions"]) exported.push_back(item["id"].get<std::string>());
  CHECK(exported == interactions);  // all of them, oldest first

  REQUIRE(out["conversations"].size() == 1);
  CHECK(out["conversations"][0]["id"] == conversation.id);
  CHECK(out["conversations"][0]["ended_at"] == format_time(fixed_now));

  REQUIRE(out["merges"].size() == 1);
  CHECK(out["merges"][0]["survivor_id"] == survivor.id);
  CHECK(out["merges"][0]["merged_id"] == merged.id);
  CHECK(out["merges"][0]["moved"] == json{{"identities", {2}}});

  REQUIRE(out["suggestions"].size() == 1);
  CHECK(out["suggestions"][0]["status"] == "rejected");
  CHECK(out["suggestions"][0]["customer_b"] == stranger.id);
  REQUIRE(out["do_not_merge"].size() == 1);
  CHECK(out["do_not_merge"][0]["customer_b"] == stranger.id);
  CHECK(out["customers"][0].contains("display_name_source"));
  CHECK(out["merges"][0].contains("restore"));
  if (has_links) {
    REQUIRE(out["identity_links"].size() == 1);
    CHECK(out["identity_links"][0] == json{{"kind", "email"},
                                           {"key", "s@example.com"},
                                           {"customer_id", merged.id},
                                           {"first_seen", format_time(1)},
                                           {"last_seen", format_time(2)}});
  } else {
    WARN("schema without identity_links: link export not exercised");
    CHECK(out["identity_links"] == json::array());
  }
  REQUIRE(out["outbox"].size() == 1);
  CHECK(out["outbox"][0]["payload"] == json{{"to", "+442079460123"}});

  REQUIRE(out["audit"].size() == 2);
  CHECK(out["audit"][0]["action"] == "merge");
  CHECK(out["audit"][1]["detail"] == "about " + merged.id);

  CHECK_NOTHROW(out.dump());
  CHECK(error_code_of([&] { export_customer(f.db, "c_unknown"); }) == store::StatusCode::not_found);
}
