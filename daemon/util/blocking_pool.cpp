#include "daemon/util/blocking_pool.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/util/log.hpp"

namespace omnitrail::util {

struct BlockingPool::State {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  std::vector<std::thread> workers;
  std::size_t capacity = 0;
  bool stopping = false;
};

BlockingPool::BlockingPool(std::size_t threads, std::size_t capacity) : state_(std::make_unique<State>()) {
  state_->capacity = capacity;
  for (std::size_t i = 0; i < threads; ++i) {
    state_->workers.emplace_back([s = state_.get()] {
      for (;;) {
        std::function<void()> job;
        {
          std::unique_lock lock(s->mutex);
          s->cv.wait(lock, [s] { return s->stopping || !s->jobs.empty(); });
          if (s->jobs.empty()) return;
          job = std::move(s->jobs.front());
          s->jobs.pop_front();
        }
        try {
          job();
        } catch (const std::exception& e) {
          log::error("blocking-pool", "job failed: ", e.what());
        } catch (...) {
          log::error("blocking-pool", "job failed with an unknown exception");
        }
      }
    });
  }
}

BlockingPool::~BlockingPool() { stop(); }

bool BlockingPool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopping || state_->jobs.size() >= state_->capacity) return false;
    state_->jobs.push_back(std::move(job));
  }
  state_->cv.notify_one();
  return true;
}

void BlockingPool::stop() {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopping && state_->workers.empty()) return;
    state_->stopping = true;
  }
  state_->cv.notify_all();
  for (auto& worker : state_->workers) {
    if (worker.joinable()) worker.join();
  }
  state_->workers.clear();
}

}  // namespace omnitrail::util
