// The seam between the channel-blind core and one channel connector (see DESIGN.md).
// Connectors are created from their validated config block by a registered factory, run on the
// shared io_context and report their health for /readyz and /metrics.
// Thread contract: every method is called on the io thread.
#pragma once

#include <functional>
#include <map>
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
namespace omnitrail::util {
class BlockingPool;
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

/// One connector checkpoint (an IMAP folder's UIDVALIDITY:UID, a poll cursor): a value under a
/// key of the connector's own (table connector_state; the connector's name is added by the core,
/// so a connector only ever sees its own checkpoints).
struct Checkpoint {
  std::string key;
  std::string value;
};

/// Like IngestFunction, and writes `checkpoint` in the SAME store transaction as the interaction
/// (also when the interaction turns out to be a duplicate): the checkpoint can never run ahead of
/// the data, nor the data ahead of the checkpoint. `done` runs on the io thread.
using CheckpointedIngestFunction =
    std::function<bool(timeline::Interaction, Checkpoint, std::chrono::steady_clock::time_point received_at,
                       std::function<void(IngestResult)> done)>;

/// Writes checkpoints alone, for progress past input that yields no interaction (a message the
/// parser refuses). `done` (io thread) says committed or the error. Returns false when the store
/// queue is full.
using CheckpointSaveFunction = std::function<bool(std::vector<Checkpoint>, std::function<void(IngestResult)> done)>;

/// Reads the connector's checkpoints `keys` off the io thread; `done` (io thread) gets the ones
/// that exist, or a non-empty error. Returns false when the store queue is full.
using CheckpointLoadFunction =
    std::function<bool(std::vector<std::string> keys,
                       std::function<void(std::map<std::string, std::string> values, std::string error)> done)>;

/// What the core lends a connector; connectors only ever see this narrow view.
struct Context {
  boost::asio::io_context& io;
  metrics::Registry& metrics;
  IngestFunction ingest;
  std::shared_ptr<const config::Config> config;  // the whole config (agents' extensions, identity)
  // Checkpoints committed with ingests (polling connectors: IMAP). Empty in builds/tests that
  // do not provide them; a connector that needs them refuses to start without.
  CheckpointedIngestFunction ingest_with_checkpoint = {};
  CheckpointSaveFunction save_checkpoints = {};
  CheckpointLoadFunction load_checkpoints = {};
  // For CPU-heavy work that must not run on the io thread (MIME parsing). May be null.
  util::BlockingPool* blocking = nullptr;
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
