#include "connectors/webchat/rate_limiter.hpp"

#include <algorithm>

namespace omnitrail::connectors::webchat {

TokenBucket::TokenBucket(double per_minute, int capacity, std::int64_t now_ms)
    : per_ms_(std::max(0.0, per_minute) / 60000.0),
      capacity_(std::max(1, capacity)),
      tokens_(capacity_),
      at_ms_(now_ms) {}

void TokenBucket::refill(std::int64_t now_ms) {
  if (now_ms > at_ms_) {
    tokens_ = std::min(capacity_, tokens_ + static_cast<double>(now_ms - at_ms_) * per_ms_);
    at_ms_ = now_ms;
  }
}

bool TokenBucket::take(std::int64_t now_ms) {
  refill(now_ms);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

std::int64_t TokenBucket::wait_ms(std::int64_t now_ms) {
  refill(now_ms);
  if (tokens_ >= 1.0) return 0;
  if (per_ms_ <= 0) return 60000;
  return static_cast<std::int64_t>((1.0 - tokens_) / per_ms_) + 1;
}

bool TokenBucket::full(std::int64_t now_ms) {
  refill(now_ms);
  return tokens_ >= capacity_;
}

RateLimiter::RateLimiter(RateLimits limits) : limits_(limits) {
  limits_.max_addresses = std::max<std::size_t>(1, limits_.max_addresses);
}

void RateLimiter::touch(Entry& entry) { lru_.splice(lru_.end(), lru_, entry.lru); }

RateLimiter::Entry* RateLimiter::find_or_add(std::string_view address, std::int64_t now_ms) {
  std::string key(address);
  if (auto it = entries_.find(key); it != entries_.end()) {
    touch(it->second);
    return &it->second;
  }
  if (entries_.size() >= limits_.max_addresses) {
    // Forget the least recently used address without an open connection. Its buckets are lost
    // (it starts full if it comes back), which only ever favours an address idle for longest.
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
      auto victim = entries_.find(*it);
      if (victim != entries_.end() && victim->second.open == 0) {
        entries_.erase(victim);
        lru_.erase(it);
        break;
      }
    }
    if (entries_.size() >= limits_.max_addresses) return nullptr;
  }
  lru_.push_back(key);
  auto [it, inserted] = entries_.emplace(
      key, Entry{0, TokenBucket(limits_.connections_per_minute, limits_.connection_burst, now_ms),
                 TokenBucket(limits_.messages_per_minute, limits_.message_burst, now_ms), std::prev(lru_.end())});
  (void)inserted;
  return &it->second;
}

RateLimiter::Verdict RateLimiter::open(std::string_view address, std::int64_t now_ms) {
  auto* entry = find_or_add(address, now_ms);
  if (!entry) return Verdict::overloaded;
  if (entry->open >= limits_.max_connections_per_address) return Verdict::too_many_connections;
  if (!entry->connections.take(now_ms)) return Verdict::connection_rate;
  ++entry->open;
  return Verdict::allowed;
}

void RateLimiter::close(std::string_view address, std::int64_t now_ms) {
  auto it = entries_.find(std::string(address));
  if (it == entries_.end()) return;
  if (it->second.open > 0) --it->second.open;
  (void)now_ms;
}

bool RateLimiter::frame(std::string_view address, std::int64_t now_ms, std::int64_t& retry_after_ms) {
  retry_after_ms = 0;
  auto it = entries_.find(std::string(address));
  if (it == entries_.end()) {
    // Frames come from open connections, which are tracked; be strict if one is not.
    retry_after_ms = 1000;
    return false;
  }
  touch(it->second);
  if (it->second.frames.take(now_ms)) return true;
  retry_after_ms = it->second.frames.wait_ms(now_ms);
  return false;
}

int RateLimiter::open_connections(std::string_view address) const {
  auto it = entries_.find(std::string(address));
  return it == entries_.end() ? 0 : it->second.open;
}

std::string_view to_string(RateLimiter::Verdict verdict) noexcept {
  switch (verdict) {
    case RateLimiter::Verdict::allowed: return "allowed";
    case RateLimiter::Verdict::too_many_connections: return "too_many_connections";
    case RateLimiter::Verdict::connection_rate: return "connection_rate";
    case RateLimiter::Verdict::overloaded: return "overloaded";
  }
  return "overloaded";
}

}  // namespace omnitrail::connectors::webchat
