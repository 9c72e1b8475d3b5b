// The schema, as numbered migrations. Never edit a released migration: add the next number.
// Conventions: timestamps are INTEGER milliseconds since the Unix epoch (UTC); JSON columns are
// TEXT checked with json_valid(); every foreign-key child column is indexed (SQLite scans the
// child table on a parent delete otherwise); public ids are random, stable and never reused.
#include "daemon/store/migrations.hpp"

#include <array>
#include <string>

namespace omnitrail::store {
namespace {

constexpr std::string_view schema_v1 = R"sql(
-- People (or anonymous contacts). A merged customer keeps its row and points at its survivor so
-- integrators' ids never die; erasure deletes the row (children cascade) and leaves an audit line.
CREATE TABLE customers (
  id           INTEGER PRIMARY KEY,
  public_id    TEXT    NOT NULL UNIQUE DEFAULT ('c_' || lower(hex(randomblob(8)))),
  display_name TEXT,
  attributes   TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  merged_into  INTEGER REFERENCES customers(id) ON DELETE CASCADE,
  erased_at    INTEGER,
  CHECK (merged_into IS NULL OR merged_into <> id)
);
CREATE INDEX customers_merged_into ON customers(merged_into) WHERE merged_into IS NOT NULL;

-- Identifiers (tiered, see reference/identity.md). (kind, key) is unique: two concurrent first
-- contacts from one number resolve to ONE customer. `key` is normalised (E.164[;ext=N], lower-case
-- email), `raw` is the input as first seen (used for display and replies).
CREATE TABLE identities (
  id             INTEGER PRIMARY KEY,
  customer_id    INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  kind           TEXT    NOT NULL,
  key            TEXT    NOT NULL,
  raw            TEXT    NOT NULL,
  trust          TEXT    NOT NULL CHECK (trust IN ('verified', 'claimed')),
  source         TEXT    NOT NULL,
  suggestion_key TEXT,
  first_seen     INTEGER NOT NULL,
  last_seen      INTEGER NOT NULL,
  UNIQUE (kind, key)
);
CREATE INDEX identities_customer ON identities(customer_id);
CREATE INDEX identities_suggestion ON identities(kind, suggestion_key)
  WHERE suggestion_key IS NOT NULL;

-- Threads of interactions: a call (Linkedid), an email thread, a chat session, an SMS pair.
CREATE TABLE conversations (
  id          INTEGER PRIMARY KEY,
  public_id   TEXT    NOT NULL UNIQUE DEFAULT ('v_' || lower(hex(randomblob(8)))),
  key         TEXT    NOT NULL,
  channel     TEXT    NOT NULL CHECK (channel IN ('phone', 'email', 'sms', 'chat', 'api')),
  customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE,
  source      TEXT    NOT NULL,
  started_at  INTEGER NOT NULL,
  last_at     INTEGER NOT NULL,
  ended_at    INTEGER,
  UNIQUE (source, key)
);
CREATE INDEX conversations_customer ON conversations(customer_id, last_at DESC);
CREATE INDEX conversations_open ON conversations(customer_id, last_at DESC) WHERE ended_at IS NULL;

-- The timeline. UNIQUE(source, external_id) makes at-least-once delivery exactly-once here.
-- customer_id is NULL for traffic that identifies no customer (internal extensions).
CREATE TABLE interactions (
  id              INTEGER PRIMARY KEY,
  public_id       TEXT    NOT NULL UNIQUE DEFAULT ('i_' || lower(hex(randomblob(8)))),
  customer_id     INTEGER REFERENCES customers(id) ON DELETE CASCADE,
  conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
  channel         TEXT    NOT NULL CHECK (channel IN ('phone', 'email', 'sms', 'chat', 'api')),
  direction       TEXT    NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  kind            TEXT    NOT NULL,
  occurred_at     INTEGER NOT NULL,
  source          TEXT    NOT NULL,
  external_id     TEXT    NOT NULL,
  from_raw        TEXT,
  from_key        TEXT,
  to_raw          TEXT,
  to_key          TEXT,
  agent           TEXT,
  subject         TEXT,
  text            TEXT,
  text_truncated  INTEGER NOT NULL DEFAULT 0 CHECK (text_truncated IN (0, 1)),
  metadata        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  created_at      INTEGER NOT NULL,
  UNIQUE (source, external_id)
);
-- Hot path: a customer's recent timeline, newest first (id breaks ties deterministically).
CREATE INDEX interactions_customer_time ON interactions(customer_id, occurred_at DESC, id DESC);
CREATE INDEX interactions_conversation ON interactions(conversation_id, occurred_at)
  WHERE conversation_id IS NOT NULL;
-- Retention sweeps per channel.
CREATE INDEX interactions_channel_time ON interactions(channel, occurred_at);

-- Append-only merge journal; unmerge sets reverted_at and moves back exactly `moved`
-- ({"identities":[ids], "interactions":[ids], ...}).
CREATE TABLE merges (
  id          INTEGER PRIMARY KEY,
  survivor_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  merged_id   INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  rule        TEXT    NOT NULL,
  actor       TEXT    NOT NULL,
  evidence    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(evidence)),
  moved       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(moved)),
  created_at  INTEGER NOT NULL,
  reverted_at INTEGER,
  CHECK (survivor_id <> merged_id)
);
CREATE INDEX merges_survivor ON merges(survivor_id, created_at);
CREATE INDEX merges_merged ON merges(merged_id, created_at);

