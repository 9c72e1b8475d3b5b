#include "daemon/reload_plan.hpp"

#include <map>

namespace omnitrail {

ReloadPlan plan_reload(const config::Config& current, const config::Config& next) {
  ReloadPlan plan;
  std::map<std::string, const config::ConnectorConfig*> old_by_name;
  for (const auto& c : current.connectors) {
    if (c.enabled) old_by_name[c.name] = &c;
  }
  for (const auto& c : next.connectors) {
    if (!c.enabled) continue;
    auto it = old_by_name.find(c.name);
    if (it == old_by_name.end()) {
      plan.start.push_back(c.name);
      continue;
    }
    if (it->second->fingerprint == c.fingerprint && it->second->type == c.type) {
      plan.unchanged.push_back(c.name);
    } else {
      plan.stop.push_back(c.name);
      plan.start.push_back(c.name);
    }
    old_by_name.erase(it);
  }
  for (const auto& [name, c] : old_by_name) plan.stop.push_back(name);

  const auto& a = current.server;
  const auto& b = next.server;
  if (a.listen != b.listen) plan.restart_required.push_back("server.listen");
  const bool tls_changed = a.tls.has_value() != b.tls.has_value() ||
                           (a.tls && (a.tls->cert_file != b.tls->cert_file || a.tls->key_file != b.tls->key_file));
  if (tls_changed) plan.restart_required.push_back("server.tls");
  if (a.threads != b.threads) plan.restart_required.push_back("server.threads");
  if (current.storage.sqlite_path != next.storage.sqlite_path) plan.restart_required.push_back("storage.sqlite_path");
  if (current.storage.synchronous != next.storage.synchronous) plan.restart_required.push_back("storage.synchronous");
  if (current.storage.write_queue_capacity != next.storage.write_queue_capacity) {
    plan.restart_required.push_back("storage.write_queue_capacity");
  }
  return plan;
}

}  // namespace omnitrail
