// Read-side queries (see queries.hpp) and the building blocks the customer view and the export
// share: snapshots, survivor resolution, interaction rows -> JSON, cursors, time formatting.
#include "daemon/timeline/queries.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <limits>
#include <set>
#include <utility>

#include "daemon/store/status.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::timeline {

using store::Database;
using store::Statement;
using store::StatusCode;
using store::StoreError;
using Json = nlohmann::json;

namespace read_detail {
namespace {

constexpr int max_merge_hops = 64;
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();

[[noreturn]] void throw_not_found(const std::string& what) {
  throw StoreError(StatusCode::not_found, what);
}

[[noreturn]] void throw_invalid(const std::string& what) {
  throw StoreError(StatusCode::invalid_argument, what);
}

// A short, safe rendering of user input for error messages.
std::string quote_input(std::string_view value) {
  std::string cut(value.substr(0, 64));
  Json text = sanitize_utf8(cut);
  return text.dump() + (value.size() > 64 ? "..." : "");
}

// Length of the valid UTF-8 sequence at text[i], or 0 when the bytes there are not one.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += base64url_alphabet[(buffer >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += base64url_alphabet[(buffer << (6 - bits)) & 0x3F];
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const auto position = base64url_alphabet.find(c);
    if (position == std::string_view::npos) return std::nullopt;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(position);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  // Leftover bits must be zero, so every byte string has exactly one encoding.
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

// Follows merged_into from row `row_id`. nullopt when the row is missing or erased on the way.
std::optional<ResolvedCustomer> follow_from_row(Database& db, std::int64_t row_id,
                                                const std::string& label) {
  ResolvedCustomer result;
  std::set<std::int64_t> seen;
  std::int64_t current = row_id;
  for (int hop = 0; hop <= max_merge_hops; ++hop) {
    if (!seen.insert(current).second) {
      throw StoreError(StatusCode::internal, "customer " + label + ": merge chain is cyclic");
    }
    StatementScope row(db.cached(
        "SELECT public_id, merged_into, erased_at FROM customers WHERE id = ?1"));
    row->bind(1, current);
    if (!row->step()) return std::nullopt;
    if (!row->is_null(2)) return std::nullopt;  // erased
    if (row->is_null(1)) {
      result.row_id = current;
      result.public_id = row->column<std::string>(0);
      result.merged = hop > 0;
      return result;
    }
    current = row->column<std::int64_t>(1);
  }
  throw StoreError(StatusCode::internal,
                   "customer " + label + ": merge chain longer than " +
                       std::to_string(max_merge_hops));
}

}  // namespace

ReadSnapshot::ReadSnapshot(Database& db) {
  if (!db.in_transaction()) transaction_.emplace(db, store::Transaction::Kind::deferred);
}

ReadSnapshot::~ReadSnapshot() = default;  // the Transaction rolls back: nothing was written

std::string sanitize_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t len = utf8_sequence_length(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

Json text_or_null(const Statement& row, int column) {
  if (row.is_null(column)) return nullptr;
  return sanitize_utf8(row.column<std::string>(column));
}

Json json_column(const Statement& row, int column) {
  if (row.is_null(column)) return nullptr;
  Json parsed = Json::parse(row.column<std::string>(column), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return nullptr;
  return parsed;
}

Json time_or_null(const Statement& row, int column) {
  if (row.is_null(column)) return nullptr;
  return format_time(row.column<std::int64_t>(column));
}

std::string encode_cursor(std::string_view tag, Json values) {
  Json array = Json::array();
  array.push_back(std::string(tag));
  for (auto& value : values) array.push_back(std::move(value));
  // Replacement keeps a (rare) name with invalid UTF-8 from throwing; dump() is deterministic.
  return base64url_encode(array.dump(-1, ' ', false, Json::error_handler_t::replace));
}

Json decode_cursor(std::string_view tag, const std::string& cursor) {
  const std::string problem = "cursor: not a cursor returned by this endpoint (start without one)";
  if (cursor.size() > 2048) throw_invalid(problem);
  const auto bytes = base64url_decode(cursor);
  if (!bytes) throw_invalid(problem);
  Json parsed = Json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_array() || parsed.empty() || !parsed[0].is_string() ||
      parsed[0].get<std::string>() != tag) {
    throw_invalid(problem);
  }
  parsed.erase(parsed.begin());
  return parsed;
}

ResolvedCustomer resolve(Database& db, const std::string& public_id) {
  const std::string label = quote_input(public_id);
  std::int64_t row_id = 0;
  {
    StatementScope row(db.cached("SELECT id FROM customers WHERE public_id = ?1"));
    row->bind(1, public_id);
    if (!row->step()) throw_not_found("customer " + label + " not found");
    row_id = row->column<std::int64_t>(0);
  }
  auto resolved = follow_from_row(db, row_id, label);
  if (!resolved) throw_not_found("customer " + label + " not found");
  return *resolved;
}

std::optional<std::string> survivor_of_row(Database& db, std::int64_t row_id) {
  auto resolved = follow_from_row(db, row_id, "#" + std::to_string(row_id));
  if (!resolved) return std::nullopt;
  return resolved->public_id;
}

std::vector<FamilyMember> family_of(Database& db, std::int64_t survivor) {
  // UNION (not UNION ALL) makes the recursion stop on a cycle.
  StatementScope rows(db.cached(
      "WITH RECURSIVE family(id) AS ("
      "  SELECT ?1 UNION"
      "  SELECT c.id FROM customers AS c JOIN family AS f ON c.merged_into = f.id"
      "  WHERE c.erased_at IS NULL) "
      "SELECT c.id, c.public_id FROM family AS f JOIN customers AS c ON c.id = f.id "
      "ORDER BY c.id"));
  rows->bind(1, survivor);
  std::vector<FamilyMember> family;
  while (rows->step()) {
    family.push_back({rows->column<std::int64_t>(0), rows->column<std::string>(1)});
  }
  return family;
}

std::string row_ids_json(const std::vector<FamilyMember>& family) {
  Json ids = Json::array();
  for (const auto& member : family) ids.push_back(member.row_id);
  return ids.dump();
}

Json identities_json(Database& db, std::int64_t customer_row, bool short_form) {
  struct Row {
    int tier;
    std::int64_t first_seen;
    std::int64_t id;
    Json json;
  };
  std::vector<Row> rows;
  {
    StatementScope statement(db.cached(hot_queries().identities));
    statement->bind(1, customer_row);
    while (statement->step()) {
      Statement& s = *statement;
      const std::string kind = s.column<std::string>(1);
      const auto parsed = identity::parse_identifier_kind(kind);
      const int tier = parsed ? static_cast<int>(identity::tier_of(*parsed)) : 99;
      Json item;
      item["kind"] = sanitize_utf8(kind);
      item["value"] = text_or_null(s, 3);
      item["key"] = text_or_null(s, 2);
      if (!short_form) {
        item["id"] = s.column<std::int64_t>(0);
        item["trust"] = text_or_null(s, 4);
        item["source"] = text_or_null(s, 5);
        item["first_seen"] = time_or_null(s, 6);
        item["last_seen"] = time_or_null(s, 7);
      }
      rows.push_back({tier, s.column<std::int64_t>(6), s.column<std::int64_t>(0), std::move(item)});
    }
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.tier, a.first_seen, a.id) < std::tie(b.tier, b.first_seen, b.id);
  });
  Json out = Json::array();
  for (auto& row : rows) out.push_back(std::move(row.json));
  return out;
}