-- Pairs that must not be merged again automatically. Stored once per pair: a < b.
CREATE TABLE do_not_merge (
  a          INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  b          INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (a, b),
  CHECK (a < b)
) WITHOUT ROWID;
CREATE INDEX do_not_merge_b ON do_not_merge(b);

-- Merge suggestions for agents. At most one pending suggestion per unordered pair.
CREATE TABLE suggestions (
  id         INTEGER PRIMARY KEY,
  customer_a INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  customer_b INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  reason     TEXT    NOT NULL,
  evidence   TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(evidence)),
  status     TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'accepted', 'rejected')),
  created_at INTEGER NOT NULL,
  decided_at INTEGER,
  decided_by TEXT,
  CHECK (customer_a <> customer_b)
);
CREATE UNIQUE INDEX suggestions_pending_pair
  ON suggestions(min(customer_a, customer_b), max(customer_a, customer_b))
  WHERE status = 'pending';
CREATE INDEX suggestions_a ON suggestions(customer_a, status);
CREATE INDEX suggestions_b ON suggestions(customer_b, status);

-- Durable outbound queue (webhooks, SMS / email sends).
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  kind            TEXT    NOT NULL,
  idempotency_key TEXT    NOT NULL UNIQUE,
  payload         TEXT    NOT NULL CHECK (json_valid(payload)),
  customer_id     INTEGER REFERENCES customers(id) ON DELETE CASCADE,
  status          TEXT    NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
-- Hot path: the next due entries of a status (`status = 'pending' AND next_attempt_at <= now`).
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_customer ON outbox(customer_id) WHERE customer_id IS NOT NULL;

-- Connector checkpoints (IMAP UIDVALIDITY/UID, ...), committed with the interactions they cover.
CREATE TABLE connector_state (
  connector  TEXT    NOT NULL,
  key        TEXT    NOT NULL,
  value      TEXT    NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (connector, key)
) WITHOUT ROWID;

-- Non-personal audit trail (erasures, merges by agents, config reloads). Never holds identifiers.
CREATE TABLE audit (
  id     INTEGER PRIMARY KEY,
  at     INTEGER NOT NULL,
  actor  TEXT    NOT NULL,
  action TEXT    NOT NULL,
  detail TEXT
);
CREATE INDEX audit_at ON audit(at);
)sql";

// Migration 2 (write side of the timeline, issue #3):
//  - customers: where the display name came from and when (survivorship on merge);
//  - merges.restore: the single-valued fields a merge overwrote, so unmerge restores them;
//  - do_not_merge.evidence: the identifiers a reverted merge / rejected suggestion rested on;
//  - identity_links: a value seen with customers other than its owner (UNIQUE(kind, key) keeps
//    one owner per value), for shared-value detection and the pop's candidate list;
//  - suggestions: customer_b may be NULL ("add this identifier to customer_a", e.g. a limit);
//  - conversations / interactions: channel 'note' allowed (agents' notes). Both are rebuilt in
//    an order that never drops a table still referenced (foreign_keys stays ON in migrate()):
//    interactions_new points at conversations_new, the old pair is dropped, then both renamed
//    (RENAME rewrites the REFERENCES clause).
constexpr std::string_view schema_v2 = R"sql(
ALTER TABLE customers ADD COLUMN display_name_source TEXT
  CHECK (display_name_source IN ('channel', 'agent', 'crm'));
ALTER TABLE customers ADD COLUMN display_name_at INTEGER;

ALTER TABLE merges ADD COLUMN restore TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(restore));

ALTER TABLE do_not_merge ADD COLUMN evidence TEXT NOT NULL DEFAULT '[]'
  CHECK (json_valid(evidence));

CREATE TABLE identity_links (
  kind        TEXT    NOT NULL,
  key         TEXT    NOT NULL,
  customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  first_seen  INTEGER NOT NULL,
  last_seen   INTEGER NOT NULL,
  PRIMARY KEY (kind, key, customer_id)
) WITHOUT ROWID;
CREATE INDEX identity_links_customer ON identity_links(customer_id);

