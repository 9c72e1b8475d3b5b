// The GDPR access export: one read snapshot, one query per table over the customer's merge
// family (the survivor and every customer merged into it).
#include "daemon/timeline/export.hpp"

#include "daemon/timeline/queries.hpp"

namespace omnitrail::timeline {

using store::Database;
using store::Statement;
using Json = nlohmann::json;
using namespace read_detail;

namespace {

// Runs `sql` (with ?1 = the family's row ids as a JSON array) and maps each row with `to_json`.
template <class ToJson>
Json collect(Database& db, const std::string& sql, const std::string& family_ids, ToJson to_json) {
  Json items = Json::array();
  Statement statement = db.prepare(sql);
  statement.bind(1, family_ids);
  while (statement.step()) items.push_back(to_json(statement));
  return items;
}

constexpr std::string_view in_family = "IN (SELECT value FROM json_each(?1))";

// Later migrations add personal data the export must carry (schema v2: where a display name came
// from, what a merge overwrote, identifier links). The export reads such a column or table when
// the schema has it and reports null / [] otherwise, so its shape does not depend on the version.
bool has_column(Database& db, std::string_view table, std::string_view column) {
  Statement statement = db.prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
  statement.bind_all(table, column);
  return statement.step();
}

bool has_table(Database& db, std::string_view table) {
  Statement statement =
      db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1");
  statement.bind(1, table);
  return statement.step();
}

// `alias.column` when the table has it, else NULL.
std::string optional_column(Database& db, std::string_view table, std::string_view alias,
                            std::string_view column) {
  if (!has_column(db, table, column)) return "NULL";
  return std::string(alias) + "." + std::string(column);
}

}  // namespace

Json export_customer(Database& db, const std::string& customer_id) {
  ReadSnapshot snapshot(db);
  const ResolvedCustomer who = resolve(db, customer_id);
  const std::vector<FamilyMember> family = family_of(db, who.row_id);
  const std::string ids = row_ids_json(family);
  const std::string in = std::string(in_family);

  Json out;
  out["format"] = "omnitrail.customer-export.v1";
  out["requested_id"] = customer_id;
  out["customer_id"] = who.public_id;

  out["customers"] = collect(
      db,
      "SELECT c.public_id, c.display_name, c.attributes, c.created_at, c.updated_at,"
      " m.public_id, c.erased_at, " + optional_column(db, "customers", "c", "display_name_source") +
          ", " + optional_column(db, "customers", "c", "display_name_at") + " FROM customers AS c"
      " LEFT JOIN customers AS m ON m.id = c.merged_into WHERE c.id " + in + " ORDER BY c.id",
      ids, [](const Statement& s) {
        Json attributes = json_column(s, 2);
        return Json{{"id", text_or_null(s, 0)},
                    {"display_name", text_or_null(s, 1)},
                    {"attributes", attributes.is_null() ? Json::object() : attributes},
                    {"created_at", time_or_null(s, 3)},
                    {"updated_at", time_or_null(s, 4)},
                    {"merged_into", text_or_null(s, 5)},
                    {"erased_at", time_or_null(s, 6)},
                    {"display_name_source", text_or_null(s, 7)},
                    {"display_name_at", time_or_null(s, 8)}};
      });

  out["identities"] = collect(
      db,
      "SELECT d.id, c.public_id, d.kind, d.raw, d.key, d.suggestion_key, d.trust, d.source,"
      " d.first_seen, d.last_seen FROM identities AS d JOIN customers AS c ON c.id = d.customer_id"
      " WHERE d.customer_id " + in + " ORDER BY d.id",
      ids, [](const Statement& s) {
        return Json{{"id", s.column<std::int64_t>(0)},   {"customer_id", text_or_null(s, 1)},
                    {"kind", text_or_null(s, 2)},        {"value", text_or_null(s, 3)},
                    {"key", text_or_null(s, 4)},         {"suggestion_key", text_or_null(s, 5)},
                    {"trust", text_or_null(s, 6)},       {"source", text_or_null(s, 7)},
                    {"first_seen", time_or_null(s, 8)},  {"last_seen", time_or_null(s, 9)}};
      });

  out["interactions"] = collect(
      db,
      std::string(interaction_select) + "WHERE i.customer_id " + in +
          " ORDER BY i.occurred_at, i.id",
      ids, [](const Statement& s) { return interaction_from_row(s); });

  out["conversations"] = collect(
      db,
      "SELECT v.public_id, c.public_id, v.channel, v.key, v.source, v.started_at, v.last_at,"
      " v.ended_at FROM conversations AS v JOIN customers AS c ON c.id = v.customer_id"
      " WHERE v.customer_id " + in + " ORDER BY v.started_at, v.id",
      ids, [](const Statement& s) {
        return Json{{"id", text_or_null(s, 0)},         {"customer_id", text_or_null(s, 1)},
                    {"channel", text_or_null(s, 2)},    {"key", text_or_null(s, 3)},
                    {"source", text_or_null(s, 4)},     {"started_at", time_or_null(s, 5)},
                    {"last_at", time_or_null(s, 6)},    {"ended_at", time_or_null(s, 7)}};
      });

  out["merges"] = collect(
      db,
      "SELECT m.id, s.public_id, d.public_id, m.rule, m.actor, m.evidence, m.moved, m.created_at,"
      " m.reverted_at, " + optional_column(db, "merges", "m", "restore") + " FROM merges AS m JOIN customers AS s ON s.id = m.survivor_id"
      " JOIN customers AS d ON d.id = m.merged_id"
      " WHERE m.survivor_id " + in + " OR m.merged_id " + in + " ORDER BY m.id",
      ids, [](const Statement& s) {
        return Json{{"id", s.column<std::int64_t>(0)},   {"survivor_id", text_or_null(s, 1)},
                    {"merged_id", text_or_null(s, 2)},   {"rule", text_or_null(s, 3)},
                    {"actor", text_or_null(s, 4)},       {"evidence", json_column(s, 5)},
                    {"moved", json_column(s, 6)},        {"created_at", time_or_null(s, 7)},
                    {"reverted_at", time_or_null(s, 8)},
                    {"restore", json_column(s, 9)}};
      });

  out["suggestions"] = collect(
      db,
      "SELECT g.id, g.status, a.public_id, b.public_id, g.reason, g.evidence, g.created_at,"
      " g.decided_at, g.decided_by FROM suggestions AS g"
      " JOIN customers AS a ON a.id = g.customer_a LEFT JOIN customers AS b ON b.id = g.customer_b"
      " WHERE g.customer_a " + in + " OR g.customer_b " + in + " ORDER BY g.id",
      ids, [](const Statement& s) {
        return Json{{"id", s.column<std::int64_t>(0)},   {"status", text_or_null(s, 1)},
                    {"customer_a", text_or_null(s, 2)},  {"customer_b", text_or_null(s, 3)},
                    {"reason", text_or_null(s, 4)},      {"evidence", json_column(s, 5)},
                    {"created_at", time_or_null(s, 6)},  {"decided_at", time_or_null(s, 7)},
                    {"decided_by", text_or_null(s, 8)}};
      });

  out["do_not_merge"] = collect(
      db,
      "SELECT a.public_id, b.public_id, p.created_at, " +
          optional_column(db, "do_not_merge", "p", "evidence") + " FROM do_not_merge AS p"
      " JOIN customers AS a ON a.id = p.a JOIN customers AS b ON b.id = p.b"
      " WHERE p.a " + in + " OR p.b " + in + " ORDER BY p.a, p.b",
      ids, [](const Statement& s) {
        return Json{{"customer_a", text_or_null(s, 0)},
                    {"customer_b", text_or_null(s, 1)},
                    {"created_at", time_or_null(s, 2)},
                    {"evidence", json_column(s, 3)}};
      });

  // Values seen with a member but owned by another customer (schema v2).
  out["identity_links"] = Json::array();
  if (has_table(db, "identity_links")) {
    out["identity_links"] = collect(
        db,
        "SELECT l.kind, l.key, c.public_id, l.first_seen, l.last_seen FROM identity_links AS l"
        " JOIN customers AS c ON c.id = l.customer_id WHERE l.customer_id " + in +
            " ORDER BY l.kind, l.key, l.customer_id",
        ids, [](const Statement& s) {
          return Json{{"kind", text_or_null(s, 0)},       {"key", text_or_null(s, 1)},
                      {"customer_id", text_or_null(s, 2)}, {"first_seen", time_or_null(s, 3)},
                      {"last_seen", time_or_null(s, 4)}};
        });
  }

  out["outbox"] = collect(
      db,
      "SELECT o.id, o.kind, o.status, o.payload, o.attempts, o.last_error, o.created_at,"
      " o.updated_at FROM outbox AS o WHERE o.customer_id " + in + " ORDER BY o.id",
      ids, [](const Statement& s) {
        return Json{{"id", s.column<std::int64_t>(0)},   {"kind", text_or_null(s, 1)},
                    {"status", text_or_null(s, 2)},      {"payload", json_column(s, 3)},
                    {"attempts", s.column<std::int64_t>(4)},
                    {"last_error", text_or_null(s, 5)},  {"created_at", time_or_null(s, 6)},
                    {"updated_at", time_or_null(s, 7)}};
      });

  // The audit table has no customer column (it never holds identifiers); lines about a customer
  // name its public id in `detail`. instr(), not LIKE: the '_' in "c_" is a LIKE wildcard.
  Json public_ids = Json::array();
  for (const auto& member : family) public_ids.push_back(member.public_id);
  out["audit"] = collect(
      db,
      "SELECT a.id, a.at, a.actor, a.action, a.detail FROM audit AS a"
      " WHERE EXISTS (SELECT 1 FROM json_each(?1) AS j WHERE instr(a.detail, j.value) > 0)"
      " ORDER BY a.id",
      public_ids.dump(), [](const Statement& s) {
        return Json{{"id", s.column<std::int64_t>(0)},  {"at", time_or_null(s, 1)},
                    {"actor", text_or_null(s, 2)},      {"action", text_or_null(s, 3)},
                    {"detail", text_or_null(s, 4)}};
      });
  return out;
}

}  // namespace omnitrail::timeline
