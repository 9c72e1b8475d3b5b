// Interaction: the normalised event every connector (and POST /api/v1/interactions) produces,
// and the small value types shared by ingest, the customer operations and the queries.
// Plain values; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/identity/normalizer.hpp"

namespace omnitrail::timeline {

/// An identifier the contact carries for the CUSTOMER side (caller id, email From, SMS sender,
/// verified chat user...), as received; ingest normalises it.
struct IdentifierClaim {
  identity::IdentifierKind kind = identity::IdentifierKind::phone;
  std::string raw;
  identity::Trust trust = identity::Trust::claimed;
};

struct Interaction {
  std::string channel;    // phone | email | sms | chat | api | note
  std::string direction;  // inbound | outbound
  std::string kind;       // call.ringing, email.received, sms.sent, chat.message, note ...
  std::int64_t occurred_at_ms = 0;  // UTC
  std::string source;       // connector name, "api" or "console"
  std::string external_id;  // the peer's stable id; (source, external_id) is unique
  std::string conversation_key;  // call Linkedid, email thread root, chat session, SMS number pair
  std::string from;  // raw addresses as received (kept on the interaction even when not identifiers)
  std::string to;
  std::string agent;  // agent id involved, if any
  std::string subject;
  std::string text;   // bounded by storage.max_text_bytes at ingest (text_truncated set)
  std::string metadata_json = "{}";  // a JSON object
  std::vector<IdentifierClaim> customer_identifiers;
  std::string customer_display_name;  // e.g. caller id name, email display name; may be empty
  std::string region;                 // phone region override (connector); empty: default_region
  bool ends_conversation = false;     // call.ended, chat.ended ...
  /// When set, attach to this customer (public id) instead of resolving identifiers (notes, agent
  /// replies); identifiers are still attached to it.
  std::string customer_id;
};

/// Who asked for a change (journal and audit); never a token.
struct Actor {
  std::string id;    // agent id, "admin", connector name, or "system"
  std::string role;  // agent | admin | system
};

}  // namespace omnitrail::timeline

namespace omnitrail::timeline {

/// Checks an interaction's fields before ingest: known channel and direction, a kind of
/// lower-case dotted words, a positive time, non-empty source and external_id (<= 512 bytes),
/// metadata that is a JSON object, valid UTF-8 in text fields. Returns "" when valid, else one
/// message naming the field (e.g. `channel: "fax" is not one of phone, email, sms, chat, api, note`).
std::string validate(const Interaction& interaction);

/// The channels an interaction may have.
const std::vector<std::string>& channels();

/// True when `text` is valid UTF-8 (no overlong forms, no surrogates).
bool is_valid_utf8(std::string_view text);

/// Cuts `text` to at most `max_bytes` without splitting a UTF-8 sequence; returns true if it cut.
bool truncate_utf8(std::string& text, std::size_t max_bytes);

}  // namespace omnitrail::timeline