CREATE TABLE suggestions_v2 (
  id         INTEGER PRIMARY KEY,
  customer_a INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  customer_b INTEGER REFERENCES customers(id) ON DELETE CASCADE,
  reason     TEXT    NOT NULL,
  evidence   TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(evidence)),
  status     TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'accepted', 'rejected')),
  created_at INTEGER NOT NULL,
  decided_at INTEGER,
  decided_by TEXT,
  CHECK (customer_b IS NULL OR customer_a <> customer_b)
);
INSERT INTO suggestions_v2 SELECT id, customer_a, customer_b, reason, evidence, status, created_at,
  decided_at, decided_by FROM suggestions;
DROP TABLE suggestions;
ALTER TABLE suggestions_v2 RENAME TO suggestions;
CREATE UNIQUE INDEX suggestions_pending_pair
  ON suggestions(min(customer_a, customer_b), max(customer_a, customer_b))
  WHERE status = 'pending' AND customer_b IS NOT NULL;
CREATE UNIQUE INDEX suggestions_pending_identifier ON suggestions(customer_a, evidence)
  WHERE status = 'pending' AND customer_b IS NULL;
CREATE INDEX suggestions_a ON suggestions(customer_a, status);
CREATE INDEX suggestions_b ON suggestions(customer_b, status);

CREATE TABLE conversations_v2 (
  id          INTEGER PRIMARY KEY,
  public_id   TEXT    NOT NULL UNIQUE DEFAULT ('v_' || lower(hex(randomblob(8)))),
  key         TEXT    NOT NULL,
  channel     TEXT    NOT NULL CHECK (channel IN ('phone', 'email', 'sms', 'chat', 'api', 'note')),
  customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE,
  source      TEXT    NOT NULL,
  started_at  INTEGER NOT NULL,
  last_at     INTEGER NOT NULL,
  ended_at    INTEGER,
  UNIQUE (source, key)
);
INSERT INTO conversations_v2 SELECT id, public_id, key, channel, customer_id, source, started_at,
  last_at, ended_at FROM conversations;
CREATE TABLE interactions_v2 (
  id              INTEGER PRIMARY KEY,
  public_id       TEXT    NOT NULL UNIQUE DEFAULT ('i_' || lower(hex(randomblob(8)))),
  customer_id     INTEGER REFERENCES customers(id) ON DELETE CASCADE,
  conversation_id INTEGER REFERENCES conversations_v2(id) ON DELETE SET NULL,
  channel         TEXT    NOT NULL
                          CHECK (channel IN ('phone', 'email', 'sms', 'chat', 'api', 'note')),
  direction       TEXT    NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  kind            TEXT    NOT NULL,
  occurred_at     INTEGER NOT NULL,
  source          TEXT    NOT NULL,
  external_id     TEXT    NOT NULL,
  from_raw        TEXT,
  from_key        TEXT,
  to_raw          TEXT,
  to_key          TEXT,
  agent           TEXT,
  subject         TEXT,
  text            TEXT,
  text_truncated  INTEGER NOT NULL DEFAULT 0 CHECK (text_truncated IN (0, 1)),
  metadata        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  created_at      INTEGER NOT NULL,
  UNIQUE (source, external_id)
);
INSERT INTO interactions_v2 SELECT id, public_id, customer_id, conversation_id, channel, direction,
  kind, occurred_at, source, external_id, from_raw, from_key, to_raw, to_key, agent, subject, text,
  text_truncated, metadata, created_at FROM interactions;
DROP TABLE interactions;
DROP TABLE conversations;
ALTER TABLE conversations_v2 RENAME TO conversations;
ALTER TABLE interactions_v2 RENAME TO interactions;
CREATE INDEX conversations_customer ON conversations(customer_id, last_at DESC);
CREATE INDEX conversations_open ON conversations(customer_id, last_at DESC) WHERE ended_at IS NULL;
CREATE INDEX interactions_customer_time ON interactions(customer_id, occurred_at DESC, id DESC);
CREATE INDEX interactions_conversation ON interactions(conversation_id, occurred_at)
  WHERE conversation_id IS NOT NULL;
CREATE INDEX interactions_channel_time ON interactions(channel, occurred_at);
)sql";

// Migration 3 (outbound webhooks, issue #9): an outbox row names its target (the webhook) and the
// key its deliveries are ordered by (the customer's public id, which survives erasure of the row
// the customer_id column points at), and records the outcome of the last attempt.
constexpr std::string_view schema_v3 = R"sql(
ALTER TABLE outbox ADD COLUMN target TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN last_http_status INTEGER;
ALTER TABLE outbox ADD COLUMN done_at INTEGER;
-- Head of each (kind, target, order_key) queue: the oldest pending row.
CREATE INDEX outbox_queue ON outbox(kind, target, order_key, id) WHERE status = 'pending';
-- Listing and pruning by state.
CREATE INDEX outbox_state ON outbox(kind, status, id);
)sql";

