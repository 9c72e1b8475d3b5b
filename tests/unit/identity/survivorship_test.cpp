// Survivorship of single-valued fields on merge (reference/identity.md, "Merge and unmerge").
#include <catch2/catch.hpp>

#include <vector>

#include "daemon/identity/survivorship.hpp"

using namespace omnitrail::identity;

TEST_CASE("source priority beats recency", "[identity][survivorship]") {
  const std::vector<FieldValue> values = {{"Al", FieldSource::channel, 300},
                                          {"Alice Smith", FieldSource::crm, 100},
                                          {"Alice S.", FieldSource::agent, 200}};
  const auto winner = surviving_value(values);
  REQUIRE(winner);
  CHECK(winner->value == "Alice Smith");
  CHECK(winner->source == FieldSource::crm);
}

TEST_CASE("within one source the most recent wins, then the first", "[identity][survivorship]") {
  std::vector<FieldValue> values = {{"old", FieldSource::agent, 100}, {"new", FieldSource::agent, 200}};
  CHECK(surviving_value(values)->value == "new");
  values[1].updated_at_ms = 100;
  CHECK(surviving_value(values)->value == "old");
}

TEST_CASE("blanks never overwrite", "[identity][survivorship]") {
  const std::vector<FieldValue> values = {{"Bob", FieldSource::channel, 1},
                                          {"", FieldSource::crm, 999},
                                          {"  \t", FieldSource::agent, 999}};
  REQUIRE(surviving_value(values));
  CHECK(surviving_value(values)->value == "Bob");
  const std::vector<FieldValue> blanks = {{"", FieldSource::crm, 1}, {" ", FieldSource::agent, 2}};
  CHECK_FALSE(surviving_value(blanks));
  CHECK_FALSE(surviving_value({}));
}

TEST_CASE("consent takes the most restrictive decision", "[identity][survivorship]") {
  CHECK(merged_consent(Consent::granted, Consent::do_not_contact) == Consent::do_not_contact);
  CHECK(merged_consent(Consent::do_not_contact, Consent::unknown) == Consent::do_not_contact);
  CHECK(merged_consent(Consent::unknown, Consent::granted) == Consent::granted);  // blank
  CHECK(merged_consent(Consent::unknown, Consent::unknown) == Consent::unknown);
}

TEST_CASE("created date is the earliest", "[identity][survivorship]") {
  const std::vector<std::int64_t> created = {500, 100, 300};
  CHECK(merged_created_at(created) == 100);
  CHECK_FALSE(merged_created_at({}));
}