const std::string_view interaction_select =
    "SELECT i.public_id, c.public_id, v.public_id, i.channel, i.direction, i.kind, "
    "i.occurred_at, i.source, i.external_id, i.from_raw, i.from_key, i.to_raw, i.to_key, "
    "i.agent, i.subject, i.text, i.text_truncated, i.metadata, i.id "
    "FROM interactions AS i LEFT JOIN customers AS c ON c.id = i.customer_id "
    "LEFT JOIN conversations AS v ON v.id = i.conversation_id ";

Json interaction_from_row(const Statement& row) {
  Json item;
  item["id"] = text_or_null(row, 0);
  item["customer_id"] = text_or_null(row, 1);
  item["conversation_id"] = text_or_null(row, 2);
  item["channel"] = text_or_null(row, 3);
  item["direction"] = text_or_null(row, 4);
  item["kind"] = text_or_null(row, 5);
  item["occurred_at"] = time_or_null(row, 6);
  item["source"] = text_or_null(row, 7);
  item["external_id"] = text_or_null(row, 8);
  item["from"] = Json{{"raw", text_or_null(row, 9)}, {"key", text_or_null(row, 10)}};
  item["to"] = Json{{"raw", text_or_null(row, 11)}, {"key", text_or_null(row, 12)}};
  item["agent"] = text_or_null(row, 13);
  item["subject"] = text_or_null(row, 14);
  item["text"] = text_or_null(row, 15);
  item["text_truncated"] = row.column<bool>(16);
  Json metadata = json_column(row, 17);
  item["metadata"] = metadata.is_null() ? Json::object() : std::move(metadata);
  return item;
}

