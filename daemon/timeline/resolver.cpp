// Customer lookups, merge / unmerge journal, suggestions and do-not-merge pairs; see resolver.hpp.
#include "daemon/timeline/resolver.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "daemon/identity/survivorship.hpp"
#include "daemon/store/status.hpp"

namespace omnitrail::timeline {
namespace {

using nlohmann::json;
using store::Database;
using store::Statement;
using store::StatusCode;
using store::StoreError;

constexpr int max_merge_chain = 64;

identity::FieldSource parse_field_source(std::string_view name) {
  if (name == "crm") return identity::FieldSource::crm;
  if (name == "agent") return identity::FieldSource::agent;
  return identity::FieldSource::channel;
}

// The fields of a customer that a merge may overwrite (and unmerge restores).
struct CustomerFields {
  std::optional<std::string> display_name;
  std::optional<std::string> display_name_source;
  std::optional<std::int64_t> display_name_at;
  std::string attributes;  // JSON object text
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::optional<std::int64_t> merged_into;
};

CustomerFields load_fields(Database& db, std::int64_t row_id) {
  Statement& s = db.cached(
      "SELECT display_name, display_name_source, display_name_at, attributes, created_at, "
      "updated_at, merged_into FROM customers WHERE id = ?1");
  s.bind(1, row_id);
  if (!s.step()) {
    s.reset();
    throw StoreError(StatusCode::not_found, "customer row " + std::to_string(row_id) + " not found");
  }
  CustomerFields f;
  f.display_name = s.column<std::optional<std::string>>(0);
  f.display_name_source = s.column<std::optional<std::string>>(1);
  f.display_name_at = s.column<std::optional<std::int64_t>>(2);
  f.attributes = s.column<std::string>(3);
  f.created_at = s.column<std::int64_t>(4);
  f.updated_at = s.column<std::int64_t>(5);
  f.merged_into = s.column<std::optional<std::int64_t>>(6);
  s.reset();
  return f;
}

json fields_to_json(const CustomerFields& f) {
  json j;
  j["display_name"] = f.display_name ? json(*f.display_name) : json(nullptr);
  j["display_name_source"] = f.display_name_source ? json(*f.display_name_source) : json(nullptr);
  j["display_name_at"] = f.display_name_at ? json(*f.display_name_at) : json(nullptr);
  j["attributes"] = f.attributes;
  j["created_at"] = f.created_at;
  j["updated_at"] = f.updated_at;
  return j;
}

std::optional<std::string> opt_string(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  return std::nullopt;
}
std::optional<std::int64_t> opt_int(const json& j) {
  if (j.is_number_integer()) return j.get<std::int64_t>();
  return std::nullopt;
}

bool blank(const json& value) {
  if (value.is_null()) return true;
  if (!value.is_string()) return false;
  const auto& s = value.get_ref<const std::string&>();
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

identity::Consent parse_consent(const json& value) {
  if (value == "do_not_contact") return identity::Consent::do_not_contact;
  if (value == "granted") return identity::Consent::granted;
  return identity::Consent::unknown;
}

// Attributes of a merged customer: the survivor's values; the merged one's fill keys that the
// survivor lacks or holds blank; consent takes the most restrictive decision, a do-not-contact
// flag set on either side stays set.
json merge_attributes(const json& survivor, const json& merged) {
  json out = survivor.is_object() ? survivor : json::object();
  if (!merged.is_object()) return out;
  for (const auto& [key, value] : merged.items()) {
    auto it = out.find(key);
    if (key == "consent" && it != out.end()) {
      const auto consent = identity::merged_consent(parse_consent(*it), parse_consent(value));
      if (consent == identity::Consent::do_not_contact) *it = "do_not_contact";
      else if (consent == identity::Consent::granted && blank(*it)) *it = "granted";
      continue;
    }
    if (key == "do_not_contact" && it != out.end()) {
      if (value == true) *it = true;
      continue;
    }
    if (it == out.end() || blank(*it)) out[key] = value;
  }
  return out;
}

std::vector<std::int64_t> ids_of(Database& db, std::string_view sql, std::int64_t customer) {
  Statement& s = db.cached(sql);
  s.bind(1, customer);
  std::vector<std::int64_t> out;
  while (s.step()) out.push_back(s.column<std::int64_t>(0));
  s.reset();
  return out;
}

std::vector<std::int64_t> json_ids(const json& moved, const char* name) {
  std::vector<std::int64_t> out;
  auto it = moved.find(name);
  if (it == moved.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_number_integer()) out.push_back(v.get<std::int64_t>());
  }
  return out;
}

std::string key_kind_name(identity::IdentifierKind kind) { return std::string(identity::to_string(kind)); }

}  // namespace

// ---- lookups ----------------------------------------------------------------------------------

std::int64_t survivor_of(Database& db, std::int64_t row_id) {
  std::int64_t current = row_id;
  for (int hop = 0; hop < max_merge_chain; ++hop) {
    Statement& s = db.cached("SELECT merged_into FROM customers WHERE id = ?1");
    s.bind(1, current);
    if (!s.step()) {
      s.reset();
      throw StoreError(StatusCode::not_found, "customer row " + std::to_string(current) + " not found");
    }
    const auto next = s.column<std::optional<std::int64_t>>(0);
    s.reset();
    if (!next) return current;
    current = *next;
  }
  throw StoreError(StatusCode::internal,
                   "customer row " + std::to_string(row_id) + ": merged_into chain longer than " +
                       std::to_string(max_merge_chain) + " (a loop?)");
}

std::string public_id_of(Database& db, std::int64_t row_id) {
  Statement& s = db.cached("SELECT public_id FROM customers WHERE id = ?1");
  s.bind(1, row_id);
  if (!s.step()) {
    s.reset();
    throw StoreError(StatusCode::not_found, "customer row " + std::to_string(row_id) + " not found");
  }
  std::string id = s.column<std::string>(0);
  s.reset();
  return id;
}

CustomerRef find_customer(Database& db, std::string_view public_id) {
  Statement& s = db.cached("SELECT id, erased_at FROM customers WHERE public_id = ?1");
  s.bind(1, public_id);
  const bool found = s.step();
  const std::int64_t row = found ? s.column<std::int64_t>(0) : 0;
  const bool erased = found && !s.is_null(1);
  s.reset();
  // The id is echoed only when it looks like one of ours: it is caller input.
  const bool printable = public_id.size() <= 40 && std::all_of(public_id.begin(), public_id.end(), [](char c) {
                           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                         });
  if (!found || erased) {
    throw StoreError(StatusCode::not_found,
                     printable ? "customer " + std::string(public_id) + " not found"
                               : std::string("customer not found (malformed id)"));
  }
  CustomerRef ref;
  ref.requested_id = std::string(public_id);
  ref.row_id = survivor_of(db, row);
  ref.redirected = ref.row_id != row;
  ref.public_id = ref.redirected ? public_id_of(db, ref.row_id) : ref.requested_id;
  return ref;
}

std::vector<std::int64_t> merge_group(Database& db, std::int64_t customer) {
  return ids_of(db,
                "WITH RECURSIVE m(id) AS (SELECT ?1 UNION SELECT c.id FROM customers c JOIN m "
                "ON c.merged_into = m.id) SELECT id FROM m ORDER BY id",
                customer);
}

std::string evidence_to_json(std::vector<identity::IdentityKey> evidence) {
  std::sort(evidence.begin(), evidence.end());
  evidence.erase(std::unique(evidence.begin(), evidence.end()), evidence.end());
  json out = json::array();
  for (const auto& key : evidence) out.push_back({{"kind", key_kind_name(key.kind)}, {"key", key.key}});
  return out.dump();
}

std::vector<identity::IdentityKey> evidence_from_json(std::string_view text) {
  const json parsed = json::parse(text, nullptr, false);
  if (!parsed.is_array()) {
    throw StoreError(StatusCode::invalid_argument, "evidence is not a JSON array");
  }
  std::vector<identity::IdentityKey> out;
  for (const auto& entry : parsed) {
    if (!entry.is_object() || !entry.contains("kind") || !entry.contains("key")) continue;
    if (!entry["kind"].is_string() || !entry["key"].is_string()) continue;
    const auto kind = identity::parse_identifier_kind(entry["kind"].get<std::string>());
    if (!kind) continue;
    out.push_back({*kind, entry["key"].get<std::string>()});
  }
  std::sort(out.begin(), out.end());
  return out;
}

identity::CustomerFacts load_facts(Database& db, std::int64_t row_id) {
  identity::CustomerFacts facts;
  facts.id = row_id;
  facts.created_at_ms = load_fields(db, row_id).created_at;
  Statement& s = db.cached("SELECT kind, key FROM identities WHERE customer_id = ?1");
  s.bind(1, row_id);
  while (s.step()) {
    const auto kind = identity::parse_identifier_kind(s.column<std::string>(0));
    if (!kind) continue;
    switch (*kind) {
      case identity::IdentifierKind::external:
      case identity::IdentifierKind::chat_user:
        facts.tier_a.push_back({*kind, s.column<std::string>(1)});
        break;
      case identity::IdentifierKind::email: ++facts.email_count; break;
      case identity::IdentifierKind::phone: ++facts.phone_count; break;
      case identity::IdentifierKind::visitor: break;
    }
  }
  s.reset();
  std::sort(facts.tier_a.begin(), facts.tier_a.end());
  return facts;
}

std::vector<identity::DoNotMerge> load_do_not_merge(Database& db,
                                                    const std::vector<std::int64_t>& customers) {
  std::set<std::int64_t> members;
  for (std::int64_t c : customers) {
    for (std::int64_t m : merge_group(db, c)) members.insert(m);
  }
  std::map<std::pair<std::int64_t, std::int64_t>, std::string> rows;  // dedupes (a, b) seen twice
  Statement& s = db.cached("SELECT a, b, evidence FROM do_not_merge WHERE a = ?1 OR b = ?1");
  for (std::int64_t m : members) {
    s.bind(1, m);
    while (s.step()) {
      rows.emplace(std::make_pair(s.column<std::int64_t>(0), s.column<std::int64_t>(1)),
                   s.column<std::string>(2));
    }
    s.reset();
  }
  std::vector<identity::DoNotMerge> out;
  for (const auto& [pair, evidence] : rows) {
    identity::DoNotMerge dnm;
    dnm.a = survivor_of(db, pair.first);
    dnm.b = survivor_of(db, pair.second);
    if (dnm.a == dnm.b) continue;
    dnm.evidence = evidence_from_json(evidence);
    out.push_back(std::move(dnm));
  }
  return out;
}

// ---- merge / unmerge --------------------------------------------------------------------------

std::int64_t apply_merge(Database& db, const MergeRequest& request, std::int64_t now_ms) {
  if (request.survivor == request.merged) {
    throw StoreError(StatusCode::invalid_argument, "a customer cannot be merged into itself");
  }
  const CustomerFields survivor = load_fields(db, request.survivor);
  const CustomerFields merged = load_fields(db, request.merged);
  if (survivor.merged_into || merged.merged_into) {
    throw StoreError(StatusCode::constraint,
                     "customer " + public_id_of(db, survivor.merged_into ? request.survivor : request.merged) +
                         " is already merged; merge its survivor instead");
  }

  json moved = json::object();
  const auto move_rows = [&](const char* name, std::string_view select, std::string_view update) {
    const auto ids = ids_of(db, select, request.merged);
    Statement& u = db.cached(update);
    for (std::int64_t id : ids) {
      u.bind_all(request.survivor, id);
      u.run();
    }
    moved[name] = ids;
  };
  move_rows("identities", "SELECT id FROM identities WHERE customer_id = ?1 ORDER BY id",
            "UPDATE identities SET customer_id = ?1 WHERE id = ?2");
  move_rows("interactions", "SELECT id FROM interactions WHERE customer_id = ?1 ORDER BY id",
            "UPDATE interactions SET customer_id = ?1 WHERE id = ?2");
  move_rows("conversations", "SELECT id FROM conversations WHERE customer_id = ?1 ORDER BY id",
            "UPDATE conversations SET customer_id = ?1 WHERE id = ?2");

  // Pending suggestions follow the person; one between the two is answered by this merge, and
  // one that would duplicate a survivor's pending suggestion stays where it is (it still
  // reaches the survivor through merged_into).
  std::vector<std::int64_t> moved_a, moved_b, closed;
  {
    Statement& s = db.cached(
        "SELECT id, customer_a, customer_b, evidence FROM suggestions WHERE status = 'pending' "
        "AND (customer_a = ?1 OR customer_b = ?1) ORDER BY id");
    s.bind(1, request.merged);
    struct Row { std::int64_t id, a; std::optional<std::int64_t> b; std::string evidence; };
    std::vector<Row> rows;
    while (s.step()) {
      rows.push_back({s.column<std::int64_t>(0), s.column<std::int64_t>(1),
                      s.column<std::optional<std::int64_t>>(2), s.column<std::string>(3)});
    }
    s.reset();
    for (const Row& row : rows) {
      const bool merged_is_a = row.a == request.merged;
      const std::optional<std::int64_t> other = merged_is_a ? row.b : std::optional<std::int64_t>(row.a);
      if (other && *other == request.survivor) {
        Statement& u = db.cached(
            "UPDATE suggestions SET status = 'accepted', decided_at = ?2, decided_by = ?3 WHERE id = ?1");
        u.bind_all(row.id, now_ms, request.actor).run();
        closed.push_back(row.id);
        continue;
      }
      Statement& dup = other ? db.cached(
                                   "SELECT 1 FROM suggestions WHERE status = 'pending' AND "
                                   "min(customer_a, customer_b) = min(?1, ?2) AND "
                                   "max(customer_a, customer_b) = max(?1, ?2)")
                             : db.cached(
                                   "SELECT 1 FROM suggestions WHERE status = 'pending' AND "
                                   "customer_a = ?1 AND customer_b IS NULL AND evidence = ?2");
      dup.bind(1, request.survivor);
      if (other) dup.bind(2, *other);
      else dup.bind(2, row.evidence);
      const bool duplicate = dup.step();
      dup.reset();
      if (duplicate) continue;
      Statement& u = db.cached(merged_is_a ? "UPDATE suggestions SET customer_a = ?1 WHERE id = ?2"
                                           : "UPDATE suggestions SET customer_b = ?1 WHERE id = ?2");
      u.bind_all(request.survivor, row.id).run();
      (merged_is_a ? moved_a : moved_b).push_back(row.id);
    }
  }
  moved["suggestions_a"] = moved_a;
  moved["suggestions_b"] = moved_b;
  moved["suggestions_accepted"] = closed;

  // Survivorship of the single-valued fields.
  std::vector<identity::FieldValue> names;
  for (const CustomerFields* f : {&survivor, &merged}) {
    names.push_back({f->display_name.value_or(""), parse_field_source(f->display_name_source.value_or("channel")),
                     f->display_name_at.value_or(f->updated_at)});
  }
  const auto name = identity::surviving_value(names);
  std::optional<std::string> new_name, new_source;
  std::optional<std::int64_t> new_name_at;
  if (name) {
    const CustomerFields& from = *name == names[0] ? survivor : merged;
    new_name = from.display_name;
    new_source = from.display_name_source;
    new_name_at = from.display_name_at;
  }
  const std::string new_attributes =
      merge_attributes(json::parse(survivor.attributes, nullptr, false),
                       json::parse(merged.attributes, nullptr, false))
          .dump();
  const std::int64_t created_values[] = {survivor.created_at, merged.created_at};
  const std::int64_t new_created = identity::merged_created_at(created_values).value_or(survivor.created_at);

  {
    Statement& u = db.cached(
        "UPDATE customers SET display_name = ?2, display_name_source = ?3, display_name_at = ?4, "
        "attributes = ?5, created_at = ?6, updated_at = ?7 WHERE id = ?1");
    u.bind_all(request.survivor, new_name, new_source, new_name_at, new_attributes, new_created, now_ms).run();
    Statement& m = db.cached("UPDATE customers SET merged_into = ?2, updated_at = ?3 WHERE id = ?1");
    m.bind_all(request.merged, request.survivor, now_ms).run();
  }

  json restore;
  restore["survivor"] = fields_to_json(survivor);
  restore["merged"] = fields_to_json(merged);
  restore["survivor_after"] = {{"display_name", new_name ? json(*new_name) : json(nullptr)},
                               {"attributes", new_attributes},
                               {"updated_at", now_ms}};
  Statement& insert = db.cached(
      "INSERT INTO merges(survivor_id, merged_id, rule, actor, evidence, moved, restore, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  insert.bind_all(request.survivor, request.merged, request.rule, request.actor,
                  evidence_to_json(request.evidence), moved.dump(), restore.dump(), now_ms);
  insert.run();
  return db.last_insert_rowid();
}

RevertedMerge revert_merge(Database& db, std::int64_t merge_id, std::int64_t now_ms) {
  Statement& s = db.cached(
      "SELECT survivor_id, merged_id, evidence, moved, restore, reverted_at FROM merges WHERE id = ?1");
  s.bind(1, merge_id);
  if (!s.step()) {
    s.reset();
    throw StoreError(StatusCode::not_found, "merge " + std::to_string(merge_id) + " not found");
  }
  RevertedMerge out{s.column<std::int64_t>(0), s.column<std::int64_t>(1)};
  const std::string evidence = s.column<std::string>(2);
  const json moved = json::parse(s.column<std::string>(3), nullptr, false);
  const json restore = json::parse(s.column<std::string>(4), nullptr, false);
  const bool reverted = !s.is_null(5);
  s.reset();
  if (reverted) {
    throw StoreError(StatusCode::constraint, "merge " + std::to_string(merge_id) + " was already reverted");
  }
  {
    Statement& later = db.cached(
        "SELECT id, survivor_id FROM merges WHERE id > ?1 AND merged_id = ?2 AND reverted_at IS NULL "
        "ORDER BY id LIMIT 1");
    later.bind_all(merge_id, out.survivor);
    if (later.step()) {
      const std::int64_t later_id = later.column<std::int64_t>(0);
      const std::int64_t later_survivor = later.column<std::int64_t>(1);
      later.reset();
      throw StoreError(StatusCode::constraint,
                       "merge " + std::to_string(merge_id) + " cannot be reverted: merge " +
                           std::to_string(later_id) + " later merged its survivor " +
                           public_id_of(db, out.survivor) + " into " + public_id_of(db, later_survivor) +
                           "; revert merge " + std::to_string(later_id) + " first");
    }
    later.reset();
  }
  const CustomerFields merged_now = load_fields(db, out.merged);
  if (merged_now.merged_into != out.survivor) {
    throw StoreError(StatusCode::internal, "merge " + std::to_string(merge_id) +
                                               ": the merged customer no longer points at its survivor");
  }
  if (!moved.is_object() || !restore.is_object()) {
    throw StoreError(StatusCode::internal, "merge " + std::to_string(merge_id) + ": journal entry is unreadable");
  }

  // Rows that have left the survivor since (removed identifier, retention, erasure of one
  // part) are not chased: exactly what moved and is still there goes back.
  const auto move_back = [&](const char* name, std::string_view update) {
    Statement& u = db.cached(update);
    for (std::int64_t id : json_ids(moved, name)) u.bind_all(out.merged, id, out.survivor).run();
  };
  move_back("identities", "UPDATE identities SET customer_id = ?1 WHERE id = ?2 AND customer_id = ?3");
  move_back("interactions", "UPDATE interactions SET customer_id = ?1 WHERE id = ?2 AND customer_id = ?3");
  move_back("conversations", "UPDATE conversations SET customer_id = ?1 WHERE id = ?2 AND customer_id = ?3");
  move_back("suggestions_a",
            "UPDATE suggestions SET customer_a = ?1 WHERE id = ?2 AND customer_a = ?3 AND status = 'pending'");
  move_back("suggestions_b",
            "UPDATE suggestions SET customer_b = ?1 WHERE id = ?2 AND customer_b = ?3 AND status = 'pending'");

  // Fields: restore what the merge overwrote unless someone changed it since.
  const CustomerFields survivor_now = load_fields(db, out.survivor);
  const json before = restore.value("survivor", json::object());
  const json after = restore.value("survivor_after", json::object());
  const bool name_untouched = opt_string(after.value("display_name", json())) == survivor_now.display_name;
  const bool attributes_untouched = after.value("attributes", std::string()) == survivor_now.attributes;
  CustomerFields restored = survivor_now;
  if (name_untouched) {
    restored.display_name = opt_string(before.value("display_name", json()));
    restored.display_name_source = opt_string(before.value("display_name_source", json()));
    restored.display_name_at = opt_int(before.value("display_name_at", json()));
  }
  if (attributes_untouched) restored.attributes = before.value("attributes", survivor_now.attributes);
  restored.created_at = before.value("created_at", survivor_now.created_at);
  restored.updated_at = (name_untouched && attributes_untouched &&
                         after.value("updated_at", std::int64_t{0}) == survivor_now.updated_at)
                            ? before.value("updated_at", now_ms)
                            : now_ms;
  {
    Statement& u = db.cached(
        "UPDATE customers SET display_name = ?2, display_name_source = ?3, display_name_at = ?4, "
        "attributes = ?5, created_at = ?6, updated_at = ?7 WHERE id = ?1");
    u.bind_all(out.survivor, restored.display_name, restored.display_name_source, restored.display_name_at,
               restored.attributes, restored.created_at, restored.updated_at)
        .run();
    const std::int64_t merged_updated =
        restore.value("merged", json::object()).value("updated_at", now_ms);
    Statement& m = db.cached("UPDATE customers SET merged_into = NULL, updated_at = ?2 WHERE id = ?1");
    m.bind_all(out.merged, merged_updated).run();
  }

  record_do_not_merge(db, out.survivor, out.merged, evidence_from_json(evidence), now_ms);
  Statement& mark = db.cached("UPDATE merges SET reverted_at = ?2 WHERE id = ?1");
  mark.bind_all(merge_id, now_ms).run();
  return out;
}

// ---- suggestions, do-not-merge, audit ---------------------------------------------------------

std::int64_t record_suggestion(Database& db, std::int64_t a, std::optional<std::int64_t> b,
                               std::string_view reason,
                               const std::vector<identity::IdentityKey>& evidence,
                               std::int64_t now_ms) {
  if (b && *b == a) {
    throw StoreError(StatusCode::invalid_argument, "a suggestion needs two different customers");
  }
  const std::string evidence_json = evidence_to_json(evidence);
  Statement& find = b ? db.cached(
                            "SELECT id, evidence FROM suggestions WHERE status = 'pending' AND "
                            "min(customer_a, customer_b) = min(?1, ?2) AND "
                            "max(customer_a, customer_b) = max(?1, ?2)")
                      : db.cached(
                            "SELECT id, evidence FROM suggestions WHERE status = 'pending' AND "
                            "customer_a = ?1 AND customer_b IS NULL AND evidence = ?2");
  find.bind(1, a);
  if (b) find.bind(2, *b);
  else find.bind(2, evidence_json);
  if (find.step()) {
    const std::int64_t id = find.column<std::int64_t>(0);
    auto all = evidence_from_json(find.column<std::string>(1));
    find.reset();
    all.insert(all.end(), evidence.begin(), evidence.end());
    Statement& u = db.cached("UPDATE suggestions SET evidence = ?2 WHERE id = ?1");
    u.bind_all(id, evidence_to_json(std::move(all))).run();
    return id;
  }
  find.reset();
  Statement& insert = db.cached(
      "INSERT INTO suggestions(customer_a, customer_b, reason, evidence, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  insert.bind_all(a, b, reason, evidence_json, now_ms).run();
  return db.last_insert_rowid();
}

void record_do_not_merge(Database& db, std::int64_t a, std::int64_t b,
                         const std::vector<identity::IdentityKey>& evidence, std::int64_t now_ms) {
  if (a == b) return;
  const std::int64_t lo = std::min(a, b), hi = std::max(a, b);
  Statement& find = db.cached("SELECT evidence FROM do_not_merge WHERE a = ?1 AND b = ?2");
  find.bind_all(lo, hi);
  if (find.step()) {
    auto all = evidence_from_json(find.column<std::string>(0));
    find.reset();
    // Empty evidence already blocks everything; widening it would narrow the block.
    if (all.empty()) return;
    if (evidence.empty()) {
      all.clear();
    } else {
      all.insert(all.end(), evidence.begin(), evidence.end());
    }
    Statement& u = db.cached("UPDATE do_not_merge SET evidence = ?3 WHERE a = ?1 AND b = ?2");
    u.bind_all(lo, hi, evidence_to_json(std::move(all))).run();
    return;
  }
  find.reset();
  Statement& insert = db.cached("INSERT INTO do_not_merge(a, b, created_at, evidence) VALUES (?1, ?2, ?3, ?4)");
  insert.bind_all(lo, hi, now_ms, evidence_to_json(evidence)).run();
}

void write_audit(Database& db, std::int64_t now_ms, const Actor& actor, std::string_view action,
                 const json& detail) {
  json full = detail.is_object() ? detail : json::object();
  if (!actor.role.empty()) full["actor_role"] = actor.role;
  Statement& insert = db.cached("INSERT INTO audit(at, actor, action, detail) VALUES (?1, ?2, ?3, ?4)");
  insert.bind_all(now_ms, actor.id.empty() ? std::string("unknown") : actor.id, action, full.dump()).run();
}

}  // namespace omnitrail::timeline
