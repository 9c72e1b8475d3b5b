#include <utility>  // Boost 1.74 + GCC 12: before Asio

#include "daemon/outbox/message_dispatcher.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <random>

#include "daemon/metrics/metrics.hpp"
#include "daemon/outbox/on_io.hpp"
#include "daemon/outbox/messages.hpp"
#include "daemon/outbox/webhook_events.hpp"
#include "daemon/store/store.hpp"
#include "daemon/util/log.hpp"

namespace omnitrail::outbox {

namespace asio = boost::asio;
using boost::system::error_code;
using connectors::SendResult;
using store::unix_millis_now;

namespace {
constexpr const char* kComponent = "messages";
}

struct MessageDispatcher::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& context, store::Store& s, metrics::Registry& m, MessageSenders senders_, MessageTuning t)
      : io(context), store(s), metrics(m), senders(std::move(senders_)), tuning(t), timer(context),
        random(std::random_device{}()) {}

  asio::io_context& io;
  store::Store& store;
  metrics::Registry& metrics;
  MessageSenders senders;
  MessageTuning tuning;
  asio::steady_timer timer;
  std::mt19937_64 random;
  std::vector<std::string> connectors;  // configured senders
  std::vector<std::string> gauged;
  std::vector<std::int64_t> in_flight;  // rows being marked, attempted or recorded
  bool recovered = false;               // interrupted rows of the last run failed: may attempt
  bool recovering = false;
  bool polling = false, poll_again = false, ticking = false, stopped = false;
  std::chrono::steady_clock::time_point next_stats{}, next_prune{};

  // Store callbacks continue on the io thread (daemon/outbox/on_io.hpp).
  template <class T, class F>
  std::function<void(store::Result<T>)> on_io(F f) {
    return outbox::on_io<T>(io, weak_from_this(), std::move(f));
  }

  metrics::Counter& outcome_counter(const std::string& connector, const char* outcome) {
    return metrics.counter("omnitrail_messages_total",
                           "Outbound message attempts by connector and outcome (sent, retry, failed).",
                           {{"connector", connector}, {"outcome", outcome}});
  }

  void recover() {
    if (recovered || recovering || stopped) return;
    recovering = true;
    const auto now = unix_millis_now();
    bool queued = store.submit_write<std::size_t>(
        [now](store::WriteContext& w) { return fail_interrupted_messages(w, now); },
        on_io<std::size_t>([](Impl& self, store::Result<std::size_t> r) {
          self.recovering = false;
          if (!r.ok()) {
            log::warning(kComponent, "cannot check for interrupted sends: ", r.status().to_string(), " (retrying)");
            return;  // the next tick tries again; nothing is attempted meanwhile
          }
          if (*r > 0) {
            log::warning(kComponent, *r, " message(s) were being sent when the daemon last stopped; marked failed"
                                         " (they may have been sent): see GET /api/v1/messages?status=failed");
          }
          self.recovered = true;
          self.poll();
        }));
    if (!queued) recovering = false;
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
    if (!recovered) {
      recover();
    } else {
      poll();
    }
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
    if (stopped || !recovered) return;
    if (polling) {
      poll_again = true;
      return;
    }
    std::vector<std::string> names;
    for (const auto& c : connectors) {
      if (senders.available && senders.available(c)) names.push_back(c);
    }
    const int free = static_cast<int>(tuning.max_in_flight) - static_cast<int>(in_flight.size());
    if (names.empty() || free <= 0) return;
    polling = true;
    poll_again = false;
    const auto now = unix_millis_now();
    bool queued = store.submit_read<std::vector<DueMessage>>(
        [now, free, names](store::ReadContext& r) { return due_messages(r.db(), now, free, names); },
        on_io<std::vector<DueMessage>>([](Impl& self, store::Result<std::vector<DueMessage>> result) {
          self.polling = false;
          if (self.stopped) return;
          if (!result.ok()) return log::warning(kComponent, "cannot read the outbox: ", result.status().to_string());
          for (auto& due : *result) self.begin(std::move(due));
          if (self.poll_again) self.poll();
        }));
    if (!queued) polling = false;
  }

  bool busy(std::int64_t id) const { return std::find(in_flight.begin(), in_flight.end(), id) != in_flight.end(); }
  void finished(std::int64_t id) { in_flight.erase(std::remove(in_flight.begin(), in_flight.end(), id), in_flight.end()); }

  // pending -> sending is committed first; only then is the connector called.
  void begin(DueMessage due) {
    if (busy(due.id)) return;
    in_flight.push_back(due.id);
    const auto id = due.id;
    const auto now = unix_millis_now();
    auto shared = std::make_shared<DueMessage>(std::move(due));
    bool queued = store.submit_write<bool>(
        [id, now](store::WriteContext& w) { return mark_sending(w, id, now); },
        on_io<bool>([shared](Impl& self, store::Result<bool> marked) {
          if (!marked.ok() || !*marked) {
            if (!marked.ok()) log::warning(kComponent, "cannot start message ", shared->message.id, ": ", marked.status().to_string());
            return self.finished(shared->id);
          }
          self.attempt(shared);
        }));
    if (!queued) finished(id);
  }

  void attempt(const std::shared_ptr<DueMessage>& due) {
    auto message = due->message;
    message.attempt = due->attempts + 1;
    const auto& name = message.connector;
    if (!senders.available || !senders.available(name) || !senders.send) {
      SendResult r;
      r.outcome = SendResult::Outcome::retry;
      r.error = "connector " + name + " is not running";
      return outcome(due, std::move(r));
    }
    log::debug(kComponent, name, ": attempt ", message.attempt, " of message ", message.id);
    senders.send(name, message, [weak = weak_from_this(), due](SendResult r) {
      if (auto self = weak.lock()) self->outcome(due, std::move(r));
    });
  }

  void outcome(const std::shared_ptr<DueMessage>& due, SendResult r) {
    const auto now = unix_millis_now();
    const auto& m = due->message;
    std::string state = "sent";
    std::int64_t next = now;
    const char* counted = "sent";
    if (r.outcome == SendResult::Outcome::failed) {
      state = "failed";
      counted = "failed";
      log::warning(kComponent, m.connector, ": message ", m.id, " refused permanently (", r.error, ")");
    } else if (r.outcome == SendResult::Outcome::retry) {
      const int attempts = due->attempts + 1;
      const auto delay = retry_delay_ms(attempts, std::uniform_real_distribution<double>(0.0, 1.0)(random));
      const auto retry_for = std::chrono::duration_cast<std::chrono::milliseconds>(tuning.retry_for).count();
      if (now + delay - due->created_at_ms > retry_for) {
        state = "failed";
        counted = "failed";
        r.error = "gave up after " + std::to_string(tuning.retry_for.count()) + " h: " + r.error;
        log::warning(kComponent, m.connector, ": message ", m.id, " failed after ", attempts, " attempt(s) (", r.error, ")");
      } else {
        state = "pending";
        counted = "retry";
        next = now + delay;
        log::info(kComponent, m.connector, ": message ", m.id, " attempt ", attempts, " failed (", r.error,
                  "); retrying in ", delay, " ms");
      }
    } else {
      log::info(kComponent, m.connector, ": message ", m.id, " sent", r.provider_id.empty() ? "" : " as ",
                r.provider_id);
    }
    outcome_counter(m.connector, counted).inc();
    const auto id = due->id;
    bool queued = store.submit_write<bool>(
        [id, state, r, next, now](store::WriteContext& w) {
          record_message_attempt(w, id, state, r, next, now);
          return true;
        },
        on_io<bool>([id](Impl& self, store::Result<bool> result) {
          // A result that cannot be recorded leaves the row 'sending': the next start reports it
          // interrupted. It is not attempted again meanwhile (it stays in flight here).
          if (!result.ok()) {
            log::error(kComponent, "cannot record the outcome of message row ", id, ": ", result.status().to_string());
            return;
          }
          self.finished(id);
          self.poll();  // the conversation's next message may be due now
        }));
    if (!queued) log::error(kComponent, "write queue full: the outcome of message row ", id, " is not recorded");
  }

  void refresh_stats() {
    store.submit_read<std::vector<MessageQueueStats>>(
        [](store::ReadContext& r) { return message_queue_stats(r.db()); },
        on_io<std::vector<MessageQueueStats>>([](Impl& self, store::Result<std::vector<MessageQueueStats>> result) {
          if (result.ok()) self.apply_stats(*result);
        }));
  }

  void apply_stats(const std::vector<MessageQueueStats>& stats) {
    const auto now = unix_millis_now();
    std::vector<std::string> names = connectors;
    for (const auto& s : stats) {
      if (std::find(names.begin(), names.end(), s.connector) == names.end()) names.push_back(s.connector);
    }
    for (const auto& g : gauged) {
      if (std::find(names.begin(), names.end(), g) == names.end()) names.push_back(g);
    }
    for (const auto& name : names) {
      std::int64_t pending = 0, oldest = 0;
      for (const auto& s : stats) {
        if (s.connector == name) pending = s.pending, oldest = s.oldest_created_at_ms;
      }
      metrics.gauge("omnitrail_message_queue_depth", "Outbound messages queued or being sent, by connector.",
                    {{"connector", name}})
          .set(static_cast<double>(pending));
      metrics.gauge("omnitrail_message_oldest_pending_age_seconds",
                    "Age of the oldest outbound message not sent yet (0 when none).", {{"connector", name}})
          .set(pending > 0 ? static_cast<double>(std::max<std::int64_t>(0, now - oldest)) / 1000.0 : 0.0);
    }
    gauged = std::move(names);
  }

  void prune() {
    const auto before = unix_millis_now() -
                        std::chrono::duration_cast<std::chrono::milliseconds>(tuning.keep_finished).count();
    store.submit_write<std::size_t>([before](store::WriteContext& w) { return prune_messages(w, before, 5000); },
                                    on_io<std::size_t>([](Impl&, store::Result<std::size_t> r) {
                                      if (r.ok() && *r > 0) log::info(kComponent, "pruned ", *r, " finished message rows");
                                    }));
  }
};