const HotQueries& hot_queries() noexcept {
  // Every statement below is checked with EXPLAIN QUERY PLAN in
  // tests/unit/timeline_read/query_plan_test.cpp.
  static const std::string recent =
      std::string(interaction_select) +
      "WHERE i.customer_id = ?1 ORDER BY i.occurred_at DESC, i.id DESC LIMIT ?2";
  static const std::string page =
      std::string(interaction_select) +
      "WHERE i.customer_id = ?1 AND i.occurred_at >= ?2 AND i.occurred_at < ?3 "
      "AND (?4 IS NULL OR i.channel IN (SELECT value FROM json_each(?4))) "
      "AND (i.occurred_at, i.id) < (?5, ?6) "
      "ORDER BY i.occurred_at DESC, i.id DESC LIMIT ?7";
  static const HotQueries queries{
      recent,
      // A contact is a conversation (counted once per channel, whatever its direction) or an
      // inbound interaction outside any conversation. Windows have no upper bound, so an
      // interaction stamped slightly in the future by a peer's clock still counts.
      "SELECT channel, "
      "  count(DISTINCT conversation_id)"
      "    + sum(conversation_id IS NULL AND direction = 'inbound'), "
      "  count(DISTINCT CASE WHEN occurred_at >= ?2 THEN conversation_id END)"
      "    + sum(conversation_id IS NULL AND direction = 'inbound' AND occurred_at >= ?2), "
      "  count(DISTINCT CASE WHEN occurred_at >= ?3 THEN conversation_id END)"
      "    + sum(conversation_id IS NULL AND direction = 'inbound' AND occurred_at >= ?3), "
      "  count(DISTINCT CASE WHEN occurred_at >= ?4 THEN conversation_id END)"
      "    + sum(conversation_id IS NULL AND direction = 'inbound' AND occurred_at >= ?4), "
      "  max(CASE WHEN conversation_id IS NOT NULL OR direction = 'inbound'"
      "      THEN occurred_at END), "
      "  min(occurred_at), max(occurred_at) "
      "FROM interactions WHERE customer_id = ?1 GROUP BY channel ORDER BY channel",
      page,
      "SELECT id, kind, key, raw, trust, source, first_seen, last_seen "
      "FROM identities WHERE customer_id = ?1",
      "SELECT public_id, channel, key, source, started_at, last_at FROM conversations "
      "WHERE customer_id = ?1 AND ended_at IS NULL ORDER BY last_at DESC, id LIMIT ?2",
  };
  return queries;
}

}  // namespace read_detail

using namespace read_detail;

namespace {

// Trims ASCII whitespace at both ends.
std::string trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

// `text` with LIKE's special characters escaped for `ESCAPE '\'`, followed by '%'.
std::string like_prefix(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  for (char c : text) {
    if (c == '\\' || c == '%' || c == '_') out += '\\';
    out += c;
  }
  out += '%';
  return out;
}

// The phone-number forms of a phone-like query: an E.164 prefix and a national-number prefix.
struct PhoneForms {
  std::optional<std::string> e164_prefix;
  std::optional<std::string> national_prefix;
};

PhoneForms phone_forms(std::string_view q) {
  std::string digits;
  for (char c : q) {
    if (c >= '0' && c <= '9') {
      digits += c;
    } else if (c != ' ' && c != '-' && c != '(' && c != ')' && c != '.' && c != '/' && c != '+') {
      return {};  // not phone-like
    }
  }
  if (digits.size() < 3) return {};
  const bool plus = !q.empty() && q.front() == '+';
  PhoneForms forms;
  if (plus) {
    forms.e164_prefix = "+" + digits + "%";
    return forms;
  }
  if (digits.rfind("00", 0) == 0) {
    forms.e164_prefix = "+" + digits.substr(2) + "%";  // international prefix typed as 00
  } else {
    forms.e164_prefix = "+" + digits + "%";  // country code typed without "+"
  }
  // National form: drop the trunk prefix (leading zeros) to compare with the national number.
  const auto first = digits.find_first_not_of('0');
  if (first != std::string::npos && digits.size() - first >= 3) {
    forms.national_prefix = digits.substr(first) + "%";
  }
  return forms;
}

int clamp_limit(int limit, int high) { return std::clamp(limit, 1, high); }

std::optional<std::string> owner_of(Database& db, identity::IdentifierKind kind,
                                    const std::string& key) {
  std::int64_t owner = 0;
  {
    StatementScope row(
        db.cached("SELECT customer_id FROM identities WHERE kind = ?1 AND key = ?2"));
    row->bind_all(identity::to_string(kind), key);
    if (!row->step()) return std::nullopt;
    owner = row->column<std::int64_t>(0);
  }
  return survivor_of_row(db, owner);
}

}  // namespace

