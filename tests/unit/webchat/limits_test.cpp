// Rate limits and the chat transcript as specifications: floods are cut, memory stays bounded,
// every message is kept once.
#include <catch2/catch.hpp>

#include "connectors/webchat/chat_transcript.hpp"
#include "connectors/webchat/rate_limiter.hpp"

using namespace omnitrail::connectors::webchat;

TEST_CASE("a token bucket allows a burst, then the refill rate", "[webchat][limits]") {
  TokenBucket bucket(60, 3, 0);  // one a second, three at once
  CHECK(bucket.take(0));
  CHECK(bucket.take(0));
  CHECK(bucket.take(0));
  CHECK_FALSE(bucket.take(0));
  CHECK(bucket.wait_ms(0) >= 1000);
  CHECK(bucket.wait_ms(0) <= 1002);
  CHECK_FALSE(bucket.take(990));
  CHECK(bucket.take(1010));
  CHECK(bucket.full(1000000));
}

TEST_CASE("per-address limits on connections and frames", "[webchat][limits]") {
  RateLimits limits;
  limits.max_connections_per_address = 2;
  limits.connections_per_minute = 60;
  limits.connection_burst = 3;
  limits.messages_per_minute = 60;
  limits.message_burst = 5;
  RateLimiter limiter(limits);
  using V = RateLimiter::Verdict;
  CHECK(limiter.open("10.0.0.1", 0) == V::allowed);
  CHECK(limiter.open("10.0.0.1", 0) == V::allowed);
  CHECK(limiter.open("10.0.0.1", 0) == V::too_many_connections);
  CHECK(limiter.open("10.0.0.2", 0) == V::allowed);  // another address is not affected
  limiter.close("10.0.0.1", 0);
  CHECK(limiter.open("10.0.0.1", 0) == V::allowed);  // third of the burst
  limiter.close("10.0.0.1", 0);
  CHECK(limiter.open("10.0.0.1", 0) == V::connection_rate);  // burst used up
  CHECK(limiter.open("10.0.0.1", 1010) == V::allowed);
  CHECK(limiter.open_connections("10.0.0.1") == 2);

  // Frames: the burst, then refused with the wait, shared by the address's connections.
  std::int64_t retry = 0;
  for (int i = 0; i < 5; ++i) CHECK(limiter.frame("10.0.0.1", 2000, retry));
  CHECK_FALSE(limiter.frame("10.0.0.1", 2000, retry));
  CHECK(retry > 0);
  CHECK(retry <= 1002);
  CHECK(limiter.frame("10.0.0.2", 2000, retry));
  CHECK(limiter.frame("10.0.0.1", 3010, retry));
  CHECK_FALSE(limiter.frame("10.9.9.9", 3010, retry));  // never opened: refused
}

TEST_CASE("the limiter forgets idle addresses first and never grows past its bound", "[webchat][limits]") {
  RateLimits limits;
  limits.max_addresses = 3;
  RateLimiter limiter(limits);
  using V = RateLimiter::Verdict;
  CHECK(limiter.open("a", 0) == V::allowed);
  CHECK(limiter.open("b", 0) == V::allowed);
  CHECK(limiter.open("c", 0) == V::allowed);
  CHECK(limiter.open("d", 0) == V::overloaded);  // all three still connected
  limiter.close("b", 0);
  CHECK(limiter.open("d", 0) == V::allowed);  // b was idle: forgotten
  CHECK(limiter.tracked() == 3);
  CHECK(limiter.open_connections("b") == 0);
  for (int i = 0; i < 1000; ++i) {
    const auto address = "x" + std::to_string(i);
    if (limiter.open(address, i) == V::allowed) limiter.close(address, i);
  }
  CHECK(limiter.tracked() <= 3);
  CHECK(limiter.open_connections("a") == 1);  // connected addresses are never evicted
}

TEST_CASE("a transcript keeps every message once, in time order, within its bound", "[webchat][transcript]") {
  ChatTranscript t(3);
  CHECK(t.add({"aaaaaaaa", "visitor", {}, {}, "one", 10}));
  CHECK(t.add({"m_000000000000002", "agent", "alice", "Alice", "two", 20}));
  CHECK_FALSE(t.add({"aaaaaaaa", "visitor", {}, {}, "one again", 30}));  // a resend
  CHECK(t.size() == 2);
  CHECK(t.add({"bbbbbbbb", "visitor", {}, {}, "late", 15}));  // restored out of order
  CHECK(t.lines()[1].id == "bbbbbbbb");
  CHECK(t.find("m_000000000000002")->text == "two");
  CHECK_FALSE(t.truncated());
  CHECK(t.add({"cccccccc", "visitor", {}, {}, "four", 40}));
  CHECK(t.size() == 3);
  CHECK(t.truncated());
  CHECK_FALSE(t.contains("aaaaaaaa"));  // the oldest left
  CHECK(t.add({"zzzzzzzz", "visitor", {}, {}, "ancient", 1}));  // older than all kept: in and out at once
  CHECK_FALSE(t.contains("zzzzzzzz"));
  CHECK(t.size() == 3);
  CHECK(t.find("nope") == nullptr);
}
