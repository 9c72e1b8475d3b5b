// Per-client-address limits of the visitor endpoint: open connections at once, new connections
// per minute and chat frames per minute (token buckets, shared by every connection of an
// address). Bounded memory: at most `max_addresses` entries; idle entries (no open connection)
// are evicted least recently used first, and a new address is refused when every tracked address
// still has an open connection. Pure (the caller passes the time); io thread only (not
// synchronised).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace omnitrail::connectors::webchat {

struct RateLimits {
  int max_connections_per_address = 20;
  double connections_per_minute = 60;  ///< refill rate of the connection bucket
  int connection_burst = 20;           ///< its capacity
  double messages_per_minute = 60;     ///< refill rate of the frame bucket
  int message_burst = 20;              ///< its capacity
  std::size_t max_addresses = 10000;
};

/// A token bucket: `capacity` tokens, refilled at `per_minute`; starts full.
class TokenBucket {
 public:
  TokenBucket(double per_minute, int capacity, std::int64_t now_ms);
  /// Takes one token when there is one.
  bool take(std::int64_t now_ms);
  /// Milliseconds until a token is there (0 when one is).
  std::int64_t wait_ms(std::int64_t now_ms);
  bool full(std::int64_t now_ms);

 private:
  void refill(std::int64_t now_ms);
  double per_ms_;
  double capacity_;
  double tokens_;
  std::int64_t at_ms_;
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimits limits);

  enum class Verdict { allowed, too_many_connections, connection_rate, overloaded };

  /// A new connection from `address`: counts it as open when allowed.
  Verdict open(std::string_view address, std::int64_t now_ms);
  /// The connection counted by an allowed open() is gone.
  void close(std::string_view address, std::int64_t now_ms);
  /// One chat frame (message, typing, form) from `address`; false when over the limit, with
  /// `retry_after_ms` set to the wait for the next token.
  bool frame(std::string_view address, std::int64_t now_ms, std::int64_t& retry_after_ms);

  std::size_t tracked() const noexcept { return entries_.size(); }
  int open_connections(std::string_view address) const;
  const RateLimits& limits() const noexcept { return limits_; }

 private:
  struct Entry {
    int open = 0;
    TokenBucket connections;
    TokenBucket frames;
    std::list<std::string>::iterator lru;
  };
  Entry* find_or_add(std::string_view address, std::int64_t now_ms);
  void touch(Entry& entry);

  RateLimits limits_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // least recently used first
};

std::string_view to_string(RateLimiter::Verdict verdict) noexcept;

}  // namespace omnitrail::connectors::webchat
