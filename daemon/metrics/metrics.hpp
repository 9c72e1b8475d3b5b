// Prometheus metrics: counters, gauges and histograms with fixed label sets, rendered in the
// text exposition format (version 0.0.4) for GET /metrics.
// Any thread: registration takes a mutex; updating a metric is lock-free (atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace omnitrail::metrics {

/// Label pairs, e.g. {{"channel","phone"},{"outcome","answered"}}; order is kept as given.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Cumulative histogram with fixed upper bounds (seconds for latencies, by convention).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  /// Bucket counts (non-cumulative, last is +Inf), sum and count, read consistently enough for scraping.
  std::vector<std::uint64_t> buckets() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

/// Buckets for latencies from 100 µs to 10 s.
std::vector<double> latency_buckets();

class Registry {
 public:
  /// Returns the metric of that name and labels, creating it on first use. References stay
  /// valid for the registry's lifetime. A name used with two different types throws
  /// std::logic_error (a programming error, caught by tests).
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels = {},
                       std::vector<double> bounds = latency_buckets());

  /// Gauges computed at scrape time (queue depths, ages). The callback runs on the scraping
  /// thread and must be thread-safe and cheap.
  void gauge_callback(const std::string& name, const std::string& help, const Labels& labels,
                      std::function<double()> read);

  /// The whole registry in Prometheus text format.
  std::string render() const;

 private:
  enum class Type { counter, gauge, histogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> callback;
  };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, Series> series;  // keyed by rendered labels
  };
  Series& series(const std::string& name, const std::string& help, Type type, const Labels& labels);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

/// Renders labels as `{a="x",b="y"}` with Prometheus escaping; empty labels render as "".
std::string render_labels(const Labels& labels);

}  // namespace omnitrail::metrics
