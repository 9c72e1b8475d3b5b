// What a SIGHUP reload changes: which connectors stop, start or restart, and which settings
// need a process restart. Pure (no I/O), so the rules are unit-tested. Any thread.
#pragma once

#include <string>
#include <vector>

#include "daemon/config/config.hpp"

namespace omnitrail {

struct ReloadPlan {
  std::vector<std::string> stop;     // connectors removed, disabled, or changed (restarted)
  std::vector<std::string> start;    // connectors added, enabled, or changed (restarted)
  std::vector<std::string> unchanged;
  /// Settings that changed but only apply after a restart, as "server.listen" etc.
  std::vector<std::string> restart_required;
};

/// Compares two valid configs. A connector is "changed" when its fingerprint differs.
ReloadPlan plan_reload(const config::Config& current, const config::Config& next);

}  // namespace omnitrail
