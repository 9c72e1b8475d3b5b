// Connector checkpoints (IMAP UIDVALIDITY:UID, a poll cursor...) in table connector_state. Written
// by a write job in the same transaction as the interactions they cover, so that a checkpoint
// never runs ahead of the data. Thread contract: the thread that owns `db` (writer thread for
// put_connector_state, any store thread for get_connector_state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/store/database.hpp"

namespace omnitrail::store {

/// Sets (inserts or replaces) the value of (connector, key). Throws StoreError.
void put_connector_state(Database& db, std::string_view connector, std::string_view key,
                         std::string_view value, std::int64_t now_ms);

/// The value of (connector, key), or nullopt when never set. Throws StoreError.
std::optional<std::string> get_connector_state(Database& db, std::string_view connector,
                                               std::string_view key);

}  // namespace omnitrail::store
