#include <algorithm>

#include "daemon/timeline/conversation_query.hpp"
#include "daemon/timeline/queries.hpp"

namespace omnitrail::timeline {

using nlohmann::json;
using namespace read_detail;

json conversation_transcript(store::Database& db, const std::string& source, const std::string& key, int limit) {
  limit = std::clamp(limit, 1, 1000);
  ReadSnapshot snapshot(db);
  json out{{"conversation_id", nullptr}, {"customer_id", nullptr}, {"ended", false}, {"items", json::array()}};
  std::int64_t conversation_row = 0;
  {
    StatementScope row(db.cached("SELECT id, public_id, customer_id, ended_at FROM conversations WHERE source = ?1 AND key = ?2"));
    row->bind(1, source);
    row->bind(2, key);
    if (!row->step()) return out;
    conversation_row = row->column<std::int64_t>(0);
    out["conversation_id"] = text_or_null(*row, 1);
    out["ended"] = !row->is_null(3);
    if (!row->is_null(2)) {
      if (auto survivor = survivor_of_row(db, row->column<std::int64_t>(2))) out["customer_id"] = *survivor;
    }
  }
  // The newest `limit`, read newest first on the conversation index, then put in order.
  StatementScope rows(db.cached(std::string(interaction_select) +
                                "WHERE i.conversation_id = ?1 ORDER BY i.occurred_at DESC, i.id DESC LIMIT ?2"));
  rows->bind(1, conversation_row);
  rows->bind(2, static_cast<std::int64_t>(limit));
  json items = json::array();
  while (rows->step()) items.push_back(interaction_from_row(*rows));
  std::reverse(items.begin(), items.end());
  out["items"] = std::move(items);
  return out;
}

}  // namespace omnitrail::timeline
