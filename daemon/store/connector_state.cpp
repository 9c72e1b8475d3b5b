// Connector checkpoints; see connector_state.hpp.
#include "daemon/store/connector_state.hpp"

namespace omnitrail::store {

void put_connector_state(Database& db, std::string_view connector, std::string_view key,
                         std::string_view value, std::int64_t now_ms) {
  db.cached(
        "INSERT INTO connector_state(connector, key, value, updated_at) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT(connector, key) DO UPDATE SET value = excluded.value, "
        "updated_at = excluded.updated_at")
      .bind_all(connector, key, value, now_ms)
      .run();
}

std::optional<std::string> get_connector_state(Database& db, std::string_view connector,
                                               std::string_view key) {
  Statement& statement =
      db.cached("SELECT value FROM connector_state WHERE connector = ?1 AND key = ?2");
  statement.bind_all(connector, key);
  std::optional<std::string> value;
  if (statement.step()) value = statement.column<std::string>(0);
  statement.reset();
  return value;
}

}  // namespace omnitrail::store
