// Delivers the outbox's message rows (agents' replies by email / SMS / chat) through the connector
// that owns each one: one attempt in flight per (connector, conversation) so a conversation's
// messages leave in order; 'sending' is committed before every attempt (a crash mid-attempt leaves
// the message failed as "interrupted", never sent twice); temporary failures retry with
// exponential back-off and jitter (1 s, 2 s, 4 s ... at most 10 min apart) until retry_for has
// passed since the message was queued, permanent ones fail at once. docs/messages.md.
//
// Thread contract: construct, configure(), stop() and destroy on the io thread; kick() from any
// thread. Store jobs run on the store's threads and hand results back with asio::post.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "connectors/connector.hpp"

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

/// How the dispatcher reaches the connectors (the service's running set). io thread.
struct MessageSenders {
  /// True when connector `name` runs and can attempt a send now (its link may still fail).
  std::function<bool(const std::string& name)> available;
  /// One attempt; `done` exactly once on the io thread.
  std::function<void(const std::string& name, const connectors::OutboundMessage& message,
                     std::function<void(connectors::SendResult)> done)>
      send;
};

struct MessageTuning {
  std::size_t max_in_flight = 16;                   ///< attempts in progress (all connectors)
  std::chrono::milliseconds poll_interval{1000};    ///< due rows are looked for at least this often
  std::chrono::milliseconds stats_interval{5000};   ///< queue gauges refresh
  std::chrono::hours retry_for{24};                 ///< a message not sent by then fails
  std::chrono::hours keep_finished{24 * 7};         ///< finished rows are kept this long (the timeline keeps the status)
};

class MessageDispatcher {
 public:
  MessageDispatcher(boost::asio::io_context& io, store::Store& store, metrics::Registry& metrics,
                    MessageSenders senders, MessageTuning tuning = {});
  ~MessageDispatcher();
  MessageDispatcher(const MessageDispatcher&) = delete;
  MessageDispatcher& operator=(const MessageDispatcher&) = delete;

  /// The connectors that send messages (after start-up and every reload). The first call marks
  /// messages interrupted by the previous run as failed before anything is attempted. io thread.
  void configure(std::vector<std::string> sending_connectors);

  /// New messages were committed: look for due ones now. Any thread.
  void kick();

  /// Stops polling. Attempts in flight may still finish and record their outcome; one that cannot
  /// is found 'sending' at the next start (failed as interrupted). Idempotent. io thread.
  void stop();

  std::size_t in_flight() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace omnitrail::outbox
