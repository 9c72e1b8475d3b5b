// The seam between the channel-blind core and one channel connector (see DESIGN.md).
// Connectors are created from their validated config block by a registered factory, run on the
// shared io_context and report their health for /readyz and /metrics.
// Thread contract: every method is called on the io thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <chrono>

#include "daemon/config/config.hpp"
#include "daemon/http/router.hpp"
#include "daemon/timeline/interaction.hpp"

namespace boost::asio {
class io_context;
}
namespace omnitrail::metrics {
class Registry;
}

namespace omnitrail::connectors {

/// What /readyz and /metrics show for a connector.
struct Health {
  enum class State { starting, up, degraded, down, stopped };
  State state = State::starting;
  std::string last_error;  // human text, never a secret
};

const char* to_string(Health::State state);

/// The result of ingesting one interaction: committed (durable, deduplicated) or an error.
struct IngestResult {
  bool committed = false;
  bool duplicate = false;     // already stored earlier (same source + external_id)
  std::string interaction_id;
  std::string customer_id;
  std::string error;          // when not committed; safe to log
  bool retryable = false;     // the store was busy or stopping: try again later
};

/// Hands one interaction to the core: store (identity resolution, one commit) then screen-pop.
/// Call on the io thread; `done` runs later on the io thread. A connector acknowledges its peer
/// (or advances its checkpoint) only after `done` says committed. Returns false when the store
/// queue is full (back-pressure: retry later, do not acknowledge).
using IngestFunction = std::function<bool(timeline::Interaction, std::chrono::steady_clock::time_point received_at,
                                          std::function<void(IngestResult)> done)>;

/// What the core lends a connector; connectors only ever see this narrow view.
struct Context {
  boost::asio::io_context& io;
  metrics::Registry& metrics;
  IngestFunction ingest;
  std::shared_ptr<const config::Config> config;  // the whole config (agents' extensions, identity)
};

/// Click-to-call: ring the agent's own device, then dial the customer's number.
struct CallRequest {
  std::string agent_id;
  std::string extension;  // the agent's device/extension
  std::string number;     // E.164, already normalised
};
/// Progress of a CallRequest: "queued" (the PBX accepted it), "answered" (the agent picked up and
/// the customer is being dialled), or "failed" with a reason. The last report is answered/failed.
struct CallProgress {
  std::string state;
  std::string reason;
};

class Connector {
 public:
  virtual ~Connector() = default;
  /// Starts connecting / listening. Must not block.
  virtual void start() = 0;
  /// Graceful stop: finish or hand back in-flight work, then call `done` (exactly once, on the
  /// io thread). The service forces its own deadline on top.
  virtual void stop(std::function<void()> done) = 0;
  virtual Health health() const = 0;
  /// Adds the connector's HTTP endpoints (webhooks) to the router being built. Handlers run on
  /// the io thread. Default: none.
  virtual void add_routes(http::Router& router) { (void)router; }
  /// Places a click-to-call. Returns false when this connector cannot (not a phone connector, or
  /// its link is down); otherwise `progress` is called (io thread) until answered or failed.
  virtual bool place_call(const CallRequest& request, std::function<void(CallProgress)> progress) {
    (void)request;
    (void)progress;
    return false;
  }
};

/// Builds a connector from its validated block. Returns null (with `error` set) when it can't.
using Factory = std::function<std::unique_ptr<Connector>(const config::ConnectorConfig&, Context&, std::string& error)>;

/// Registers the factory of a connector type (called from register_all()). Any thread, before start.
void register_factory(const std::string& type, Factory factory);
/// The factory for `type`, or null.
const Factory* find_factory(const std::string& type);

}  // namespace omnitrail::connectors
