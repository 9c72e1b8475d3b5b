// A small thread pool for blocking work (config file reads, bcrypt-like hashing, DNS) that must
// never run on an io thread. Results are handed back by the caller's callback (usually a post()).
// Any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace omnitrail::util {

class BlockingPool {
 public:
  /// Starts `threads` workers. The queue holds at most `capacity` jobs.
  BlockingPool(std::size_t threads, std::size_t capacity);
  ~BlockingPool();  // finishes queued jobs, then joins
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  /// Queues a job; returns false (job not queued) when the queue is full or the pool is stopping.
  bool submit(std::function<void()> job);

  /// Stops accepting jobs, runs the queued ones, joins the workers. Idempotent.
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace omnitrail::util
