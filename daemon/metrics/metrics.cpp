#include "daemon/metrics/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace omnitrail::metrics {
namespace {

void atomic_add(std::atomic<double>& target, double v) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + v, std::memory_order_relaxed)) {
  }
}

std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // Prefer the short form when it round-trips.
  char shorter[64];
  std::snprintf(shorter, sizeof shorter, "%g", v);
  if (std::strtod(shorter, nullptr) == v) return shorter;
  return buf;
}

void escape_label_value(std::string& out, const std::string& value) {
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

std::string with_extra_label(const Labels& labels, const std::string& key, const std::string& value) {
  Labels copy = labels;
  copy.emplace_back(key, value);
  return render_labels(copy);
}

}  // namespace

void Gauge::add(double v) { atomic_add(value_, v); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::buckets() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += key;
    out += "=\"";
    escape_label_value(out, value);
    out += '"';
  }
  out += '}';
  return out;
}

Registry::Series& Registry::series(const std::string& name, const std::string& help, Type type,
                                   const Labels& labels) {
  auto [it, inserted] = families_.try_emplace(name, Family{type, help, {}});
  if (!inserted && it->second.type != type) {
    throw std::logic_error("metric " + name + " registered with two types");
  }
  auto key = render_labels(labels);
  auto [sit, created] = it->second.series.try_emplace(key);
  if (created) sit->second.labels = labels;
  return sit->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& s = series(name, help, Type::counter, labels);
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& s = series(name, help, Type::gauge, labels);
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const Labels& labels,
                               std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  auto& s = series(name, help, Type::histogram, labels);
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(std::move(bounds));
  return *s.histogram;
}

void Registry::gauge_callback(const std::string& name, const std::string& help, const Labels& labels,
                              std::function<double()> read) {
  std::lock_guard lock(mutex_);
  auto& s = series(name, help, Type::gauge, labels);
  s.callback = std::move(read);
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out.reserve(4096);
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + family.help + "\n";
    out += "# TYPE " + name + " ";
    out += family.type == Type::counter ? "counter" : family.type == Type::gauge ? "gauge" : "histogram";
    out += '\n';
    for (const auto& [label_text, s] : family.series) {
      switch (family.type) {
        case Type::counter:
          out += name + label_text + " " + std::to_string(s.counter ? s.counter->value() : 0) + "\n";
          break;
        case Type::gauge: {
          double v = s.callback ? s.callback() : (s.gauge ? s.gauge->value() : 0.0);
          out += name + label_text + " " + format_number(v) + "\n";
          break;
        }
        case Type::histogram: {
          if (!s.histogram) break;
          auto counts = s.histogram->buckets();
          std::uint64_t cumulative = 0;
          const auto& bounds = s.histogram->bounds();
          for (std::size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            std::string le = i < bounds.size() ? format_number(bounds[i]) : "+Inf";
            out += name + "_bucket" + with_extra_label(s.labels, "le", le) + " " + std::to_string(cumulative) + "\n";
          }
          out += name + "_sum" + label_text + " " + format_number(s.histogram->sum()) + "\n";
          out += name + "_count" + label_text + " " + std::to_string(cumulative) + "\n";
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace omnitrail::metrics
