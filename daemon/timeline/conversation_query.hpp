// Reading one connector's conversation back: what a chat connector needs to resume a chat after a
// restart (or a reload that restarted it) from the timeline itself, the single source of truth.
// Thread contract: as queries.hpp (a store read job; never an io thread).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "daemon/store/database.hpp"

namespace omnitrail::timeline {

/// The conversation (source, key):
/// {"conversation_id": "v_..." | null, "customer_id": survivor "c_..." | null, "ended": bool,
///  "items": [interaction JSON (queries.hpp), oldest first: the last `limit` (clamped 1..1000)]}.
/// An unknown conversation gives conversation_id null and no items (not an error). One snapshot.
nlohmann::json conversation_transcript(store::Database& db, const std::string& source, const std::string& key,
                                       int limit);

}  // namespace omnitrail::timeline
