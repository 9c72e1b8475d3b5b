// Delivers the outbox's webhook rows: POSTs each event (signed) to its webhook through the
// libcurl/Asio client, one delivery in flight per (webhook, customer) so a customer's events
// arrive in order; retries 408/429/5xx/timeouts/connection errors with exponential back-off for
// the webhook's retry_for, then dead-letters (status failed); any other 4xx dead-letters at once.
// Exports omnitrail_webhook_* metrics and prunes finished rows after 7 days.
//
// Thread contract: construct, configure(), stop() and destroy on the io thread; kick() from any
// thread. Store jobs run on the store's threads and hand results back with asio::post.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "daemon/config/config.hpp"

namespace boost::asio {
class io_context;
}
namespace omnitrail::store {
class Store;
}
namespace omnitrail::metrics {
class Registry;
}

namespace omnitrail::outbox {

/// Tunables (fixed in this release; documented in docs/webhooks.md).
struct DispatcherTuning {
  std::size_t max_in_flight = 32;            ///< deliveries attempted concurrently (all webhooks)
  std::chrono::milliseconds poll_interval{1000};   ///< due rows are looked for at least this often
  std::chrono::milliseconds stats_interval{5000};  ///< queue gauges refresh
  std::chrono::hours keep_finished{24 * 7};        ///< sent / failed / cancelled rows are kept this long
};

class WebhookDispatcher {
 public:
  WebhookDispatcher(boost::asio::io_context& io, store::Store& store, metrics::Registry& metrics,
                    DispatcherTuning tuning = {});
  ~WebhookDispatcher();
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  /// Applies (a reloaded) configuration: pending rows of removed webhooks are cancelled; polling
  /// runs while at least one webhook is configured. io thread.
  void configure(std::shared_ptr<const config::Config> config);

  /// New rows were committed: look for due deliveries now rather than at the next poll. Any thread.
  void kick();

  /// Stops polling and aborts attempts in flight (their rows stay pending and are retried after
  /// a restart: delivery is at least once). Idempotent. io thread.
  void stop();

  /// Attempts in flight. io thread.
  std::size_t in_flight() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace omnitrail::outbox