MessageDispatcher::MessageDispatcher(asio::io_context& io, store::Store& store, metrics::Registry& metrics,
                                     MessageSenders senders, MessageTuning tuning)
    : impl_(std::make_shared<Impl>(io, store, metrics, std::move(senders), tuning)) {}

MessageDispatcher::~MessageDispatcher() { stop(); }

void MessageDispatcher::configure(std::vector<std::string> sending_connectors) {
  auto& impl = *impl_;
  if (impl.stopped) return;
  impl.connectors = std::move(sending_connectors);
  for (const auto& c : impl.connectors) {
    for (const char* outcome : {"sent", "retry", "failed"}) impl.outcome_counter(c, outcome);
  }
  impl.refresh_stats();
  if (!impl.recovered) {
    impl.recover();
  } else {
    impl.poll();
  }
  impl.schedule_tick();
}

void MessageDispatcher::kick() {
  std::weak_ptr<Impl> weak = impl_;
  asio::post(impl_->io, [weak] {
    if (auto self = weak.lock()) self->poll();
  });
}

void MessageDispatcher::stop() {
  auto& impl = *impl_;
  if (impl.stopped) return;
  impl.stopped = true;
  impl.timer.cancel();
}

std::size_t MessageDispatcher::in_flight() const { return impl_->in_flight.size(); }

}  // namespace omnitrail::outbox
