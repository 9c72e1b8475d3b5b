// The list of connector types compiled into omnitraild. Each connector folder adds one line
// to register_all(); the service calls it once before the first config load.
#pragma once

namespace omnitrail::connectors {

/// Registers every built-in connector type's config validator. Idempotent; any thread, but
/// call it before loading a config.
void register_all();

}  // namespace omnitrail::connectors
