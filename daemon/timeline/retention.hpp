// Retention: deletes interactions older than a per-channel number of days, in bounded batches
// so one write job never holds the writer for long.
// Thread contract: writer thread only (inside a store write job).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "daemon/store/store.hpp"

namespace omnitrail::timeline {

/// Deletes up to `max_rows` interactions whose channel is a key of `days_by_channel` and whose
/// occurred_at is more than that many days before `now_ms` (oldest first; channels in map
/// order), then the conversations of those interactions that have no interaction left.
/// A channel with days <= 0 keeps everything; channels not listed are untouched. Customers and
/// identities are kept. Returns how many interactions were deleted: the caller runs further
/// jobs while it returns `max_rows` (0 deletes nothing). Throws StoreError from SQLite.
std::size_t apply_retention(store::WriteContext& w, const std::map<std::string, int>& days_by_channel,
                            std::int64_t now_ms, std::size_t max_rows);

}  // namespace omnitrail::timeline