// Migration 4 (outbound messages, issues #6/#7/#8): an agent's reply (email / SMS / chat) is an
// outbox row of kind 'message' with its public id (m_...), the outbound interaction it shows as on
// the timeline, and the provider's id once sent (delivery reports find it by that). Status
// 'sending' is committed before each attempt: a row found 'sending' at start-up was interrupted
// mid-attempt and is not resent automatically (it may have been delivered).
constexpr std::string_view schema_v4 = R"sql(
ALTER TABLE outbox ADD COLUMN public_id TEXT;
ALTER TABLE outbox ADD COLUMN interaction_id INTEGER;
ALTER TABLE outbox ADD COLUMN provider_ref TEXT;
CREATE UNIQUE INDEX outbox_public_id ON outbox(public_id) WHERE public_id IS NOT NULL;
CREATE INDEX outbox_provider_ref ON outbox(target, provider_ref) WHERE provider_ref IS NOT NULL;
-- Messages not finished, per (connector, conversation): each conversation's messages go in order.
CREATE INDEX outbox_message_queue ON outbox(target, order_key, id)
  WHERE kind = 'message' AND status IN ('pending', 'sending');
)sql";

constexpr std::array<Migration, 4> all_migrations{{
    {1, "initial schema", schema_v1},
    {2, "timeline write side: links, restorable merges, identifier suggestions, notes", schema_v2},
    {3, "outbound webhooks: outbox targets, ordering keys, attempt outcomes", schema_v3},
    {4, "outbound messages: public ids, timeline links, provider ids", schema_v4},
}};

bool table_exists(Database& db, std::string_view name) {
  Statement statement =
      db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1");
  statement.bind(1, name);
  return statement.step();
}

}  // namespace

std::span<const Migration> migrations() noexcept { return all_migrations; }

int latest_schema_version() noexcept { return all_migrations.back().version; }

int current_schema_version(Database& db) {
  if (!table_exists(db, "schema_migrations")) return 0;
  return static_cast<int>(
      db.query_value<std::int64_t>("SELECT coalesce(max(version), 0) FROM schema_migrations")
          .value_or(0));
}

int migrate(Database& db, std::span<const Migration> list) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].version != static_cast<int>(i) + 1) {
      throw StoreError(StatusCode::internal, "migrations must be numbered 1, 2, ... in order");
    }
  }
  const int latest = list.empty() ? 0 : list.back().version;

  Transaction transaction(db, Transaction::Kind::immediate);

  const auto app_id = db.query_value<std::int64_t>("PRAGMA application_id").value_or(0);
  if (app_id != 0 && app_id != application_id) {
    throw StoreError(StatusCode::not_our_database,
                     "'" + db.path() + "' is an SQLite database of another application " +
                         "(application_id " + std::to_string(app_id) +
                         "); point storage.sqlite_path at a new file");
  }
  int current = current_schema_version(db);
  if (current == 0 && app_id == 0 &&
      db.query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema").value_or(0) > 0) {
    throw StoreError(StatusCode::not_our_database,
                     "'" + db.path() + "' already holds tables that Omnitrail did not create; " +
                         "point storage.sqlite_path at a new file");
  }
  if (current > latest) {
    throw StoreError(StatusCode::schema_too_new,
                     "database '" + db.path() + "' has schema version " + std::to_string(current) +
                         " but this omnitraild knows only up to version " + std::to_string(latest) +
                         "; it was written by a newer omnitraild: upgrade omnitraild, or restore a "
                         "backup made before the upgrade");
  }
  if (current == latest) return current;  // nothing to do; the transaction rolls back (no-op)

  db.exec(R"sql(
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      applied_at INTEGER NOT NULL
    ))sql");
  db.exec("PRAGMA application_id = " + std::to_string(application_id));

  Statement record = db.prepare("INSERT INTO schema_migrations(version, applied_at) VALUES (?1, ?2)");
  for (const Migration& migration : list) {
    if (migration.version <= current) continue;
    try {
      db.exec(migration.sql);
    } catch (const StoreError& error) {
      throw StoreError(error.status().code(),
                       "migration " + std::to_string(migration.version) + " (" +
                           std::string(migration.description) + ") failed: " +
                           error.status().message(),
                       error.status().sqlite_code());
    }
    record.bind_all(migration.version, unix_millis_now()).run();
  }
  transaction.commit();
  return latest;
}

}  // namespace omnitrail::store