std::string format_time(std::int64_t unix_ms) {
  // 0000-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z, the range RFC 3339 can express.
  constexpr std::int64_t min_ms = -62167219200000;
  constexpr std::int64_t max_ms = 253402300799999;
  unix_ms = std::clamp(unix_ms, min_ms, max_ms);
  constexpr std::int64_t day_ms = 86400000;
  std::int64_t days = unix_ms / day_ms;
  std::int64_t in_day = unix_ms % day_ms;
  if (in_day < 0) {
    in_day += day_ms;
    --days;
  }
  // civil_from_days (H. Hinnant): proleptic Gregorian date of a day count since 1970-01-01.
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buffer[96];  // ample: the compiler cannot see that every field is in range
  std::snprintf(buffer, sizeof buffer, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(year), static_cast<long long>(month),
                static_cast<long long>(day), static_cast<long long>(in_day / 3600000),
                static_cast<long long>(in_day / 60000 % 60),
                static_cast<long long>(in_day / 1000 % 60), static_cast<long long>(in_day % 1000));
  return buffer;
}

std::optional<std::string> find_customer_by_key(Database& db, identity::IdentifierKind kind,
                                                const std::string& key) {
  ReadSnapshot snapshot(db);
  return owner_of(db, kind, key);
}

Json lookup(Database& db, const identity::Normalizer& normalizer, const std::string& raw,
            std::optional<identity::IdentifierKind> kind, const std::string& region) {
  using identity::IdentifierKind;
  std::vector<identity::NormalizeResult> candidates;
  if (kind) {
    switch (*kind) {
      case IdentifierKind::phone:
        candidates.push_back(normalizer.phone(raw, region));
        break;
      case IdentifierKind::email:
        candidates.push_back(normalizer.email(raw));
        break;
      default:
        candidates.push_back(normalizer.other(*kind, raw));
        break;
    }
  } else {
    if (raw.find('@') != std::string::npos) {
      candidates.push_back(normalizer.email(raw));
    } else {
      candidates.push_back(normalizer.phone(raw, region));
    }
    candidates.push_back(normalizer.other(IdentifierKind::external, raw));
  }

  ReadSnapshot snapshot(db);
  bool any_valid = false;
  for (const auto& candidate : candidates) {
    if (!candidate.ok()) continue;
    any_valid = true;
    const auto& identifier = candidate.identifier();
    if (auto owner = owner_of(db, identifier.kind, identifier.key)) {
      return Json{{"customer_id", *owner},
                  {"matched",
                   {{"kind", std::string(identity::to_string(identifier.kind))},
                    {"key", sanitize_utf8(identifier.key)}}}};
    }
  }
  if (!any_valid) {
    const auto& first = candidates.front();
    throw_invalid("value: " + quote_input(raw) + " is not an identifier (" +
                  std::string(identity::to_string(first.reason())) + ": " + first.text() + ")");
  }
  throw_not_found("no customer has the identifier " + quote_input(raw));
}

