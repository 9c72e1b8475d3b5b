// Agent / admin operations on customers; see customer_ops.hpp.
#include "daemon/timeline/customer_ops.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "daemon/store/status.hpp"
#include "daemon/timeline/resolver.hpp"

namespace omnitrail::timeline {
namespace {

using identity::IdentifierKind;
using identity::IdentityKey;
using nlohmann::json;
using store::Database;
using store::Statement;
using store::StatusCode;
using store::StoreError;

constexpr std::size_t max_attribute_keys = 100;
constexpr std::size_t max_attribute_value_bytes = 4 * 1024;
constexpr std::size_t max_attributes_bytes = 64 * 1024;
constexpr std::size_t max_display_name_bytes = 256;

std::string kind_name(IdentifierKind kind) { return std::string(identity::to_string(kind)); }

// Caller-supplied text quoted into a message: short, and only when printable ASCII.
std::string quote_input(std::string_view text) {
  constexpr std::size_t max = 64;
  std::string out = "\"";
  for (char c : text.substr(0, max)) out += (c >= 0x20 && c < 0x7f && c != '"') ? c : '?';
  if (text.size() > max) out += "...";
  return out + "\"";
}

// Two different tier-A values of one kind (two CRM ids, two chat logins) are two people.
void refuse_tier_a_conflict(Database& db, std::int64_t a, std::int64_t b) {
  const auto fa = load_facts(db, a);
  const auto fb = load_facts(db, b);
  for (IdentifierKind kind : {IdentifierKind::external, IdentifierKind::chat_user}) {
    std::set<std::string> ka, kb;
    for (const auto& key : fa.tier_a) if (key.kind == kind) ka.insert(key.key);
    for (const auto& key : fb.tier_a) if (key.kind == kind) kb.insert(key.key);
    if (!ka.empty() && !kb.empty() && ka != kb) {
      throw StoreError(StatusCode::constraint,
                       "cannot merge " + public_id_of(db, a) + " and " + public_id_of(db, b) +
                           ": they hold different " + kind_name(kind) +
                           " identifiers (tier A: two different people); remove one first");
    }
  }
}

void refuse_erased(Database& db, const std::string& public_id) {
  Statement& s = db.cached("SELECT erased_at FROM customers WHERE public_id = ?1");
  s.bind(1, public_id);
  const bool erased = s.step() && !s.is_null(0);
  s.reset();
  if (erased) throw StoreError(StatusCode::constraint, "customer " + public_id + " was erased");
}

std::int64_t created_at_of(Database& db, std::int64_t row) { return load_facts(db, row).created_at_ms; }

std::string_view reason_for(IdentifierKind kind) {
  switch (identity::tier_of(kind)) {
    case identity::Tier::A: return identity::to_string(identity::SuggestionReason::unverified_tier_a);
    case identity::Tier::B: return identity::to_string(identity::SuggestionReason::unverified_email);
    default: return identity::to_string(identity::SuggestionReason::phone_match);
  }
}

// True when a do-not-merge pair between a and b already covers `key`.
bool pair_blocked(Database& db, std::int64_t a, std::int64_t b, const IdentityKey& key) {
  for (const auto& pair : load_do_not_merge(db, {a})) {
    if (!((pair.a == a && pair.b == b) || (pair.a == b && pair.b == a))) continue;
    if (pair.evidence.empty() || std::binary_search(pair.evidence.begin(), pair.evidence.end(), key)) return true;
  }
  return false;
}

// Turns secure_delete on for one job and back to what it was afterwards.
class SecureDelete {
 public:
  explicit SecureDelete(Database& db) : db_(db) {
    previous_ = db_.query_value<std::int64_t>("PRAGMA secure_delete").value_or(0);
    db_.exec("PRAGMA secure_delete = ON");
  }
  ~SecureDelete() {
    try {
      db_.exec("PRAGMA secure_delete = " + std::to_string(previous_));
    } catch (const StoreError&) {
    }
  }
  SecureDelete(const SecureDelete&) = delete;
  SecureDelete& operator=(const SecureDelete&) = delete;

