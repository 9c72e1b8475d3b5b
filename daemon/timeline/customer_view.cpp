// Builds the customer view with a handful of indexed queries in one read snapshot: the customer
// row, its merge family, identities, per-channel aggregates, the last two inbound contacts, the
// most recent interactions, open conversations and pending suggestions.
#include "daemon/timeline/customer_view.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <tuple>

#include "daemon/store/status.hpp"
#include "daemon/timeline/interaction.hpp"
#include "daemon/timeline/queries.hpp"

namespace omnitrail::timeline {

using store::Database;
using store::Statement;
using Json = nlohmann::json;
using namespace read_detail;

namespace {

constexpr std::int64_t day_ms = 86400000;
constexpr int max_recent_interactions = 200;
constexpr int max_open_conversations = 20;

Json customer_part(Database& db, const ResolvedCustomer& who,
                   const std::vector<FamilyMember>& family) {
  Json customer;
  {
    StatementScope row(db.cached(
        "SELECT public_id, display_name, attributes, created_at FROM customers WHERE id = ?1"));
    row->bind(1, who.row_id);
    if (!row->step()) {
      throw store::StoreError(store::StatusCode::not_found, "customer vanished while reading");
    }
    customer["id"] = text_or_null(*row, 0);
    customer["display_name"] = text_or_null(*row, 1);
    Json attributes = json_column(*row, 2);
    customer["attributes"] = attributes.is_null() ? Json::object() : std::move(attributes);
    customer["created_at"] = time_or_null(*row, 3);
  }
  Json merged_from = Json::array();
  for (const auto& member : family) {
    if (member.row_id != who.row_id) merged_from.push_back(member.public_id);
  }
  customer["merged_from"] = std::move(merged_from);
  return customer;
}

struct ChannelCounts {
  std::int64_t all = 0, d7 = 0, d30 = 0, d90 = 0;
  std::optional<std::int64_t> last_contact;
};

Json stats_part(Database& db, std::int64_t customer_row, std::int64_t now_ms,
                std::chrono::milliseconds repeat_window) {
  std::map<std::string, ChannelCounts> by_channel;
  for (const auto& channel : channels()) {
    if (channel != "note") by_channel[channel];
  }
  std::optional<std::int64_t> first_seen, last_seen;
  {
    StatementScope rows(db.cached(hot_queries().channel_stats));
    rows->bind_all(customer_row, now_ms - 7 * day_ms, now_ms - 30 * day_ms, now_ms - 90 * day_ms);
    while (rows->step()) {
      Statement& s = *rows;
      const auto channel_name = sanitize_utf8(s.column<std::string>(0));
      // An agent's note is not a contact by the customer: it counts nowhere in the stats.
      if (channel_name == "note") continue;
      ChannelCounts& counts = by_channel[channel_name];
      counts.all = s.column<std::int64_t>(1);
      counts.d7 = s.column<std::int64_t>(2);
      counts.d30 = s.column<std::int64_t>(3);
      counts.d90 = s.column<std::int64_t>(4);
      counts.last_contact = s.column<std::optional<std::int64_t>>(5);
      const auto low = s.column<std::int64_t>(6);
      const auto high = s.column<std::int64_t>(7);
      first_seen = first_seen ? std::min(*first_seen, low) : low;
      last_seen = last_seen ? std::max(*last_seen, high) : high;
    }
  }

  Json contacts = Json::object();
  std::int64_t total_7d = 0, total_30d = 0;
  std::optional<std::string> preferred;
  std::tuple<std::int64_t, std::int64_t> preferred_rank{0, 0};
  for (const auto& [channel, counts] : by_channel) {
    contacts[channel] = counts.all;
    total_7d += counts.d7;
    total_30d += counts.d30;
    // Most contacts in 90 days; a tie goes to the channel used most recently, then (map order)
    // to the alphabetically first, so the choice is deterministic.
    if (counts.d90 > 0) {
      const std::tuple<std::int64_t, std::int64_t> rank{counts.d90,
                                                        counts.last_contact.value_or(0)};
      if (!preferred || rank > preferred_rank) {
        preferred = channel;
        preferred_rank = rank;
      }
    }
  }

  bool repeat = false;
  {
    // The start of each inbound contact (a conversation, or a lone inbound interaction), newest
    // first; -id keeps lone interactions apart from conversation ids (both positive).
    StatementScope rows(db.cached(
        "SELECT min(occurred_at) AS started FROM interactions"
        " WHERE customer_id = ?1 AND direction = 'inbound' AND channel <> 'note'"
        " GROUP BY coalesce(conversation_id, -id) ORDER BY started DESC LIMIT 2"));
    rows->bind(1, customer_row);
    std::vector<std::int64_t> starts;
    while (rows->step()) starts.push_back(rows->column<std::int64_t>(0));
    if (starts.size() == 2 && repeat_window.count() > 0) {
      repeat = starts[0] - starts[1] <= repeat_window.count();
    }
  }

  std::int64_t open = 0;
  {
    StatementScope row(db.cached(
        "SELECT count(*) FROM conversations WHERE customer_id = ?1 AND ended_at IS NULL"));
    row->bind(1, customer_row);
    if (row->step()) open = row->column<std::int64_t>(0);
  }

  Json stats;
  stats["first_seen"] = first_seen ? Json(format_time(*first_seen)) : Json(nullptr);
  stats["last_contact"] = last_seen ? Json(format_time(*last_seen)) : Json(nullptr);
  stats["contacts_by_channel"] = std::move(contacts);
  stats["contacts_7d"] = total_7d;
  stats["contacts_30d"] = total_30d;
  stats["preferred_channel"] = preferred ? Json(*preferred) : Json(nullptr);
  stats["repeat_contact"] = repeat;
  stats["open_conversations"] = open;
  return stats;
}

Json recent_part(Database& db, std::int64_t customer_row, int limit) {
  Json items = Json::array();
  if (limit <= 0) return items;
  StatementScope rows(db.cached(hot_queries().recent_interactions));
  rows->bind_all(customer_row, limit);
  while (rows->step()) items.push_back(interaction_from_row(*rows));
  return items;
}

Json open_conversations_part(Database& db, std::int64_t customer_row) {
  Json items = Json::array();
  StatementScope rows(db.cached(hot_queries().open_conversations));
  rows->bind_all(customer_row, max_open_conversations);
  while (rows->step()) {
    Statement& s = *rows;
    items.push_back(Json{{"id", text_or_null(s, 0)},
                         {"channel", text_or_null(s, 1)},
                         {"key", text_or_null(s, 2)},
                         {"source", text_or_null(s, 3)},
                         {"started_at", time_or_null(s, 4)},
                         {"last_at", time_or_null(s, 5)}});
  }
  return items;
}

Json suggestions_part(Database& db, const ResolvedCustomer& who,
                      const std::vector<FamilyMember>& family) {
  struct Row {
    std::optional<std::int64_t> other_row;  // nullopt: a suggestion about an identifier only
    Json item;
  };
  std::vector<Row> rows;
  {
    // Suggestions recorded against a customer since merged into this one concern it too.
    StatementScope statement(db.cached(
        "SELECT id, customer_a, customer_b, reason, evidence, created_at FROM suggestions"
        " WHERE customer_a IN (SELECT value FROM json_each(?1)) AND status = 'pending'"
        " UNION "
        "SELECT id, customer_a, customer_b, reason, evidence, created_at FROM suggestions"
        " WHERE customer_b IN (SELECT value FROM json_each(?1)) AND status = 'pending'"
        " ORDER BY 6, 1"));
    statement->bind(1, row_ids_json(family));
    while (statement->step()) {
      Statement& s = *statement;
      const auto a = s.column<std::int64_t>(1);
      const auto b = s.column<std::optional<std::int64_t>>(2);  // NULL since schema v2
      const bool a_is_ours = std::any_of(family.begin(), family.end(),
                                         [&](const FamilyMember& m) { return m.row_id == a; });
      rows.push_back({a_is_ours ? b : std::optional<std::int64_t>(a),
                      Json{{"id", s.column<std::int64_t>(0)},
                           {"reason", text_or_null(s, 3)},
                           {"evidence", json_column(s, 4)},
                           {"created_at", time_or_null(s, 5)}}});
    }
  }
  Json items = Json::array();
  for (auto& row : rows) {
    if (!row.other_row) {
      // "Add this identifier to the customer?" (e.g. past a limit): there is no other customer.
      row.item["other_customer_id"] = nullptr;
      items.push_back(std::move(row.item));
      continue;
    }
    const auto other = survivor_of_row(db, *row.other_row);
    if (!other || *other == who.public_id) continue;  // erased, or already merged into us
    row.item["other_customer_id"] = *other;
    items.push_back(std::move(row.item));
  }
  return items;
}

// The first identity of `kind` in display order, as `field` ("key" or "value"), or "".
std::string first_identity(const Json& identities, std::string_view kind, const char* field) {
  for (const auto& item : identities) {
    if (item["kind"] == kind && item[field].is_string()) return item[field].get<std::string>();
  }
  return {};
}

}  // namespace

std::string url_encode(const std::string& value) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size() * 3);
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0x0F];
    }
  }
  return out;
}

