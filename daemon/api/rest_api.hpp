// The REST API under /api/v1: customers, identifiers, merges, suggestions, timeline, export,
// erase, retention and POST /interactions (the `api` channel). Handlers validate input on the io
// thread and run every SQL statement as a store job; the store's callback completes the request
// (Respond is thread-safe). Thread contract: add_routes() on the io thread; handlers run there.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "connectors/connector.hpp"
#include "daemon/config/config.hpp"
#include "daemon/http/router.hpp"
#include "daemon/timeline/ingest.hpp"

#include "daemon/store/status.hpp"

namespace omnitrail::store {
class Store;
}
namespace omnitrail::metrics {
class Registry;
}

namespace omnitrail::api {

struct ApiState;

/// Everything the REST handlers need; rebuilt on every config reload (immutable afterwards).
std::shared_ptr<ApiState> make_api_state(std::shared_ptr<const config::Config> config, store::Store& store,
                                         metrics::Registry& metrics);

/// Called after an interaction was committed (on a store thread), with the time its bytes arrived.
/// The service connects the screen-pop hub here. For a new ringing trigger (a call ringing, a chat
/// started, ...) `view` is the customer view read inside the ingest's own transaction, so the pop
/// needs no second trip through a reader thread; otherwise it is null.
using CommitListener = std::function<void(const timeline::Interaction&, const timeline::IngestOutcome&,
                                          std::chrono::steady_clock::time_point received_at,
                                          std::shared_ptr<nlohmann::json> view)>;
void set_commit_listener(ApiState& state, CommitListener listener);

/// Ingests one interaction as a store write job (the same path for POST /api/v1/interactions and
/// every connector): counts it, tells the commit listener (screen-pop), then calls `done` on a
/// store thread with the outcome or the error. Returns false (done never called) when the write
/// queue is full. Any thread. `in_transaction`, when set, runs in the same write job right after
/// the ingest (also for a duplicate): a connector's checkpoint commits with its interaction; if it
/// throws, the ingest is undone too.
bool ingest_async(const std::shared_ptr<ApiState>& state, timeline::Interaction interaction,
                  std::chrono::steady_clock::time_point received_at,
                  std::function<void(store::Result<timeline::IngestOutcome>)> done,
                  std::function<void(store::WriteContext&)> in_transaction = {});

/// Places a click-to-call for `agent_id` (whose device is `extension`) to `number` (E.164) through
/// the phone connector named `connector` (empty: any that can). Returns false when none can right
/// now. Progress reaches the agent over the agent WebSocket (`call.progress`, request_id). io thread.
using CallPlacer = std::function<bool(const std::string& connector, const std::string& request_id,
                                      const std::string& agent_id, const std::string& extension,
                                      const std::string& number)>;
void set_call_placer(ApiState& state, CallPlacer placer);

/// Prepares an outbound message with the connector that will send it (POST /api/v1/messages).
/// `connector` is the name the API client gave, or "": the service then picks the parent's
/// connector when it sends on the message's channel, else the first running connector of that
/// channel, and sets message.connector. `done` (any thread) gets status 0 and the prepared
/// message, or an HTTP status (400 refused by the connector, 404 no such connector, 503 none can
/// send on that channel) and a message for the client. Any thread.
using MessagePreparer = std::function<void(connectors::OutboundMessage message, std::string connector,
                                           std::function<void(int status, std::string error,
                                                              connectors::OutboundMessage message)> done)>;
void set_message_preparer(ApiState& state, MessagePreparer preparer);

/// Called after a commit that queued an outbound message (any thread): the service kicks the
/// message dispatcher here.
void set_message_listener(ApiState& state, std::function<void()> listener);

/// Called after a commit that may have added webhook rows to the outbox (on a store thread);
/// the service kicks the webhook dispatcher here.
void set_outbox_listener(ApiState& state, std::function<void()> listener);

/// Records a pop.delivered webhook event for the webhooks that want it, as its own write job.
/// Returns false when the write queue is full (the event is then not sent). Any thread.
bool record_pop_delivered(const std::shared_ptr<ApiState>& state, const std::string& agent_id,
                          const nlohmann::json& pop);

/// Registers every /api/v1 route on `router`.
void add_routes(http::Router& router, std::shared_ptr<ApiState> state);

/// The OpenAPI 3 document served at /api/v1/openapi.json (embedded at build time).
const std::string& openapi_document();

/// Runs one retention pass (config storage.retention_days) as store jobs; `done` gets the
/// number of interactions deleted, or -1 on error. Any thread; `done` runs on a store thread.
void run_retention(const std::shared_ptr<ApiState>& state, std::function<void(long long)> done);

}  // namespace omnitrail::api
