// Ingest pipeline: validate, dedupe, normalise, resolve, apply, store; see ingest.hpp.
#include "daemon/timeline/ingest.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "daemon/store/status.hpp"
#include "daemon/timeline/resolver.hpp"

namespace omnitrail::timeline {
namespace {

using identity::Identifier;
using identity::IdentifierKind;
using identity::Trust;
using store::Database;
using store::Statement;
using store::StatusCode;
using store::StoreError;

// Bounds the candidate lists read per identifier (a shared switchboard may touch thousands).
constexpr int max_linked_customers = 1000;
constexpr int max_similar_owners = 20;

struct Contact {
  Identifier identifier;
  Trust trust = Trust::claimed;
};

std::string kind_name(IdentifierKind kind) { return std::string(identity::to_string(kind)); }

std::optional<std::int64_t> owner_of(Database& db, const Identifier& id) {
  Statement& s = db.cached("SELECT customer_id FROM identities WHERE kind = ?1 AND key = ?2");
  s.bind_all(kind_name(id.kind), id.key);
  std::optional<std::int64_t> owner;
  if (s.step()) owner = s.column<std::int64_t>(0);
  s.reset();
  if (owner) owner = survivor_of(db, *owner);
  return owner;
}

std::set<std::int64_t> linked_customers(Database& db, const Identifier& id) {
  Statement& s = db.cached("SELECT customer_id FROM identity_links WHERE kind = ?1 AND key = ?2 LIMIT ?3");
  s.bind_all(kind_name(id.kind), id.key, max_linked_customers);
  std::vector<std::int64_t> rows;
  while (s.step()) rows.push_back(s.column<std::int64_t>(0));
  s.reset();
  std::set<std::int64_t> out;
  for (std::int64_t row : rows) out.insert(survivor_of(db, row));
  return out;
}

std::vector<std::int64_t> similar_owners(Database& db, const Identifier& id, std::optional<std::int64_t> owner) {
  std::vector<std::int64_t> out;
  if (id.suggestion_key.empty()) return out;
  Statement& s = db.cached(
      "SELECT DISTINCT customer_id FROM identities WHERE kind = ?1 AND suggestion_key = ?2 AND key <> ?3 "
      "LIMIT ?4");
  s.bind_all(kind_name(id.kind), id.suggestion_key, id.key, max_similar_owners);
  std::vector<std::int64_t> rows;
  while (s.step()) rows.push_back(s.column<std::int64_t>(0));
  s.reset();
  for (std::int64_t row : rows) {
    const std::int64_t survivor = survivor_of(db, row);
    if (survivor != owner && std::find(out.begin(), out.end(), survivor) == out.end()) out.push_back(survivor);
  }
  return out;
}

std::int64_t create_customer(Database& db, const std::string& display_name, std::int64_t now_ms) {
  Statement& s = db.cached(
      "INSERT INTO customers(display_name, display_name_source, display_name_at, created_at, updated_at) "
      "VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id");
  const bool named = !display_name.empty();
  s.bind_all(named ? std::optional<std::string>(display_name) : std::nullopt,
             named ? std::optional<std::string>("channel") : std::nullopt,
             named ? std::optional<std::int64_t>(now_ms) : std::nullopt, now_ms);
  s.step();
  const std::int64_t id = s.column<std::int64_t>(0);
  s.reset();
  return id;
}

// Fills a blank display name from the channel; a name already held (from any source) stays.
void fill_display_name(Database& db, std::int64_t customer, const std::string& name, std::int64_t now_ms) {
  if (name.empty()) return;
  Statement& s = db.cached(
      "UPDATE customers SET display_name = ?2, display_name_source = 'channel', display_name_at = ?3, "
      "updated_at = ?3 WHERE id = ?1 AND (display_name IS NULL OR trim(display_name) = '')");
  s.bind_all(customer, name, now_ms).run();
}

void insert_identity(Database& db, std::int64_t customer, const Identifier& id, Trust trust,
                     const std::string& source, std::int64_t seen_ms) {
  Statement& s = db.cached(
      "INSERT INTO identities(customer_id, kind, key, raw, trust, source, suggestion_key, first_seen, "
      "last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)");
  s.bind_all(customer, kind_name(id.kind), id.key, id.raw, std::string(identity::to_string(trust)), source,
             id.suggestion_key.empty() ? std::nullopt : std::optional<std::string>(id.suggestion_key), seen_ms);
  s.run();
}

// Seen again: last_seen moves forward, trust only ever goes up (claimed -> verified).
void refresh_identity(Database& db, const Identifier& id, Trust trust, std::int64_t seen_ms) {
  Statement& s = db.cached(
      "UPDATE identities SET last_seen = max(last_seen, ?3), first_seen = min(first_seen, ?3), "
      "trust = CASE WHEN ?4 = 'verified' THEN 'verified' ELSE trust END WHERE kind = ?1 AND key = ?2");
  s.bind_all(kind_name(id.kind), id.key, seen_ms, std::string(identity::to_string(trust))).run();
}

void link_identity(Database& db, const Identifier& id, std::int64_t customer, std::int64_t seen_ms) {
  Statement& s = db.cached(
      "INSERT INTO identity_links(kind, key, customer_id, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4) "
      "ON CONFLICT(kind, key, customer_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)");
  s.bind_all(kind_name(id.kind), id.key, customer, seen_ms).run();
}

// Normalises the claims; duplicates fold into one with the strongest trust.
std::vector<Contact> normalise_claims(const IngestSettings& settings, const Interaction& in, bool& saw_internal) {
  std::vector<Contact> out;
  for (const IdentifierClaim& claim : in.customer_identifiers) {
    const auto result = normalize_claim(*settings.normalizer, claim, in.region);
    if (!result.ok()) {
      if (identity::is_internal_party(result.reason())) saw_internal = true;
      continue;
    }
    auto it = std::find_if(out.begin(), out.end(), [&](const Contact& c) {
      return c.identifier.kind == result.identifier().kind && c.identifier.key == result.identifier().key;
    });
    if (it == out.end()) {
      out.push_back({result.identifier(), claim.trust});
    } else if (claim.trust == Trust::verified) {
      it->trust = Trust::verified;
    }
  }
  return out;
}

std::optional<std::string> address_key(const identity::Normalizer& normalizer, const Interaction& in,
                                       const std::string& raw) {
  if (raw.empty()) return std::nullopt;
  const bool email = in.channel == "email" || raw.find('@') != std::string::npos;
  const auto result = email ? normalizer.email(raw) : normalizer.phone(raw, in.region);
  if (!result.ok()) return std::nullopt;
  return result.identifier().key;
}

std::optional<std::string> non_empty(const std::string& value) {
  if (value.empty()) return std::nullopt;
  return value;
}

// Attaches to a customer named by the caller: identifiers nobody owns are added within the
// limits; those the customer holds are refreshed; others' and shared values are left alone.
void attach_to_named(Database& db, const IngestSettings& settings, const Interaction& in,
                     const std::vector<Contact>& contacts, std::int64_t customer) {
  auto facts = load_facts(db, customer);
  std::map<IdentifierKind, int> tier_a;
  for (const auto& key : facts.tier_a) ++tier_a[key.kind];
  for (const Contact& c : contacts) {
    if (is_configured_shared(settings, c.identifier)) continue;
    const auto owner = owner_of(db, c.identifier);
    if (owner) {
      if (*owner == customer) refresh_identity(db, c.identifier, c.trust, in.occurred_at_ms);
      continue;
    }
    switch (c.identifier.kind) {
      case IdentifierKind::external:
      case IdentifierKind::chat_user:
        if (tier_a[c.identifier.kind] >= settings.limits.tier_a_per_kind) continue;
        ++tier_a[c.identifier.kind];
        break;
      case IdentifierKind::email:
        if (facts.email_count >= settings.limits.max_emails) continue;
        ++facts.email_count;
        break;
      case IdentifierKind::phone:
        if (facts.phone_count >= settings.limits.max_phones) continue;
        ++facts.phone_count;
        break;
      case IdentifierKind::visitor: break;
    }
    insert_identity(db, customer, c.identifier, c.trust, in.source, in.occurred_at_ms);
  }
}

// Looks up, resolves and applies; returns the customer row the contact belongs to.
std::int64_t resolve_and_apply(Database& db, const IngestSettings& settings, const Interaction& in,
                               const std::vector<Contact>& contacts, std::int64_t now_ms, IngestOutcome& outcome) {
  identity::ResolveInput input;
  input.limits = settings.limits;
  std::set<std::int64_t> involved;
  for (const Contact& c : contacts) {
    identity::ContactIdentifier ci;
    ci.identifier = c.identifier;
    ci.trust = c.trust;
    ci.owner = owner_of(db, c.identifier);
    std::set<std::int64_t> holders = linked_customers(db, c.identifier);
    if (ci.owner) holders.insert(*ci.owner);
    if (is_configured_shared(settings, c.identifier) ||
        static_cast<int>(holders.size()) > settings.shared_threshold) {
      ci.shared = true;
      ci.sharing_customers.assign(holders.begin(), holders.end());
    } else {
      ci.similar_owners = similar_owners(db, c.identifier, ci.owner);
    }
    if (ci.owner) involved.insert(*ci.owner);
    involved.insert(ci.sharing_customers.begin(), ci.sharing_customers.end());
    involved.insert(ci.similar_owners.begin(), ci.similar_owners.end());
    input.identifiers.push_back(std::move(ci));
  }
  for (std::int64_t id : involved) input.customers.push_back(load_facts(db, id));
  input.do_not_merge = load_do_not_merge(db, {involved.begin(), involved.end()});

  const identity::Decision decision = identity::resolve(input);

  std::int64_t customer = decision.customer;
  if (customer == identity::new_customer) {
    customer = create_customer(db, in.customer_display_name, now_ms);
    outcome.customer_created = true;
  }
  const auto real = [&](identity::CustomerId id) { return id == identity::new_customer ? customer : id; };

  for (const identity::Merge& merge : decision.merges) {
    outcome.merged_customer_ids.push_back(public_id_of(db, merge.merged));
    apply_merge(db,
                MergeRequest{real(merge.survivor), merge.merged, std::string(identity::to_string(merge.rule)),
                             in.source, merge.evidence},
                now_ms);
  }
  if (!outcome.customer_created) fill_display_name(db, customer, in.customer_display_name, now_ms);

  for (const identity::TrustedIdentifier& t : decision.attach) {
    insert_identity(db, customer, t.identifier, t.trust, in.source, in.occurred_at_ms);
  }
  for (const identity::ContactIdentifier& ci : input.identifiers) {
    const bool attached = std::any_of(decision.attach.begin(), decision.attach.end(), [&](const auto& t) {
      return t.identifier.kind == ci.identifier.kind && t.identifier.key == ci.identifier.key;
    });
    if (attached) continue;
    if (ci.shared) {
      link_identity(db, ci.identifier, customer, in.occurred_at_ms);
      continue;
    }
    if (!ci.owner) continue;  // unowned and not attached: a limit kept it out (a suggestion says so)
    if (survivor_of(db, *ci.owner) == customer) {
      refresh_identity(db, ci.identifier, ci.trust, in.occurred_at_ms);
    } else {
      link_identity(db, ci.identifier, customer, in.occurred_at_ms);
    }
  }

  for (const identity::Suggestion& s : decision.suggestions) {
    const std::optional<std::int64_t> b = s.b ? std::optional<std::int64_t>(real(*s.b)) : std::nullopt;
    const std::int64_t a = real(s.a);
    if (b && *b == a) continue;
    const std::int64_t id = record_suggestion(db, a, b, identity::to_string(s.reason), s.evidence, now_ms);
    if (std::find(outcome.suggestion_ids.begin(), outcome.suggestion_ids.end(), id) == outcome.suggestion_ids.end()) {
      outcome.suggestion_ids.push_back(id);
    }
  }
  std::set<std::int64_t> candidates;
  for (const auto& shared : decision.shared) {
    for (identity::CustomerId id : shared.customers) candidates.insert(survivor_of(db, real(id)));
  }
  for (std::int64_t id : candidates) outcome.shared_candidate_customer_ids.push_back(public_id_of(db, id));
  return customer;
}

}  // namespace

identity::NormalizeResult normalize_claim(const identity::Normalizer& normalizer, const IdentifierClaim& claim,
                                          std::string_view region) {
  switch (claim.kind) {
    case IdentifierKind::phone: return normalizer.phone(claim.raw, region);
    case IdentifierKind::email: return normalizer.email(claim.raw);
    default: return normalizer.other(claim.kind, claim.raw);
  }
}

bool is_configured_shared(const IngestSettings& settings, const Identifier& identifier) {
  if (settings.shared_values.empty() || settings.normalizer == nullptr) return false;
  for (const std::string& value : settings.shared_values) {
    if (value == identifier.key || value == identifier.raw) return true;
    const auto result = identifier.kind == IdentifierKind::phone   ? settings.normalizer->phone(value)
                        : identifier.kind == IdentifierKind::email ? settings.normalizer->email(value)
                                                                   : settings.normalizer->other(identifier.kind, value);
    if (result.ok() && result.identifier().key == identifier.key) return true;
  }
  return false;
}

IngestOutcome ingest(store::WriteContext& w, const IngestSettings& settings, const Interaction& in,
                     std::int64_t now_ms) {
  if (const std::string problem = validate(in); !problem.empty()) {
    throw StoreError(StatusCode::invalid_argument, problem);
  }
  if (settings.normalizer == nullptr) {
    throw StoreError(StatusCode::invalid_argument, "ingest: IngestSettings.normalizer is not set");
  }
  Database& db = w.db();
  IngestOutcome outcome;

  {
    Statement& s = w.statement(
        "SELECT i.public_id, i.customer_id, v.public_id, i.text_truncated FROM interactions i "
        "LEFT JOIN conversations v ON v.id = i.conversation_id WHERE i.source = ?1 AND i.external_id = ?2");
    s.bind_all(in.source, in.external_id);
    if (s.step()) {
      outcome.duplicate = true;
      outcome.interaction_id = s.column<std::string>(0);
      const auto customer = s.column<std::optional<std::int64_t>>(1);
      outcome.conversation_id = s.column<std::string>(2);
      outcome.text_truncated = s.column<bool>(3);
      s.reset();
      if (customer) outcome.customer_id = public_id_of(db, survivor_of(db, *customer));
      outcome.internal = !customer;
      return outcome;
    }
    s.reset();
  }

  bool saw_internal = false;
  const std::vector<Contact> contacts = normalise_claims(settings, in, saw_internal);

  std::optional<std::int64_t> customer;
  if (!in.customer_id.empty()) {
    customer = find_customer(db, in.customer_id).row_id;
    attach_to_named(db, settings, in, contacts, *customer);
  } else if (contacts.empty() && saw_internal) {
    outcome.internal = true;
  } else {
    customer = resolve_and_apply(db, settings, in, contacts, now_ms, outcome);
  }
  if (customer) outcome.customer_id = public_id_of(db, *customer);

  std::optional<std::int64_t> conversation;
  if (!in.conversation_key.empty()) {
    Statement& s = w.statement(
        "INSERT INTO conversations(key, channel, customer_id, source, started_at, last_at, ended_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) ON CONFLICT(source, key) DO UPDATE SET "
        "started_at = min(started_at, excluded.started_at), last_at = max(last_at, excluded.last_at), "
        "ended_at = CASE WHEN excluded.ended_at IS NULL THEN ended_at "
        "ELSE max(coalesce(ended_at, 0), excluded.ended_at) END, "
        "customer_id = coalesce(customer_id, excluded.customer_id) RETURNING id, public_id");
    s.bind_all(in.conversation_key, in.channel, customer, in.source, in.occurred_at_ms,
               in.ends_conversation ? std::optional<std::int64_t>(in.occurred_at_ms) : std::nullopt);
    s.step();
    conversation = s.column<std::int64_t>(0);
    outcome.conversation_id = s.column<std::string>(1);
    s.reset();
  }

  std::string text = in.text;
  outcome.text_truncated = truncate_utf8(text, settings.max_text_bytes);
  {
    Statement& s = w.statement(
        "INSERT INTO interactions(customer_id, conversation_id, channel, direction, kind, occurred_at, source, "
        "external_id, from_raw, from_key, to_raw, to_key, agent, subject, text, text_truncated, metadata, "
        "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) "
        "RETURNING public_id");
    s.bind_all(customer, conversation, in.channel, in.direction, in.kind, in.occurred_at_ms, in.source,
               in.external_id, non_empty(in.from), address_key(*settings.normalizer, in, in.from), non_empty(in.to),
               address_key(*settings.normalizer, in, in.to), non_empty(in.agent), non_empty(in.subject),
               non_empty(text), outcome.text_truncated, in.metadata_json, now_ms);
    s.step();
    outcome.interaction_id = s.column<std::string>(0);
    s.reset();
  }
  return outcome;
}

}  // namespace omnitrail::timeline