std::string expand_crm_url(const std::string& url_template, const std::string& customer_id,
                           const std::string& phone, const std::string& email) {
  const std::array<std::pair<std::string_view, const std::string*>, 3> placeholders{{
      {"{customer_id}", &customer_id},
      {"{phone}", &phone},
      {"{email}", &email},
  }};
  std::string out;
  out.reserve(url_template.size() + 64);
  std::size_t i = 0;
  while (i < url_template.size()) {
    bool replaced = false;
    if (url_template[i] == '{') {
      for (const auto& [name, value] : placeholders) {
        if (url_template.compare(i, name.size(), name) == 0) {
          out += url_encode(*value);
          i += name.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += url_template[i++];
  }
  return out;
}

ResolvedId resolve_customer_id(Database& db, const std::string& public_id) {
  ReadSnapshot snapshot(db);
  const ResolvedCustomer who = resolve(db, public_id);
  return ResolvedId{public_id, who.public_id, who.merged};
}

Json customer_view(Database& db, const std::string& public_id, const ViewOptions& options) {
  const std::int64_t now_ms = options.now_ms != 0 ? options.now_ms : store::unix_millis_now();
  const int recent = std::clamp(options.recent_interactions, 0, max_recent_interactions);

  ReadSnapshot snapshot(db);
  const ResolvedCustomer who = resolve(db, public_id);
  const std::vector<FamilyMember> family = family_of(db, who.row_id);

  Json view;
  view["requested_id"] = public_id;
  view["merged"] = who.merged;
  view["customer"] = customer_part(db, who, family);
  view["identities"] = identities_json(db, who.row_id, /*short_form=*/false);
  view["stats"] = stats_part(db, who.row_id, now_ms, options.repeat_contact_window);
  view["recent_interactions"] = recent_part(db, who.row_id, recent);
  view["open_conversations"] = open_conversations_part(db, who.row_id);
  view["suggestions"] = suggestions_part(db, who, family);

  Json links = Json::object();
  if (!options.crm_url_template.empty()) {
    const Json& identities = view["identities"];
    links["crm"] = expand_crm_url(options.crm_url_template, who.public_id,
                                  first_identity(identities, "phone", "key"),
                                  first_identity(identities, "email", "value"));
  }
  view["links"] = std::move(links);
  return view;
}

}  // namespace omnitrail::timeline