 private:
  Database& db_;
  std::int64_t previous_ = 0;
};

std::int64_t count(Database& db, std::string_view sql, std::int64_t customer) {
  Statement& s = db.cached(sql);
  s.bind(1, customer);
  s.step();
  const auto n = s.column<std::int64_t>(0);
  s.reset();
  return n;
}

// Removes `keys` from the evidence of every row of `table` whose evidence names one of them.
std::int64_t scrub_evidence(Database& db, const std::string& table, const std::string& row_key,
                            const std::vector<IdentityKey>& keys) {
  if (keys.empty()) return 0;
  const std::set<IdentityKey> erased(keys.begin(), keys.end());
  Statement select = db.prepare("SELECT " + row_key + ", evidence FROM " + table +
                                " WHERE EXISTS (SELECT 1 FROM json_each(" + table +
                                ".evidence) e WHERE json_extract(e.value, '$.kind') = ?1 AND "
                                "json_extract(e.value, '$.key') = ?2)");
  std::map<std::string, std::string> rows;  // row key (as text) -> new evidence
  for (const auto& key : erased) {
    select.bind_all(kind_name(key.kind), key.key);
    while (select.step()) rows.emplace(select.column<std::string>(0), select.column<std::string>(1));
    select.reset();
  }
  Statement update = db.prepare("UPDATE " + table + " SET evidence = ?2 WHERE " + row_key + " = ?1");
  for (const auto& [row, evidence] : rows) {
    auto kept = evidence_from_json(evidence);
    kept.erase(std::remove_if(kept.begin(), kept.end(), [&](const IdentityKey& k) { return erased.contains(k); }),
               kept.end());
    update.bind_all(row, evidence_to_json(std::move(kept))).run();
  }
  return static_cast<std::int64_t>(rows.size());
}

}  // namespace

std::int64_t merge_customers(store::WriteContext& w, const std::string& survivor_id, const std::string& merged_id,
                             const Actor& actor, std::int64_t now_ms) {
  Database& db = w.db();
  if (survivor_id == merged_id) {
    throw StoreError(StatusCode::invalid_argument, "cannot merge customer " + quote_input(survivor_id) + " into itself");
  }
  refuse_erased(db, survivor_id);
  refuse_erased(db, merged_id);
  const CustomerRef survivor = find_customer(db, survivor_id);
  const CustomerRef merged = find_customer(db, merged_id);
  if (survivor.row_id == merged.row_id) {
    throw StoreError(StatusCode::invalid_argument, "customers " + survivor_id + " and " + merged_id +
                                                       " are already one customer (" + survivor.public_id + ")");
  }
  refuse_tier_a_conflict(db, survivor.row_id, merged.row_id);
  const std::int64_t merge_id =
      apply_merge(db, MergeRequest{survivor.row_id, merged.row_id, "agent", actor.id, {}}, now_ms);
  write_audit(db, now_ms, actor, "customer.merged",
              {{"merge", merge_id}, {"survivor", survivor.public_id}, {"merged", merged.public_id}});
  return merge_id;
}

void unmerge(store::WriteContext& w, std::int64_t merge_id, const Actor& actor, std::int64_t now_ms) {
  Database& db = w.db();
  const RevertedMerge reverted = revert_merge(db, merge_id, now_ms);
  write_audit(db, now_ms, actor, "customer.unmerged",
              {{"merge", merge_id},
               {"survivor", public_id_of(db, reverted.survivor)},
               {"merged", public_id_of(db, reverted.merged)}});
}

AddedIdentifier add_identifier(store::WriteContext& w, const IngestSettings& settings, const std::string& customer_id,
                               const IdentifierClaim& claim, const Actor& actor, std::int64_t now_ms) {
  Database& db = w.db();
  if (settings.normalizer == nullptr) {
    throw StoreError(StatusCode::invalid_argument, "add_identifier: IngestSettings.normalizer is not set");
  }
  const CustomerRef customer = find_customer(db, customer_id);
  const auto result = normalize_claim(*settings.normalizer, claim);
  if (!result.ok()) {
    throw StoreError(StatusCode::invalid_argument,
                     kind_name(claim.kind) + " identifier rejected (" + std::string(identity::to_string(result.reason())) +
                         "): " + result.text());
  }
  const identity::Identifier& id = result.identifier();
  AddedIdentifier out;
  out.kind = kind_name(id.kind);
  out.key = id.key;
  if (is_configured_shared(settings, id)) {
    throw StoreError(StatusCode::constraint, out.kind + " identifier is configured as a shared value "
                                                        "(identity.shared_values): it links customers and "
                                                        "is never attached to one");
  }

  Statement& find = db.cached("SELECT id, customer_id FROM identities WHERE kind = ?1 AND key = ?2");
  find.bind_all(out.kind, id.key);
  std::optional<std::pair<std::int64_t, std::int64_t>> existing;
  if (find.step()) existing.emplace(find.column<std::int64_t>(0), find.column<std::int64_t>(1));
  find.reset();

  if (existing) {
    const std::int64_t owner = survivor_of(db, existing->second);
    if (owner == customer.row_id) {
      Statement& u = db.cached(
          "UPDATE identities SET last_seen = max(last_seen, ?2), trust = CASE WHEN ?3 = 'verified' "
          "THEN 'verified' ELSE trust END WHERE id = ?1");
      u.bind_all(existing->first, now_ms, std::string(identity::to_string(claim.trust))).run();
      out.identity_id = existing->first;
      write_audit(db, now_ms, actor, "identifier.confirmed",
                  {{"customer", customer.public_id}, {"kind", out.kind}, {"identity", out.identity_id}});
      return out;
    }
    const std::string owner_id = public_id_of(db, owner);
    out.conflict = store::Status(StatusCode::constraint,
                                 out.kind + " identifier already belongs to customer " + owner_id +
                                     "; merge the customers, or remove it from " + owner_id + " first");
    if (!pair_blocked(db, customer.row_id, owner, identity::key_of(id))) {
      out.suggestion_id = record_suggestion(db, customer.row_id, owner, reason_for(id.kind), {identity::key_of(id)},
                                            now_ms);
    }
    write_audit(db, now_ms, actor, "identifier.conflict",
                {{"customer", customer.public_id},
                 {"owner", owner_id},
                 {"kind", out.kind},
                 {"suggestion", out.suggestion_id ? json(*out.suggestion_id) : json(nullptr)}});
    return out;
  }

  const auto facts = load_facts(db, customer.row_id);
  int held = 0;
  int limit = 0;
  switch (id.kind) {
    case IdentifierKind::external:
    case IdentifierKind::chat_user:
      held = static_cast<int>(std::count_if(facts.tier_a.begin(), facts.tier_a.end(),
                                            [&](const IdentityKey& k) { return k.kind == id.kind; }));
      limit = settings.limits.tier_a_per_kind;
      break;
    case IdentifierKind::email:
      held = facts.email_count;
      limit = settings.limits.max_emails;
      break;
    case IdentifierKind::phone:
      held = facts.phone_count;
      limit = settings.limits.max_phones;
      break;
    case IdentifierKind::visitor:
      limit = held + 1;
      break;
  }
  if (held >= limit) {
    throw StoreError(StatusCode::constraint, "customer " + customer.public_id + " already holds " +
                                                 std::to_string(held) + " " + out.kind + " identifier(s), the limit is " +
                                                 std::to_string(limit) + "; remove one first");
  }
  Statement& insert = db.cached(
      "INSERT INTO identities(customer_id, kind, key, raw, trust, source, suggestion_key, first_seen, last_seen) "
      "VALUES (?1, ?2, ?3, ?4, ?5, 'api', ?6, ?7, ?7)");
  insert.bind_all(customer.row_id, out.kind, id.key, id.raw, std::string(identity::to_string(claim.trust)),
                  id.suggestion_key.empty() ? std::nullopt : std::optional<std::string>(id.suggestion_key), now_ms);
  insert.run();
  out.identity_id = db.last_insert_rowid();
  out.created = true;
  write_audit(db, now_ms, actor, "identifier.added",
              {{"customer", customer.public_id}, {"kind", out.kind}, {"identity", out.identity_id}});
  return out;
}

void remove_identifier(store::WriteContext& w, const std::string& customer_id, std::int64_t identity_row_id,
                       const Actor& actor, std::int64_t now_ms) {
  Database& db = w.db();
  const CustomerRef customer = find_customer(db, customer_id);
  Statement& find = db.cached("SELECT customer_id, kind FROM identities WHERE id = ?1");
  find.bind(1, identity_row_id);
  std::optional<std::int64_t> owner;
  std::string kind;
  if (find.step()) {
    owner = find.column<std::int64_t>(0);
    kind = find.column<std::string>(1);
  }
  find.reset();
  if (!owner || survivor_of(db, *owner) != customer.row_id) {
    throw StoreError(StatusCode::not_found, "identifier " + std::to_string(identity_row_id) +
                                                " not found on customer " + customer.public_id);
  }
  Statement& remove = db.cached("DELETE FROM identities WHERE id = ?1");
  remove.bind(1, identity_row_id).run();
  write_audit(db, now_ms, actor, "identifier.removed",
              {{"customer", customer.public_id}, {"kind", kind}, {"identity", identity_row_id}});
}

json set_attributes(store::WriteContext& w, const std::string& customer_id, const json& patch,
                    std::optional<std::string> display_name, const Actor& actor, std::int64_t now_ms) {
  Database& db = w.db();
  const CustomerRef customer = find_customer(db, customer_id);
  if (!patch.is_object()) {
    throw StoreError(StatusCode::invalid_argument, "attributes: the patch must be a JSON object");
  }
  Statement& load = db.cached("SELECT attributes, display_name FROM customers WHERE id = ?1");
  load.bind(1, customer.row_id);
  load.step();
  json attributes = json::parse(load.column<std::string>(0), nullptr, false);
  std::optional<std::string> name = load.column<std::optional<std::string>>(1);
  load.reset();
  if (!attributes.is_object()) attributes = json::object();
  attributes.merge_patch(patch);

  if (attributes.size() > max_attribute_keys) {
    throw StoreError(StatusCode::invalid_argument, "attributes: " + std::to_string(attributes.size()) +
                                                       " keys after the patch, at most " +
                                                       std::to_string(max_attribute_keys));
  }
  for (const auto& [key, value] : attributes.items()) {
    const std::size_t bytes = value.dump(-1, ' ', false, json::error_handler_t::replace).size();
    if (bytes > max_attribute_value_bytes) {
      throw StoreError(StatusCode::invalid_argument,
                       "attributes." + quote_input(key) + ": value is " + std::to_string(bytes) + " bytes, at most " +
                           std::to_string(max_attribute_value_bytes));
    }
  }
  const std::string text = attributes.dump(-1, ' ', false, json::error_handler_t::strict);
  if (text.size() > max_attributes_bytes) {
    throw StoreError(StatusCode::invalid_argument, "attributes: " + std::to_string(text.size()) +
                                                       " bytes after the patch, at most " +
                                                       std::to_string(max_attributes_bytes));
  }

  if (display_name) {
    if (display_name->size() > max_display_name_bytes || !is_valid_utf8(*display_name)) {
      throw StoreError(StatusCode::invalid_argument, "display_name: must be valid UTF-8 of at most " +
                                                         std::to_string(max_display_name_bytes) + " bytes");
    }
    const bool clear = display_name->empty();
    const std::string source = actor.role == "agent" ? "agent" : "crm";
    Statement& u = db.cached(
        "UPDATE customers SET display_name = ?2, display_name_source = ?3, display_name_at = ?4 WHERE id = ?1");
    u.bind_all(customer.row_id, clear ? std::nullopt : display_name,
               clear ? std::nullopt : std::optional<std::string>(source),
               clear ? std::nullopt : std::optional<std::int64_t>(now_ms))
        .run();
    name = clear ? std::nullopt : display_name;
  }
  Statement& u = db.cached("UPDATE customers SET attributes = ?2, updated_at = ?3 WHERE id = ?1");
  u.bind_all(customer.row_id, text, now_ms).run();

  write_audit(db, now_ms, actor, "customer.attributes_set",
              {{"customer", customer.public_id},
               {"patched_keys", patch.size()},
               {"display_name_changed", display_name.has_value()}});
  return {{"customer_id", customer.public_id},
          {"display_name", name ? json(*name) : json(nullptr)},
          {"attributes", attributes}};
}

std::optional<std::int64_t> decide_suggestion(store::WriteContext& w, std::int64_t suggestion_id, bool accept,
                                              const Actor& actor, std::int64_t now_ms) {
  Database& db = w.db();
  Statement& load = db.cached("SELECT customer_a, customer_b, evidence, status FROM suggestions WHERE id = ?1");
  load.bind(1, suggestion_id);
  if (!load.step()) {
    load.reset();
    throw StoreError(StatusCode::not_found, "suggestion " + std::to_string(suggestion_id) + " not found");
  }
  const std::int64_t a = survivor_of(db, load.column<std::int64_t>(0));
  const auto b_row = load.column<std::optional<std::int64_t>>(1);
  const auto evidence = evidence_from_json(load.column<std::string>(2));
  const std::string status = load.column<std::string>(3);
  load.reset();
  if (status != "pending") {
    throw StoreError(StatusCode::constraint,
                     "suggestion " + std::to_string(suggestion_id) + " was already " + status);
  }
  // Plain values rather than an optional: gcc 12 misreports the optional as uninitialised.
  const bool has_b = b_row.has_value();
  const std::int64_t other = has_b ? survivor_of(db, *b_row) : 0;

  std::optional<std::int64_t> merge_id;
  json detail = {{"suggestion", suggestion_id}, {"customer", public_id_of(db, a)}};
  if (has_b) detail["other"] = public_id_of(db, other);
  if (accept && has_b && other != a) {
    refuse_tier_a_conflict(db, a, other);
    const auto rank = [&](std::int64_t row) { return std::make_pair(created_at_of(db, row), row); };
    const std::int64_t survivor = rank(a) <= rank(other) ? a : other;
    const std::int64_t merged = survivor == a ? other : a;
    merge_id = apply_merge(db, MergeRequest{survivor, merged, "suggestion_accepted", actor.id, evidence}, now_ms);
    detail["merge"] = *merge_id;
  } else if (accept && !has_b) {
    for (const IdentityKey& key : evidence) {
      Statement& find = db.cached("SELECT customer_id FROM identities WHERE kind = ?1 AND key = ?2");
      find.bind_all(kind_name(key.kind), key.key);
      std::optional<std::int64_t> owner;
      if (find.step()) owner = find.column<std::int64_t>(0);
      find.reset();
      if (owner) {
        const std::int64_t survivor = survivor_of(db, *owner);
        if (survivor == a) continue;
        throw StoreError(StatusCode::constraint, kind_name(key.kind) + " identifier of suggestion " +
                                                     std::to_string(suggestion_id) + " now belongs to customer " +
                                                     public_id_of(db, survivor));
      }
      Statement& insert = db.cached(
          "INSERT INTO identities(customer_id, kind, key, raw, trust, source, first_seen, last_seen) "
          "VALUES (?1, ?2, ?3, ?3, 'claimed', 'suggestion', ?4, ?4)");
      insert.bind_all(a, kind_name(key.kind), key.key, now_ms).run();
    }
  } else if (!accept && has_b && other != a) {
    record_do_not_merge(db, a, other, evidence, now_ms);
  }
  Statement& mark = db.cached("UPDATE suggestions SET status = ?2, decided_at = ?3, decided_by = ?4 WHERE id = ?1");
  mark.bind_all(suggestion_id, accept ? "accepted" : "rejected", now_ms, actor.id).run();
  write_audit(db, now_ms, actor, accept ? "suggestion.accepted" : "suggestion.rejected", detail);
  return merge_id;
}

ErasureReport erase_customer(store::WriteContext& w, const std::string& customer_id, const Actor& actor,
                             std::int64_t now_ms) {
  Database& db = w.db();
  const CustomerRef customer = find_customer(db, customer_id);
  const std::vector<std::int64_t> members = merge_group(db, customer.row_id);
  SecureDelete secure(db);

  ErasureReport report;
  report.customer_id = customer.public_id;
  report.customers = static_cast<std::int64_t>(members.size());

  std::vector<IdentityKey> keys;
  {
    Statement& s = db.cached("SELECT kind, key FROM identities WHERE customer_id = ?1");
    for (std::int64_t m : members) {
      s.bind(1, m);
      while (s.step()) {
        if (auto kind = identity::parse_identifier_kind(s.column<std::string>(0))) {
          keys.push_back({*kind, s.column<std::string>(1)});
        }
      }
      s.reset();
    }
  }
  std::set<std::int64_t> suggestions;
  for (std::int64_t m : members) {
    report.identities += count(db, "SELECT count(*) FROM identities WHERE customer_id = ?1", m);
    report.interactions += count(db, "SELECT count(*) FROM interactions WHERE customer_id = ?1", m);
    report.conversations += count(db, "SELECT count(*) FROM conversations WHERE customer_id = ?1", m);
    Statement& s = db.cached("SELECT id FROM suggestions WHERE customer_a = ?1 OR customer_b = ?1");
    s.bind(1, m);
    while (s.step()) suggestions.insert(s.column<std::int64_t>(0));
    s.reset();
  }
  report.suggestions = static_cast<std::int64_t>(suggestions.size());
  {
    std::set<std::int64_t> merges;
    Statement& s = db.cached("SELECT id FROM merges WHERE survivor_id = ?1 OR merged_id = ?1");
    for (std::int64_t m : members) {
      s.bind(1, m);
      while (s.step()) merges.insert(s.column<std::int64_t>(0));
      s.reset();
    }
    report.merges = static_cast<std::int64_t>(merges.size());
  }

  // Explicit deletes (rather than relying on cascades alone) keep the order obvious: children
  // first, then the journal, then the customers themselves.
  for (std::string_view sql : {"DELETE FROM identities WHERE customer_id = ?1",
                               "DELETE FROM identity_links WHERE customer_id = ?1",
                               "DELETE FROM interactions WHERE customer_id = ?1",
                               "DELETE FROM conversations WHERE customer_id = ?1",
                               "DELETE FROM suggestions WHERE customer_a = ?1 OR customer_b = ?1",
                               "DELETE FROM do_not_merge WHERE a = ?1 OR b = ?1",
                               "DELETE FROM outbox WHERE customer_id = ?1",
                               "DELETE FROM merges WHERE survivor_id = ?1 OR merged_id = ?1"}) {
    Statement& s = db.cached(sql);
    for (std::int64_t m : members) s.bind(1, m).run();
  }
  {
    // The erased values seen with other customers (a form that claimed this number) go too.
    Statement& s = db.cached("DELETE FROM identity_links WHERE kind = ?1 AND key = ?2");
    for (const auto& key : keys) s.bind_all(kind_name(key.kind), key.key).run();
  }
  report.scrubbed += scrub_evidence(db, "merges", "id", keys);
  report.scrubbed += scrub_evidence(db, "suggestions", "id", keys);
  report.scrubbed += scrub_evidence(db, "do_not_merge", "a || ':' || b", keys);
  {
    // Deleting a survivor cascades to the customers merged into it; the rest are no-ops then.
    Statement& s = db.cached("DELETE FROM customers WHERE id = ?1");
    for (std::int64_t m : members) s.bind(1, m).run();
  }

  write_audit(db, now_ms, actor, "customer.erased",
              {{"customer", report.customer_id},
               {"customers", report.customers},
               {"identities", report.identities},
               {"interactions", report.interactions},
               {"conversations", report.conversations},
               {"suggestions", report.suggestions},
               {"merges", report.merges},
               {"scrubbed", report.scrubbed}});
  return report;
}

}  // namespace omnitrail::timeline
