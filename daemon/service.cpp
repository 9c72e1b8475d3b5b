// Service: wires config, store, HTTP server, connectors and systemd notifications together.
// Everything mutable lives on the one io thread; blocking work (config parsing on reload,
// store open/close) goes to the blocking pool and comes back with post().
#include <utility>

#include "daemon/service.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "connectors/connector.hpp"
#include "daemon/agents/agent_hub.hpp"
#include "daemon/api/rest_api.hpp"
#include "daemon/web/web_assets.hpp"
#include "daemon/http/router.hpp"
#include "daemon/http/server.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/outbox/message_dispatcher.hpp"
#include "daemon/outbox/messages.hpp"
#include "daemon/outbox/webhook_dispatcher.hpp"
#include "daemon/reload_plan.hpp"
#include "daemon/store/connector_state.hpp"
#include "daemon/store/store.hpp"
#include "daemon/timeline/conversation_query.hpp"
#include "daemon/util/blocking_pool.hpp"
#include "daemon/util/log.hpp"
#include "omnitrail/version.hpp"

namespace omnitrail {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

void notify(const std::string& text) {
  // sd_notify is a non-blocking datagram send; without NOTIFY_SOCKET it does nothing.
  sd_notify(0, text.c_str());
}

std::string monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::to_string(static_cast<long long>(ts.tv_sec) * 1000000LL + ts.tv_nsec / 1000);
}

}  // namespace

struct Service::Impl {
  Impl(std::string path, std::shared_ptr<const config::Config> initial)
      : config_path(std::move(path)),
        config(std::move(initial)),
        blocking(1, 16),
        signals(io, SIGTERM, SIGINT, SIGHUP),
        http(io, metrics),
        reloads_applied(metrics.counter("omnitrail_config_reloads_total", "Configuration reloads by result.",
                                        {{"result", "applied"}})),
        reloads_rejected(metrics.counter("omnitrail_config_reloads_total", "Configuration reloads by result.",
                                         {{"result", "rejected"}})) {}

  std::string config_path;
  std::shared_ptr<const config::Config> config;
  asio::io_context io{1};
  metrics::Registry metrics;
  util::BlockingPool blocking;
  asio::signal_set signals;
  http::Server http;
  metrics::Counter& reloads_applied;
  metrics::Counter& reloads_rejected;

  struct RunningConnector {
    config::ConnectorConfig config;
    std::unique_ptr<connectors::Connector> connector;
    std::string start_error;
  };
  std::map<std::string, RunningConnector> running;
  bool stopping = false;
  bool abandoned_connectors = false;
  bool reloading = false;
  bool reload_again = false;
  std::unique_ptr<store::Store> store;
  bool store_up = false;
  std::string listening;
  std::shared_ptr<api::ApiState> api_state;
  std::unique_ptr<agents::AgentHub> hub;
  std::unique_ptr<outbox::WebhookDispatcher> webhooks;
  std::unique_ptr<outbox::MessageDispatcher> messages;
  std::unique_ptr<asio::steady_timer> retention_timer;
  std::unique_ptr<asio::steady_timer> watchdog;
  std::unique_ptr<asio::steady_timer> hard_deadline;
  int exit_code = 0;

  // ---- start-up ---------------------------------------------------------------------------
  bool start() {
    apply_logging(*config);
    if (config->server.threads > 1) {
      log::warning("service", "server.threads is ", config->server.threads,
                   "; this release runs one io thread (SQLite has its own threads)");
    }
    metrics.gauge("omnitrail_build_info", "Build information; always 1.", {{"version", version_string}}).set(1);

    // The io thread is not running yet, so opening (and migrating) the store here blocks nobody.
    if (!open_store()) return false;

    http.set_limits(config->server.limits);
    http.set_router(build_router());
    std::string error;
    if (config->server.tls && !http.set_tls(*config->server.tls, error)) {
      log::error("service", error);
      notify("STATUS=failed: " + error);
      exit_code = 1;
      return false;
    }
    if (!http.listen(config->server.listen, error)) {
      log::error("service", error);
      notify("STATUS=failed: " + error);
      exit_code = 1;
      return false;
    }
    for (const auto& ep : http.local_endpoints()) {
      if (!listening.empty()) listening += ", ";
      listening += (config->server.tls ? "https://" : "http://") + ep;
    }
    for (const auto& c : config->connectors) {
      if (c.enabled) start_connector(c);
    }
    if (!running.empty()) http.set_router(build_router());  // with the connectors' webhook routes
    wait_for_signal();
    start_watchdog();
    schedule_retention(std::chrono::minutes(1));
    notify("READY=1\nSTATUS=ready; listening on " + listening);
    log::info("service", "omnitraild ", version_string, " ready; listening on ", listening);
    return true;
  }