Json search(Database& db, const std::string& q, int limit, const std::string& cursor) {
  const std::string query = trim(q);
  if (query.empty()) throw_invalid("q: must not be empty");
  if (query.size() > 256) throw_invalid("q: longer than 256 bytes");
  limit = clamp_limit(limit, 100);

  // Sort key (unnamed, lower-cased name, row id); the cursor holds the last one returned.
  std::int64_t after_unnamed = -1;
  std::string after_name;
  std::int64_t after_id = 0;
  if (!cursor.empty()) {
    const Json values = decode_cursor("s", cursor);
    if (values.size() != 3 || !values[0].is_number_integer() || !values[1].is_string() ||
        !values[2].is_number_integer()) {
      throw_invalid("cursor: not a cursor returned by this endpoint (start without one)");
    }
    after_unnamed = values[0].get<std::int64_t>();
    after_name = values[1].get<std::string>();
    after_id = values[2].get<std::int64_t>();
  }
  const PhoneForms phone = phone_forms(query);

  ReadSnapshot snapshot(db);
  struct Hit {
    std::int64_t row_id;
    std::int64_t unnamed;
    std::string sort_name;
    Json item;
  };
  std::vector<Hit> hits;
  {
    StatementScope rows(db.cached(
        "WITH matches(customer_id) AS ("
        "  SELECT id FROM customers WHERE display_name LIKE ?1 ESCAPE '\\'"
        "  UNION"
        "  SELECT customer_id FROM identities"
        "  WHERE key LIKE ?1 ESCAPE '\\' OR raw LIKE ?1 ESCAPE '\\'"
        "  UNION"
        "  SELECT customer_id FROM identities WHERE kind = 'phone'"
        "  AND (key LIKE ?2 ESCAPE '\\' OR suggestion_key LIKE ?3 ESCAPE '\\')) "
        "SELECT c.id, c.public_id, c.display_name,"
        "  coalesce(c.display_name, '') = '' AS unnamed,"
        "  lower(coalesce(c.display_name, '')) AS sort_name "
        "FROM matches AS m JOIN customers AS c ON c.id = m.customer_id "
        "WHERE c.merged_into IS NULL AND c.erased_at IS NULL"
        "  AND (coalesce(c.display_name, '') = '', lower(coalesce(c.display_name, '')), c.id)"
        "    > (?4, ?5, ?6) "
        "ORDER BY 4, 5, 1 LIMIT ?7"));
    rows->bind_all(like_prefix(query), phone.e164_prefix, phone.national_prefix, after_unnamed,
                   after_name, after_id, limit + 1);
    while (rows->step()) {
      Statement& s = *rows;
      hits.push_back({s.column<std::int64_t>(0), s.column<std::int64_t>(3),
                      s.column<std::string>(4),
                      Json{{"id", text_or_null(s, 1)}, {"display_name", text_or_null(s, 2)}}});
    }
  }
  Json result;
  result["next_cursor"] = nullptr;
  if (hits.size() > static_cast<std::size_t>(limit)) {
    hits.pop_back();
    const Hit& last = hits.back();
    result["next_cursor"] = encode_cursor("s", Json::array({last.unnamed, last.sort_name,
                                                           last.row_id}));
  }
  Json items = Json::array();
  for (auto& hit : hits) {
    hit.item["identities"] = identities_json(db, hit.row_id, /*short_form=*/true);
    items.push_back(std::move(hit.item));
  }
  result["items"] = std::move(items);
  return result;
}

