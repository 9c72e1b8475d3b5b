#include <utility>  // Boost 1.74 + GCC 12: before Asio

#include "daemon/outbox/webhook_dispatcher.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/metrics/metrics.hpp"
#include "daemon/outbox/on_io.hpp"
#include "daemon/net/http_client.hpp"
#include "daemon/outbox/webhook_events.hpp"
#include "daemon/outbox/webhook_outbox.hpp"
#include "daemon/store/store.hpp"
#include "daemon/util/log.hpp"
#include "omnitrail/version.hpp"

namespace omnitrail::outbox {

namespace asio = boost::asio;
using boost::system::error_code;

using store::unix_millis_now;

struct WebhookDispatcher::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& context, store::Store& s, metrics::Registry& m, DispatcherTuning t)
      : io(context), store(s), metrics(m), tuning(t), timer(context), random(std::random_device{}()) {}

  asio::io_context& io;
  store::Store& store;
  metrics::Registry& metrics;
  DispatcherTuning tuning;
  asio::steady_timer timer;
  std::mt19937_64 random;
  std::shared_ptr<const config::Config> config;
  std::unique_ptr<net::HttpClient> http;
  std::vector<std::int64_t> in_flight;  // outbox ids being attempted
  bool polling = false;
  bool poll_again = false;
  bool ticking = false;
  bool stopped = false;
  std::chrono::steady_clock::time_point next_stats{}, next_prune{};
  std::vector<std::string> gauged;  // webhooks whose queue gauges were set (zeroed once removed)
  // Rows whose outcome could not be recorded: kept out of polls until then (no hot resend loop).
  std::map<std::int64_t, std::chrono::steady_clock::time_point> cooling;

  // Store callbacks continue on the io thread (daemon/outbox/on_io.hpp).
  template <class T, class F>
  std::function<void(store::Result<T>)> on_io(F f) {
    return outbox::on_io<T>(io, weak_from_this(), std::move(f));
  }

  const config::WebhookConfig* hook(const std::string& name) const {
    if (!config) return nullptr;
    for (const auto& w : config->webhooks) {
      if (w.name == name) return &w;
    }
    return nullptr;
  }

  metrics::Counter& outcome_counter(const std::string& webhook, const char* outcome) {
    return metrics.counter("omnitrail_webhook_deliveries_total",
                           "Webhook delivery attempts by webhook and outcome (delivered, retry, dead).",
                           {{"webhook", webhook}, {"outcome", outcome}});
  }

  void schedule_tick() {
    if (stopped || ticking) return;
    ticking = true;
    timer.expires_after(tuning.poll_interval);
    timer.async_wait([weak = weak_from_this()](error_code ec) {
      auto self = weak.lock();
      if (!self) return;
      self->ticking = false;
      if (ec || self->stopped) return;
      self->tick();
    });
  }

  void tick() {
    if (!config || config->webhooks.empty()) return;  // configure() restarts ticking
    expire_cooling();
    poll();
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_stats) {
      next_stats = now + tuning.stats_interval;
      refresh_stats();
    }
    if (now >= next_prune) {
      next_prune = now + std::chrono::hours(1);
      prune();
    }
    schedule_tick();
  }

  void poll() {
    if (stopped || !config || config->webhooks.empty() || !http) return;
    if (polling) {
      poll_again = true;
      return;
    }
    const auto free = static_cast<int>(tuning.max_in_flight) - static_cast<int>(in_flight.size());
    if (free <= 0) return;  // an attempt finishing polls again
    polling = true;
    poll_again = false;
    auto busy = in_flight;
    for (const auto& [id, until] : cooling) busy.push_back(id);
    std::vector<std::string> names;
    for (const auto& w : config->webhooks) names.push_back(w.name);
    const auto now = unix_millis_now();
    bool queued = store.submit_read<std::vector<DueDelivery>>(
        [now, free, busy, names](store::ReadContext& r) { return due_webhook_deliveries(r.db(), now, free, busy, names); },
        on_io<std::vector<DueDelivery>>([](Impl& self, store::Result<std::vector<DueDelivery>> result) {
          self.on_due(std::move(result));
        }));
    if (!queued) polling = false;  // read queue full or stopping: the next tick tries again
  }

  void on_due(store::Result<std::vector<DueDelivery>> result) {
    polling = false;
    if (stopped) return;
    if (!result.ok()) {
      log::warning("webhooks", "cannot read the outbox: ", result.status().to_string());
      return;
    }
    for (auto& row : *result) attempt(std::move(row));
    if (poll_again) poll();
  }

  void attempt(DueDelivery row) {
    const auto* w = hook(row.webhook);
    if (!w) return;  // removed on reload: configure() cancelled its rows
    if (std::find(in_flight.begin(), in_flight.end(), row.id) != in_flight.end()) return;
    auto event = nlohmann::json::parse(row.body, nullptr, false);
    const std::string event_id = event.is_object() ? event.value("id", std::string()) : std::string();
    const std::string event_type = event.is_object() ? event.value("type", std::string()) : std::string();
    const auto unix_seconds = unix_millis_now() / 1000;

    net::HttpRequest request;
    request.method = "POST";
    request.url = w->url;
    request.timeout = w->timeout;
    request.connect_timeout = std::min<std::chrono::milliseconds>(w->timeout, std::chrono::seconds(5));
    request.max_response_bytes = 16 * 1024;  // receivers answer with a status; the body is not used
    request.headers = {{"Content-Type", "application/json"},
                       {"Omnitrail-Event-Id", event_id},
                       {"Omnitrail-Event-Type", event_type},
                       {"Omnitrail-Timestamp", std::to_string(unix_seconds)},
                       {"Omnitrail-Delivery", std::to_string(row.id)},
                       {"Omnitrail-Attempt", std::to_string(row.attempts + 1)},
                       {"Omnitrail-Signature", webhook_signature(w->secret.value, unix_seconds, row.body)}};
    request.body = row.body;
    in_flight.push_back(row.id);
    log::debug("webhooks", row.webhook, ": attempt ", row.attempts + 1, " of delivery ", row.id, " (", event_type, " ",
               event_id, ")");
    std::weak_ptr<Impl> weak = weak_from_this();
    const auto retry_for = w->retry_for;
    bool accepted = http->request(std::move(request), [weak, row, retry_for](net::HttpResponse response) {
      if (auto self = weak.lock()) self->on_response(row, retry_for, std::move(response));
    });
    if (!accepted) finished(row.id);
  }

  void finished(std::int64_t id) {
    in_flight.erase(std::remove(in_flight.begin(), in_flight.end(), id), in_flight.end());
  }

  void on_response(const DueDelivery& row, std::chrono::milliseconds retry_for, net::HttpResponse response) {
    const bool got_response = response.status > 0;
    if (stopped && !(got_response && classify_attempt(response.status, true) == AttemptOutcome::delivered)) {
      return finished(row.id);  // aborted by stop(): stays pending, attempted again after a restart
    }
    log::debug("webhooks", row.webhook, ": delivery ", row.id, " answered ", response.status, " ", response.error);
    const auto outcome = classify_attempt(response.status, got_response);
    const auto now = unix_millis_now();
    std::string reason = got_response ? "HTTP " + std::to_string(response.status) : response.error;
    std::string state = "sent";
    std::int64_t next = now;
    const char* counted = "delivered";
    if (outcome == AttemptOutcome::dead) {
      state = "failed";
      counted = "dead";
      log::warning("webhooks", row.webhook, ": delivery ", row.id, " failed permanently (", reason,
                   "); not retried (see GET /api/v1/webhooks/deliveries?status=failed)");
    } else if (outcome == AttemptOutcome::retry) {
      const auto delay = retry_delay_ms(row.attempts + 1, std::uniform_real_distribution<double>(0.0, 1.0)(random));
      if (now + delay - row.created_at_ms > retry_for.count()) {
        state = "failed";
        counted = "dead";
        reason = "gave up after retry_for: " + reason;
        log::warning("webhooks", row.webhook, ": delivery ", row.id, " dead-lettered after ", row.attempts + 1,
                     " attempt(s) (", reason, ")");
      } else {
        state = "pending";
        counted = "retry";
        next = now + delay;
        log::info("webhooks", row.webhook, ": delivery ", row.id, " attempt ", row.attempts + 1, " failed (", reason,
                  "); retrying in ", delay, " ms");
      }
    }
    outcome_counter(row.webhook, counted).inc();
    const std::string error = state == "sent" ? std::string() : reason;
    const int http_status = response.status;
    const auto id = row.id;
    const auto cool_for = std::chrono::milliseconds(retry_delay_ms(row.attempts + 1, 0.5));
    bool queued = store.submit_write<bool>(
        [id, state, http_status, error, next, now](store::WriteContext& w) {
          record_webhook_attempt(w, id, state, http_status, error, next, now);
          return true;
        },
        on_io<bool>([id, cool_for](Impl& self, store::Result<bool> result) {
          self.finished(id);
          if (!result.ok()) {
            log::warning("webhooks", "cannot record delivery ", id, ": ", result.status().to_string());
            self.cool(id, cool_for);
          }
          self.poll();  // the next event of that customer may be due now
        }));
    if (!queued) {
      finished(id);  // the row stays pending: attempted again (at least once), not before cool_for
      cool(id, cool_for);
    }
  }

  void cool(std::int64_t id, std::chrono::milliseconds for_how_long) {
    cooling[id] = std::chrono::steady_clock::now() + for_how_long;
  }

  void expire_cooling() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = cooling.begin(); it != cooling.end();) {
      it = it->second <= now ? cooling.erase(it) : std::next(it);
    }
  }

  void refresh_stats() {
    store.submit_read<std::vector<WebhookQueueStats>>(
        [](store::ReadContext& r) { return webhook_queue_stats(r.db()); },
        on_io<std::vector<WebhookQueueStats>>([](Impl& self, store::Result<std::vector<WebhookQueueStats>> result) {
          if (result.ok()) self.apply_stats(*result);
        }));
  }

  void apply_stats(const std::vector<WebhookQueueStats>& stats) {
    if (!config) return;
    const auto now = unix_millis_now();
    for (const auto& name : gauged) {  // removed on reload: their gauges must not keep alerting
      if (hook(name)) continue;
      metrics.gauge("omnitrail_webhook_queue_depth", "Webhook deliveries pending (waiting or being attempted).",
                    {{"webhook", name}}).set(0);
      metrics.gauge("omnitrail_webhook_oldest_pending_age_seconds",
                    "Age of the oldest pending webhook delivery (0 when none).", {{"webhook", name}}).set(0);
    }
    gauged.clear();
    for (const auto& w : config->webhooks) {
      gauged.push_back(w.name);
      std::int64_t pending = 0, oldest = 0;
      for (const auto& s : stats) {
        if (s.webhook == w.name) pending = s.pending, oldest = s.oldest_created_at_ms;
      }
      metrics.gauge("omnitrail_webhook_queue_depth", "Webhook deliveries pending (waiting or being attempted).",
                    {{"webhook", w.name}})
          .set(static_cast<double>(pending));
      metrics.gauge("omnitrail_webhook_oldest_pending_age_seconds",
                    "Age of the oldest pending webhook delivery (0 when none).", {{"webhook", w.name}})
          .set(pending > 0 ? static_cast<double>(std::max<std::int64_t>(0, now - oldest)) / 1000.0 : 0.0);
    }
  }

  // Finished rows older than keep_finished, in bounded batches until a batch is not full (one
  // batch per write job, so ingest is never starved); then stranded waiting heads are repaired.
  void prune(std::size_t total = 0) {
    constexpr int batch = 5000;
    const auto before = unix_millis_now() - std::chrono::duration_cast<std::chrono::milliseconds>(tuning.keep_finished).count();
    bool queued = store.submit_write<std::size_t>(
        [before](store::WriteContext& w) { return prune_webhook_deliveries(w, before, batch); },
        on_io<std::size_t>([total](Impl& self, store::Result<std::size_t> r) {
          if (!r.ok()) return log::warning("webhooks", "pruning failed: ", r.status().to_string());
          if (*r >= static_cast<std::size_t>(batch) && !self.stopped) return self.prune(total + *r);
          if (total + *r > 0) log::info("webhooks", "pruned ", total + *r, " finished webhook deliveries");
          self.repair();
        }));
    if (!queued) log::warning("webhooks", "write queue full: pruning skipped until the next hour");
  }

  void repair() {
    const auto now = unix_millis_now();
    store.submit_write<std::size_t>([now](store::WriteContext& w) { return repair_webhook_queues(w, now); },
                                    on_io<std::size_t>([](Impl& self, store::Result<std::size_t> r) {
                                      if (r.ok() && *r > 0) {
                                        log::info("webhooks", "made ", *r, " stranded queue head(s) due");
                                        self.poll();
                                      }
                                    }));
  }
};

