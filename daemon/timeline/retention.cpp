// Per-channel retention sweep; see retention.hpp.
#include "daemon/timeline/retention.hpp"

#include <set>
#include <vector>

namespace omnitrail::timeline {

std::size_t apply_retention(store::WriteContext& w, const std::map<std::string, int>& days_by_channel,
                            std::int64_t now_ms, std::size_t max_rows) {
  constexpr std::int64_t day_ms = 24LL * 60 * 60 * 1000;
  std::size_t deleted = 0;
  std::set<std::int64_t> conversations;
  for (const auto& [channel, days] : days_by_channel) {
    if (days <= 0 || deleted >= max_rows) continue;
    const std::int64_t cutoff = now_ms - static_cast<std::int64_t>(days) * day_ms;
    // Uses interactions_channel_time; ids first, so the batch size is exact.
    store::Statement& select = w.statement(
        "SELECT id, conversation_id FROM interactions WHERE channel = ?1 AND occurred_at < ?2 "
        "ORDER BY occurred_at, id LIMIT ?3");
    select.bind_all(channel, cutoff, static_cast<std::int64_t>(max_rows - deleted));
    std::vector<std::int64_t> ids;
    while (select.step()) {
      ids.push_back(select.column<std::int64_t>(0));
      if (!select.is_null(1)) conversations.insert(select.column<std::int64_t>(1));
    }
    select.reset();
    store::Statement& remove = w.statement("DELETE FROM interactions WHERE id = ?1");
    for (std::int64_t id : ids) remove.bind(1, id).run();
    deleted += ids.size();
  }
  store::Statement& orphan = w.statement(
      "DELETE FROM conversations WHERE id = ?1 AND NOT EXISTS "
      "(SELECT 1 FROM interactions WHERE conversation_id = ?1)");
  for (std::int64_t id : conversations) orphan.bind(1, id).run();
  return deleted;
}

}  // namespace omnitrail::timeline