Json timeline(Database& db, const std::string& customer_id, const TimelineFilter& filter) {
  const auto& known = channels();
  Json channel_list = Json::array();
  for (const auto& channel : filter.channels) {
    if (std::find(known.begin(), known.end(), channel) == known.end()) {
      std::string names;
      for (const auto& name : known) names += (names.empty() ? "" : ", ") + name;
      throw_invalid("channels: " + quote_input(channel) + " is not one of " + names);
    }
    channel_list.push_back(channel);
  }
  const std::int64_t since = filter.since_ms.value_or(read_detail::int64_min);
  const std::int64_t until = filter.until_ms.value_or(read_detail::int64_max);
  if (filter.since_ms && filter.until_ms && since >= until) {
    throw_invalid("since: must be before until");
  }
  const int limit = clamp_limit(filter.limit, 200);
  std::int64_t after_at = read_detail::int64_max;
  std::int64_t after_id = read_detail::int64_max;
  if (!filter.cursor.empty()) {
    const Json values = decode_cursor("t", filter.cursor);
    if (values.size() != 2 || !values[0].is_number_integer() || !values[1].is_number_integer()) {
      throw_invalid("cursor: not a cursor returned by this endpoint (start without one)");
    }
    after_at = values[0].get<std::int64_t>();
    after_id = values[1].get<std::int64_t>();
  }

  ReadSnapshot snapshot(db);
  const ResolvedCustomer who = resolve(db, customer_id);
  Json items = Json::array();
  std::int64_t last_at = 0;
  std::int64_t last_id = 0;
  bool more = false;
  {
    StatementScope rows(db.cached(hot_queries().timeline_page));
    std::optional<std::string> channel_json;
    if (!channel_list.empty()) channel_json = channel_list.dump();
    rows->bind_all(who.row_id, since, until, channel_json, after_at, after_id, limit + 1);
    while (rows->step()) {
      if (items.size() == static_cast<std::size_t>(limit)) {
        more = true;
        break;
      }
      items.push_back(interaction_from_row(*rows));
      last_at = rows->column<std::int64_t>(6);
      last_id = rows->column<std::int64_t>(18);
    }
  }
  Json result;
  result["customer_id"] = who.public_id;
  result["items"] = std::move(items);
  result["next_cursor"] =
      more ? Json(encode_cursor("t", Json::array({last_at, last_id}))) : Json(nullptr);
  return result;
}

Json list_suggestions(Database& db, std::string status, int limit, const std::string& cursor) {
  if (!status.empty() && status != "pending" && status != "accepted" && status != "rejected") {
    throw_invalid("status: " + quote_input(status) + " is not one of pending, accepted, rejected");
  }
  limit = clamp_limit(limit, 100);
  std::int64_t after_id = 0;
  if (!cursor.empty()) {
    const Json values = decode_cursor("g", cursor);
    if (values.size() != 1 || !values[0].is_number_integer()) {
      throw_invalid("cursor: not a cursor returned by this endpoint (start without one)");
    }
    after_id = values[0].get<std::int64_t>();
  }
  std::optional<std::string> status_filter;
  if (!status.empty()) status_filter = std::move(status);

  ReadSnapshot snapshot(db);
  struct Row {
    std::int64_t id, a;
    std::optional<std::int64_t> b;  // NULL since schema v2: a suggestion about an identifier
    Json item;
  };
  std::vector<Row> rows;
  {
    StatementScope statement(db.cached(
        "SELECT id, status, customer_a, customer_b, reason, evidence, created_at, decided_at,"
        " decided_by FROM suggestions WHERE (?1 IS NULL OR status = ?1) AND id > ?2"
        " ORDER BY id LIMIT ?3"));
    statement->bind_all(status_filter, after_id, limit + 1);
    while (statement->step()) {
      Statement& s = *statement;
      Json item{{"id", s.column<std::int64_t>(0)},     {"status", text_or_null(s, 1)},
                {"reason", text_or_null(s, 4)},        {"evidence", json_column(s, 5)},
                {"created_at", time_or_null(s, 6)},    {"decided_at", time_or_null(s, 7)},
                {"decided_by", text_or_null(s, 8)}};
      rows.push_back({s.column<std::int64_t>(0), s.column<std::int64_t>(2),
                      s.column<std::optional<std::int64_t>>(3), std::move(item)});
    }
  }
  Json result;
  result["next_cursor"] = nullptr;
  if (rows.size() > static_cast<std::size_t>(limit)) {
    rows.pop_back();
    result["next_cursor"] = encode_cursor("g", Json::array({rows.back().id}));
  }
  Json items = Json::array();
  for (auto& row : rows) {
    const auto a = survivor_of_row(db, row.a);
    const auto b = row.b ? survivor_of_row(db, *row.b) : std::nullopt;
    row.item["customer_a"] = a ? Json(*a) : Json(nullptr);
    row.item["customer_b"] = b ? Json(*b) : Json(nullptr);
    items.push_back(std::move(row.item));
  }
  result["items"] = std::move(items);
  return result;
}

Json get_interaction(Database& db, const std::string& public_id) {
  ReadSnapshot snapshot(db);
  StatementScope row(db.cached(std::string(interaction_select) + "WHERE i.public_id = ?1"));
  row->bind(1, public_id);
  if (!row->step()) throw_not_found("interaction " + quote_input(public_id) + " not found");
  return interaction_from_row(*row);
}

}  // namespace omnitrail::timeline
