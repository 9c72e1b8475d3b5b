// The table of connector types the config loader knows. Each connector folder provides a
// validator that reads its YAML block; connectors/registry.cpp registers them all explicitly
// (no static-initialisation tricks) before the first load. Any thread (guarded by a mutex).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/block_reader.hpp"
#include "daemon/config/config.hpp"

namespace omnitrail::config {

/// Reads one connector block and builds that type's settings. Contract:
/// - read every type-specific key through `block` (getters record errors with file:line:col and
///   path, so do not throw for bad input); keys never read are reported as unknown afterwards;
/// - the common keys name, type, enabled, queue and region are already read by the core;
/// - secrets only through block.secret("password") (accepts password_file / password: ${ENV});
/// - cross-field checks: block.error("key", "message");
/// - return the settings (nullptr is fine when errors were recorded or the type has none).
/// It runs on the loading thread (not the io thread) and may read small files.
using ConnectorValidator = std::function<std::shared_ptr<const ConnectorSettings>(BlockReader& block)>;

/// Registers the validator for connector `type` (e.g. "asterisk_ami"), replacing any previous one
/// so that registering twice is harmless. `type` must be non-empty.
void register_connector_type(std::string type, ConnectorValidator validator);

/// Removes `type`; returns whether it was registered. Meant for tests.
bool unregister_connector_type(std::string_view type);

/// The registered types, sorted.
std::vector<std::string> registered_connector_types();

/// The validator of `type`, or an empty std::function when `type` is not registered.
ConnectorValidator find_connector_validator(std::string_view type);

}  // namespace omnitrail::config