  bool open_store() {
    const auto& storage = config->storage;
    store::Options options;
    options.path = storage.sqlite_path;
    options.synchronous = store::parse_synchronous(storage.synchronous).value_or(store::Synchronous::normal);
    options.queue_capacity = storage.write_queue_capacity;
    options.checkpoint_interval = storage.checkpoint_interval;
    std::error_code fs_error;
    auto folder = std::filesystem::path(options.path).parent_path();
    if (!folder.empty()) std::filesystem::create_directories(folder, fs_error);
    auto opened = store::Store::open(options);
    if (!opened.ok()) {
      auto message = "cannot open the store at " + options.path + ": " + opened.status().to_string();
      log::error("service", message);
      notify("STATUS=failed: " + message);
      exit_code = 1;
      return false;
    }
    store = std::move(opened.value());
    store_up = true;
    log::info("store", "opened ", options.path, " (schema version ", store->schema_version(), ", synchronous=",
              storage.synchronous, ")");
    register_store_metrics();
    return true;
  }

  void register_store_metrics() {
    const auto* stats = &store->stats();
    auto counter_like = [this](const std::string& name, const std::string& help, const std::atomic<std::uint64_t>* v) {
      metrics.gauge_callback(name, help, {}, [v] { return static_cast<double>(v->load(std::memory_order_relaxed)); });
    };
    counter_like("omnitrail_store_write_queue_depth", "Write jobs waiting for the writer thread.", &stats->write_queue_depth);
    counter_like("omnitrail_store_read_queue_depth", "Read jobs waiting for a reader thread.", &stats->read_queue_depth);
    counter_like("omnitrail_store_writes_rejected", "Write jobs refused because the queue was full (cumulative).",
                 &stats->writes_rejected);
    counter_like("omnitrail_store_batches_committed", "Group commits (cumulative).", &stats->batches_committed);
    counter_like("omnitrail_store_jobs_committed", "Write jobs committed (cumulative).", &stats->jobs_committed);
    counter_like("omnitrail_store_jobs_failed", "Write jobs that failed (cumulative).", &stats->jobs_failed);
    metrics.gauge_callback("omnitrail_store_commit_latency_seconds_avg", "Mean BEGIN..COMMIT time of committed batches.",
                           {}, [stats] {
                             auto n = stats->commit_latency_count.load(std::memory_order_relaxed);
                             return n == 0 ? 0.0
                                           : static_cast<double>(stats->commit_latency_us_sum.load(std::memory_order_relaxed)) /
                                                 1e6 / static_cast<double>(n);
                           });
  }

  void apply_logging(const config::Config& c) {
    log::Level level = log::Level::info;
    if (log::parse_level(c.logging.level, level)) log::set_level(level);
  }

  void start_watchdog() {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    // Ping from the io thread at half the period: a stuck event loop stops the pings.
    auto period = std::chrono::microseconds(usec / 2);
    watchdog = std::make_unique<asio::steady_timer>(io);
    log::info("service", "systemd watchdog enabled, pinging every ", period.count() / 1000, " ms");
    schedule_watchdog(period);
  }

  // storage.retention_days: one pass a minute after start, then daily; the work runs as bounded
  // store batches, so it never blocks the io thread or starves ingest.
  void schedule_retention(std::chrono::milliseconds delay) {
    if (!retention_timer) retention_timer = std::make_unique<asio::steady_timer>(io);
    retention_timer->expires_after(delay);
    retention_timer->async_wait([this](error_code ec) {
      if (ec || stopping) return;
      if (!config->storage.retention_days.empty() && api_state) {
        api::run_retention(api_state, [](long long) {});
      }
      schedule_retention(std::chrono::hours(24));
    });
  }

  void schedule_watchdog(std::chrono::microseconds period) {
    watchdog->expires_after(period);
    watchdog->async_wait([this, period](error_code ec) {
      if (ec || stopping) return;
      notify("WATCHDOG=1");
      schedule_watchdog(period);
    });
  }

