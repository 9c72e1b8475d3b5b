#include "daemon/config/connector_registry.hpp"

#include <map>
#include <mutex>

namespace omnitrail::config {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, ConnectorValidator, std::less<>> validators;
};

// Function-local static: constructed on first use, so no initialisation-order dependency.
Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace

void register_connector_type(std::string type, ConnectorValidator validator) {
  if (type.empty() || !validator) return;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.validators[std::move(type)] = std::move(validator);
}

bool unregister_connector_type(std::string_view type) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.validators.find(type);
  if (it == r.validators.end()) return false;
  r.validators.erase(it);
  return true;
}

std::vector<std::string> registered_connector_types() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> types;
  for (const auto& [type, validator] : r.validators) types.push_back(type);
  return types;
}

ConnectorValidator find_connector_validator(std::string_view type) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.validators.find(type);
  return it == r.validators.end() ? ConnectorValidator{} : it->second;
}

}  // namespace omnitrail::config