WebhookDispatcher::WebhookDispatcher(asio::io_context& io, store::Store& store, metrics::Registry& metrics,
                                     DispatcherTuning tuning)
    : impl_(std::make_shared<Impl>(io, store, metrics, tuning)) {}

WebhookDispatcher::~WebhookDispatcher() { stop(); }

void WebhookDispatcher::configure(std::shared_ptr<const config::Config> config) {
  auto& impl = *impl_;
  if (impl.stopped || !config) return;
  impl.config = std::move(config);
  std::vector<std::string> names;
  for (const auto& w : impl.config->webhooks) {
    names.push_back(w.name);
    for (const char* outcome : {"delivered", "retry", "dead"}) impl.outcome_counter(w.name, outcome);
  }
  const auto now = unix_millis_now();
  // Rows of removed webhooks are cancelled (the due query ignores them meanwhile, so a refused
  // cancel blocks nothing); finished rows are pruned and stranded queue heads repaired.
  bool cancelling = impl.store.submit_write<std::size_t>(
      [names, now](store::WriteContext& w) { return cancel_unconfigured_webhooks(w, names, now); },
      [](store::Result<std::size_t> r) {
        if (r.ok() && *r > 0) {
          log::warning("webhooks", "cancelled ", *r, " pending deliveries of webhooks no longer configured");
        } else if (!r.ok()) {
          log::warning("webhooks", "cannot cancel deliveries of removed webhooks: ", r.status().to_string());
        }
      });
  if (!cancelling) log::warning("webhooks", "write queue full: deliveries of removed webhooks stay pending (ignored)");
  impl.refresh_stats();  // real values (and zero for removed webhooks), never a reset to 0
  if (impl.config->webhooks.empty()) return;
  if (!impl.http) {
    net::HttpClientOptions options;
    options.max_in_flight = impl.tuning.max_in_flight;
    options.max_queued = impl.tuning.max_in_flight;
    options.user_agent = std::string("omnitraild/") + version_string;
    impl.http = std::make_unique<net::HttpClient>(impl.io, options);
  }
  impl.poll();
  impl.schedule_tick();
}

void WebhookDispatcher::kick() {
  std::weak_ptr<Impl> weak = impl_;
  asio::post(impl_->io, [weak] {
    if (auto self = weak.lock()) self->poll();
  });
}

void WebhookDispatcher::stop() {
  auto& impl = *impl_;
  if (impl.stopped) return;
  impl.stopped = true;
  impl.timer.cancel();
  if (impl.http) impl.http->stop();
  impl.in_flight.clear();
}

std::size_t WebhookDispatcher::in_flight() const { return impl_->in_flight.size(); }

}  // namespace omnitrail::outbox