  // ---- HTTP routes owned by the service -------------------------------------------------
  std::shared_ptr<const http::Router> build_router() {
    auto router = std::make_shared<http::Router>();
    router->add("GET", "/healthz", [](http::Request&&, http::Respond respond) {
      respond(http::Response::json(200, R"({"status":"alive"})"));
    });
    router->add("GET", "/readyz", [this](http::Request&&, http::Respond respond) {
      auto [ready, body] = readiness();
      respond(http::Response::json(ready ? 200 : 503, body));
    });
    router->add("GET", "/metrics", [this](http::Request&&, http::Respond respond) {
      respond(http::Response::text(200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8"));
    });
    web::add_console_routes(*router);
    if (store) {
      if (!hub) hub = std::make_unique<agents::AgentHub>(io, *store, metrics);
      hub->configure(config);
      if (!webhooks) webhooks = std::make_unique<outbox::WebhookDispatcher>(io, *store, metrics);
      if (!stopping) webhooks->configure(config);
      api_state = api::make_api_state(config, *store, metrics);
      api::set_outbox_listener(*api_state, [dispatcher = webhooks.get()] { dispatcher->kick(); });
      hub->set_pop_listener([state = api_state](const std::string& agent_id, const nlohmann::json& pop) {
        if (!api::record_pop_delivered(state, agent_id, pop)) {
          log::warning("webhooks", "write queue full: pop.delivered for ", agent_id, " not recorded");
        }
      });
      api::set_commit_listener(*api_state, [hub = hub.get()](const timeline::Interaction& in,
                                                             const timeline::IngestOutcome& outcome,
                                                             std::chrono::steady_clock::time_point at,
                                                             std::shared_ptr<nlohmann::json> view) {
        hub->on_committed(in, outcome, at, std::move(view));
      });
      api::set_call_placer(*api_state, [this](const std::string& connector, const std::string& request_id,
                                              const std::string& agent_id, const std::string& extension,
                                              const std::string& number) {
        return place_call(connector, request_id, agent_id, extension, number);
      });
      if (!messages) {
        outbox::MessageSenders senders;
        senders.available = [this](const std::string& name) {
          auto it = running.find(name);
          return !stopping && it != running.end() && it->second.connector &&
                 !it->second.connector->outbound_channel().empty();
        };
        senders.send = [this](const std::string& name, const connectors::OutboundMessage& m,
                              std::function<void(connectors::SendResult)> done) {
          auto it = running.find(name);
          if (it == running.end() || !it->second.connector) {
            connectors::SendResult r;
            r.error = "connector " + name + " is not running";
            return asio::post(io, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
          }
          it->second.connector->send(m, std::move(done));
        };
        messages = std::make_unique<outbox::MessageDispatcher>(io, *store, metrics, std::move(senders));
      }
      api::set_message_listener(*api_state, [dispatcher = messages.get()] { dispatcher->kick(); });
      api::set_message_preparer(*api_state, [this](connectors::OutboundMessage m, std::string connector,
                                                   std::function<void(int, std::string, connectors::OutboundMessage)> done) {
        asio::post(io, [this, m = std::move(m), connector = std::move(connector), done = std::move(done)]() mutable {
          prepare_message(std::move(m), connector, std::move(done));
        });
      });
      api::add_routes(*router, api_state);
      router->add_websocket("/api/v1/agents/ws", hub->websocket_factory());
    }
    std::vector<std::string> senders;
    for (auto& [name, rc] : running) {
      if (!rc.connector) continue;
      rc.connector->add_routes(*router);
      if (!rc.connector->outbound_channel().empty()) senders.push_back(name);
    }
    if (messages && !stopping) messages->configure(std::move(senders));
    return router;
  }

  // POST /api/v1/messages: picks the connector (the named one; else the parent's when it sends on
  // the channel; else the first running one of the channel) and lets it prepare the message. io thread.
  void prepare_message(connectors::OutboundMessage m, const std::string& wanted,
                       const std::function<void(int, std::string, connectors::OutboundMessage)>& done) {
    const std::string channel = m.channel;  // m is moved into done() below
    auto sends = [&](const RunningConnector& rc) {
      return rc.connector && rc.connector->outbound_channel() == channel;
    };
    const RunningConnector* chosen = nullptr;
    if (!wanted.empty()) {
      auto it = running.find(wanted);
      if (it == running.end()) return done(404, "connector: no connector named " + wanted, std::move(m));
      if (!sends(it->second)) {
        return done(400, "connector: " + wanted + " does not send " + channel + " messages", std::move(m));
      }
      chosen = &it->second;
    }
    if (!chosen && m.parent.is_object() && m.parent["source"].is_string()) {
      auto it = running.find(m.parent["source"].get<std::string>());
      if (it != running.end() && sends(it->second)) chosen = &it->second;
    }
    for (auto it = running.begin(); !chosen && it != running.end(); ++it) {
      if (sends(it->second)) chosen = &it->second;
    }
    if (!chosen) return done(503, "no running connector sends " + channel + " messages", std::move(m));
    m.connector = chosen->config.name;
    std::string problem;
    try {
      problem = chosen->connector->prepare(m);
    } catch (const std::exception& e) {
      log::error("connector", m.connector, ": prepare failed: ", e.what());
      problem = "the connector could not prepare the message";
    }
    if (!problem.empty()) return done(400, problem, std::move(m));
    done(0, {}, std::move(m));
  }

  std::pair<bool, std::string> readiness() {
    nlohmann::json body;
    bool ready = store_up && !stopping;
    body["store"] = {{"state", store_up ? "up" : "down"}};
    auto list = nlohmann::json::array();
    for (const auto& [name, rc] : running) {
      connectors::Health h;
      if (rc.connector) {
        h = rc.connector->health();
      } else {
        h.state = connectors::Health::State::down;
        h.last_error = rc.start_error;
      }
      if (h.state != connectors::Health::State::up) ready = false;
      list.push_back({{"name", name},
                      {"type", rc.config.type},
                      {"state", connectors::to_string(h.state)},
                      {"last_error", h.last_error}});
    }
    body["connectors"] = list;
    body["status"] = stopping ? "stopping" : (ready ? "ready" : "not_ready");
    body["version"] = version_string;
    return {ready, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
  }

  // ---- connectors -------------------------------------------------------------------------
  void start_connector(const config::ConnectorConfig& c) {
    if (stopping) return;  // a reload finishing after SIGTERM must not start anything
    RunningConnector rc{c, nullptr, {}};
    const auto* factory = connectors::find_factory(c.type);
    connectors::Context context{io, metrics, make_ingest_function(), config};
    add_checkpoint_functions(context, c.name);
    context.blocking = &blocking;
    if (hub) context.chat_desk = hub->chat_desk(c.name);
    context.load_conversation = make_conversation_loader(c.name);
    context.report_delivery = make_delivery_report_function(c.name);
    if (!factory) {
      rc.start_error = "no connector implementation for type \"" + c.type + "\" in this build";
    } else {
      try {
        rc.connector = (*factory)(c, context, rc.start_error);
        if (rc.connector) rc.connector->start();
      } catch (const std::exception& e) {
        rc.connector.reset();
        rc.start_error = e.what();
      }
    }
    if (!rc.connector) {
      log::error("connector", c.name, " (", c.type, ") could not start: ", rc.start_error);
    } else {
      log::info("connector", c.name, " (", c.type, ") started");
    }
    running.insert_or_assign(c.name, std::move(rc));
  }

  // Click-to-call through the first running connector that can place calls (or the named one);
  // progress goes to the agent's sockets as `call.progress`.
  bool place_call(const std::string& connector, const std::string& request_id, const std::string& agent_id,
                  const std::string& extension, const std::string& number) {
    for (auto& [name, rc] : running) {
      if (!rc.connector || (!connector.empty() && name != connector)) continue;
      connectors::CallRequest request{agent_id, extension, number};
      bool placed = rc.connector->place_call(request, [this, request_id, agent_id, number](connectors::CallProgress p) {
        nlohmann::json message{{"type", "call.progress"}, {"request_id", request_id}, {"number", number},
                               {"state", p.state}};
        if (!p.reason.empty()) message["reason"] = p.reason;
        if (hub) hub->send_to_agent(agent_id, message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      });
      if (placed) return true;
    }
    return false;
  }

  // The connectors' sink: the same ingest path as POST /api/v1/interactions; results come back
  // on the io thread. Uses the API state current at call time (it changes on reload).
  connectors::IngestFunction make_ingest_function() {
    return [this](timeline::Interaction in, std::chrono::steady_clock::time_point received_at,
                  std::function<void(connectors::IngestResult)> done) {
      if (!api_state || stopping) return false;
      return api::ingest_async(api_state, std::move(in), received_at, ingest_completion(std::move(done)));
    };
  }

  // Turns a store outcome into the connector's IngestResult, delivered on the io thread.
  std::function<void(store::Result<timeline::IngestOutcome>)> ingest_completion(
      std::function<void(connectors::IngestResult)> done) {
    return [this, done = std::move(done)](store::Result<timeline::IngestOutcome> r) {
      connectors::IngestResult result;
      if (r.ok()) {
        result.committed = true;
        result.duplicate = r->duplicate;
        result.interaction_id = r->interaction_id;
        result.customer_id = r->customer_id;
        result.conversation_id = r->conversation_id;
      } else {
        result.error = r.status().to_string();
        result.retryable = is_retryable(r.status().code());
      }
      asio::post(io, [done, result = std::move(result)] {
        if (done) done(result);
      });
    };
  }

  static bool is_retryable(store::StatusCode code) {
    return code == store::StatusCode::busy || code == store::StatusCode::queue_full || code == store::StatusCode::stopped;
  }

  // Connector `name`'s conversations read back from the timeline (a chat resumed after a restart).
  connectors::ConversationLoadFunction make_conversation_loader(const std::string& name) {
    return [this, name](std::string key, int limit, std::function<void(nlohmann::json, std::string)> done) {
      if (!store || stopping) return false;
      return store->submit_read<nlohmann::json>(
          [name, key = std::move(key), limit](store::ReadContext& r) {
            return timeline::conversation_transcript(r.db(), name, key, limit);
          },
          [this, done = std::move(done)](store::Result<nlohmann::json> r) {
            nlohmann::json transcript;
            std::string error;
            if (r.ok()) {
              transcript = std::move(*r);
            } else {
              error = r.status().to_string();
            }
            asio::post(io, [done, transcript = std::move(transcript), error = std::move(error)] {
              if (done) done(transcript, error);
            });
          });
    };
  }

  // Checkpoints of connector `name` (connector_state), committed with its ingests.
  void add_checkpoint_functions(connectors::Context& context, const std::string& name) {
    context.ingest_with_checkpoint = [this, name](timeline::Interaction in, connectors::Checkpoint checkpoint,
                                                  std::chrono::steady_clock::time_point received_at,
                                                  std::function<void(connectors::IngestResult)> done) {
      if (!api_state || stopping) return false;
      return api::ingest_async(api_state, std::move(in), received_at, ingest_completion(std::move(done)),
                               [name, checkpoint = std::move(checkpoint)](store::WriteContext& w) {
                                 store::put_connector_state(w.db(), name, checkpoint.key, checkpoint.value,
                                                            wall_clock_ms());
                               });
    };
    context.save_checkpoints = [this, name](std::vector<connectors::Checkpoint> checkpoints,
                                            std::function<void(connectors::IngestResult)> done) {
      if (!store || stopping) return false;
      return store->submit_write(
          [name, checkpoints = std::move(checkpoints)](store::WriteContext& w) {
            for (const auto& c : checkpoints) store::put_connector_state(w.db(), name, c.key, c.value, wall_clock_ms());
          },
          [this, done = std::move(done)](store::Status status) {
            connectors::IngestResult result;
            result.committed = status.ok();
            if (!status.ok()) {
              result.error = status.to_string();
              result.retryable = is_retryable(status.code());
            }
            asio::post(io, [done, result = std::move(result)] {
              if (done) done(result);
            });
          });
    };
    context.load_checkpoints = [this, name](
                                   std::vector<std::string> keys,
                                   std::function<void(std::map<std::string, std::string>, std::string)> done) {
      if (!store || stopping) return false;
      using Values = std::map<std::string, std::string>;
      return store->submit_read<Values>(
          [name, keys = std::move(keys)](store::ReadContext& r) {
            Values values;
            for (const auto& key : keys) {
              if (auto value = store::get_connector_state(r.db(), name, key)) values.emplace(key, std::move(*value));
            }
            return values;
          },
          [this, done = std::move(done)](store::Result<Values> r) {
            Values values;
            std::string error;
            if (r.ok()) {
              values = std::move(*r);
            } else {
              error = r.status().to_string();
            }
            asio::post(io, [done, values = std::move(values), error = std::move(error)] {
              if (done) done(values, error);
            });
          });
    };
  }

  // Delivery reports (DLRs, status callbacks) of connector `name`'s messages.
  connectors::DeliveryReportFunction make_delivery_report_function(const std::string& name) {
    return [this, name](connectors::DeliveryReport report, std::function<void(connectors::IngestResult)> done) {
      if (!store || stopping) return false;
      auto& counted = metrics.counter("omnitrail_message_delivery_reports_total",
                                      "Delivery reports received, by connector and status (unknown: no such message).",
                                      {{"connector", name},
                                       {"status", report.status == "sent" || report.status == "delivered" ||
                                                          report.status == "failed"
                                                      ? report.status
                                                      : std::string("invalid")}});
      auto& unknown = metrics.counter("omnitrail_message_delivery_reports_total",
                                      "Delivery reports received, by connector and status (unknown: no such message).",
                                      {{"connector", name}, {"status", "unknown"}});
      return store->submit_write<std::string>(
          [name, report](store::WriteContext& w) {
            return outbox::record_delivery_report(w, name, report, wall_clock_ms());
          },
          [this, done = std::move(done), &counted, &unknown](store::Result<std::string> r) {
            connectors::IngestResult result;
            if (r.ok()) {
              counted.inc();
              result.committed = true;
              result.interaction_id = *r;
            } else {
              if (r.status().code() == store::StatusCode::not_found) unknown.inc();
              if (r.status().code() == store::StatusCode::invalid_argument) counted.inc();  // status "invalid"
              result.error = r.status().to_string();
              result.retryable = is_retryable(r.status().code());
            }
            asio::post(io, [done, result = std::move(result)] {
              if (done) done(result);
            });
          });
    };
  }

  static std::int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // Stops the named connectors; `done` runs when all have stopped or their deadline passed.
  void stop_connectors(std::vector<std::string> names, std::function<void()> done) {
    std::vector<std::unique_ptr<connectors::Connector>> stopping_now;
    for (const auto& name : names) {
      auto it = running.find(name);
      if (it == running.end()) continue;
      if (it->second.connector) stopping_now.push_back(std::move(it->second.connector));
      running.erase(it);
    }
    if (stopping_now.empty()) {
      asio::post(io, std::move(done));
      return;
    }
    struct Stopping {
      std::size_t remaining = 0;
      std::function<void()> done;
      std::unique_ptr<asio::steady_timer> deadline;
    };
    auto state = std::make_shared<Stopping>();
    state->remaining = stopping_now.size();
    state->done = std::move(done);
    state->deadline = std::make_unique<asio::steady_timer>(io, config->server.limits.shutdown_timeout);
    // Only the deadline's handler owns the connectors (their done callbacks hold a weak handle),
    // so cancelling it when the last one stops releases everything: no cycle, no idle wait.
    auto holder = std::make_shared<std::vector<std::unique_ptr<connectors::Connector>>>(std::move(stopping_now));
    std::weak_ptr<Stopping> weak = state;
    for (auto& connector : *holder) {
      connector->stop([weak] {
        auto s = weak.lock();
        if (!s || s->remaining == 0) return;
        if (--s->remaining == 0) {
          s->deadline->cancel();
          if (auto f = std::move(s->done)) f();
        }
      });
    }
    state->deadline->async_wait([this, state, holder](error_code ec) {
      if (ec || state->remaining == 0) return;
      log::warning("connector", state->remaining, " connector(s) did not stop in time; abandoning them");
      state->remaining = 0;
      abandoned_connectors = true;  // their pending work would keep io.run() alive: see finish_stop()
      if (auto f = std::move(state->done)) f();
    });
  }

  // ---- signals ------------------------------------------------------------------------------
  void wait_for_signal() {
    signals.async_wait([this](error_code ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        begin_reload();
        wait_for_signal();
      } else {
        begin_stop(signo);
      }
    });
  }

  void begin_reload() {
    if (stopping) return;
    if (reloading) {
      reload_again = true;  // coalesce: one more reload after the current one
      return;
    }
    reloading = true;
    notify("RELOADING=1\nMONOTONIC_USEC=" + monotonic_usec() + "\nSTATUS=reloading configuration");
    log::info("service", "SIGHUP: reloading ", config_path);
    bool queued = blocking.submit([this] {
      auto result = config::load_file(config_path);  // file I/O and parsing off the io thread
      asio::post(io, [this, result = std::move(result)]() mutable { finish_reload(std::move(result)); });
    });
    if (!queued) {
      reloading = false;
      notify("READY=1\nSTATUS=reload skipped: worker busy");
    }
  }

  void finish_reload(config::LoadResult result) {
    reloading = false;
    if (stopping) return;
    if (!result.errors.empty()) {
      reloads_rejected.inc();
      for (const auto& e : result.errors) log::error("config", e.to_string());
      std::string status = "reload rejected: " + std::to_string(result.errors.size()) +
                           " error(s) in " + config_path + "; still running the previous configuration";
      log::error("service", status);
      notify("READY=1\nSTATUS=" + status);
    } else {
      apply(std::move(result.config));
    }
    if (reload_again) {
      reload_again = false;
      begin_reload();
    }
  }

  void apply(std::shared_ptr<const config::Config> next) {
    auto plan = plan_reload(*config, *next);
    for (const auto& key : plan.restart_required) {
      log::warning("service", key, " changed: restart required to apply it; keeping the running value");
    }
    apply_logging(*next);
    // Limits apply to new connections and requests; listen addresses stay until a restart.
    auto limits = next->server.limits;
    http.set_limits(limits);
    auto previous = config;
    config = next;
    http.set_router(build_router());
    reloads_applied.inc();
    std::vector<std::string> to_start = plan.start;
    stop_connectors(plan.stop, [this, to_start, next] {
      if (stopping) return;
      for (const auto& name : to_start) {
        for (const auto& c : next->connectors) {
          if (c.name == name) start_connector(c);
        }
      }
      http.set_router(build_router());  // webhook routes of the connectors now running
    });
    std::string status = "ready; configuration reloaded (" + std::to_string(plan.stop.size()) + " connector(s) stopped, " +
                         std::to_string(plan.start.size()) + " started, " + std::to_string(plan.unchanged.size()) +
                         " unchanged)";
    if (!plan.restart_required.empty()) status += "; restart required for some changes";
    log::info("service", status);
    notify("READY=1\nSTATUS=" + status);
  }

  void begin_stop(int signo) {
    if (stopping) return;
    stopping = true;
    log::info("service", signo == SIGINT ? "SIGINT" : "SIGTERM", ": stopping");
    notify("STOPPING=1\nSTATUS=stopping: draining connections");
    signals.cancel();
    if (watchdog) watchdog->cancel();
    if (retention_timer) retention_timer->cancel();
    // Backstop: whatever hangs, the process ends shortly after the configured bound.
    hard_deadline = std::make_unique<asio::steady_timer>(io, config->server.limits.shutdown_timeout + std::chrono::seconds(5));
    hard_deadline->async_wait([this](error_code ec) {
      if (ec) return;
      log::error("service", "shutdown did not finish in time; exiting anyway");
      exit_code = 1;
      io.stop();
    });
    if (hub) hub->stop();
    if (webhooks) webhooks->stop();
    if (messages) messages->stop();
    http.stop([this] {
      std::vector<std::string> names;
      for (const auto& [name, rc] : running) names.push_back(name);
      stop_connectors(names, [this] { finish_stop(); });
    });
  }

  void finish_stop() {
    // Store::stop() blocks until every accepted write is committed: run it off the io thread.
    auto finish = [this] {
      if (hard_deadline) hard_deadline->cancel();
      log::info("service", "stopped");
      // Connectors abandoned at their deadline may still hold timers or sockets.
      if (abandoned_connectors) io.stop();
    };
    if (!store) return finish();
    bool queued = blocking.submit([this, finish] {
      store->stop();
      asio::post(io, [this, finish] {
        store_up = false;
        finish();
      });
    });
    if (!queued) {
      store->stop();
      finish();
    }
  }
};

Service::Service(std::string config_path, std::shared_ptr<const config::Config> initial)
    : impl_(std::make_unique<Impl>(std::move(config_path), std::move(initial))) {}

Service::~Service() = default;

int Service::run() {
  if (!impl_->start()) return impl_->exit_code;
  impl_->io.run();
  // After the backstop (io.stop()) the store may still hold writes: finish them while the
  // screen-pop hub their callbacks notify is alive (members are destroyed after this).
  if (impl_->store) impl_->store->stop();
  impl_->blocking.stop();
  return impl_->exit_code;
}

}  // namespace omnitrail
