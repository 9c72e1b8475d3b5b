// CurlMulti, the generic curl multi <-> Asio glue, driving easy handles the test configures itself
// against a tiny real TCP peer on 127.0.0.1 (answers one fixed HTTP response, or never answers).
#include <utility>  // Boost 1.74 + GCC 12: Asio's headers need std::exchange declared first.

#include "daemon/net/curl_multi.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using omnitrail::net::CurlMulti;

namespace {

/// Accepts connections; with `answer`, replies to each read with one HTTP 200 "hello"; without,
/// reads and never answers.
class Peer {
 public:
  Peer(asio::io_context& io, bool answer) : io_(io), acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), answer_(answer) {
    asio::co_spawn(io_, accept_loop(), [](std::exception_ptr) {});
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/"; }
  void stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& s : sockets_) s->close(ec);
  }
  int connections = 0;

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(io_);
      boost::system::error_code ec;
      co_await acceptor_.async_accept(*socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ++connections;
      sockets_.push_back(socket);
      asio::co_spawn(io_, serve(socket), [](std::exception_ptr) {});
    }
  }
  asio::awaitable<void> serve(std::shared_ptr<tcp::socket> socket) {
    char buffer[4096];
    for (;;) {
      boost::system::error_code ec;
      co_await socket->async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      if (!answer_) continue;
      static const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
      co_await asio::async_write(*socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }
  asio::io_context& io_;
  tcp::acceptor acceptor_;
  bool answer_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
};

size_t append(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

/// An easy handle configured the way a caller of CurlMulti does it.
struct Easy {
  explicit Easy(const std::string& url, long timeout_ms = 5000) {
    omnitrail::net::curl_global_init_once();
    handle = curl_easy_init();
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &append);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &body);
  }
  ~Easy() { curl_easy_cleanup(handle); }
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;
  CURL* handle;
  std::string body;
};

}  // namespace

TEST_CASE("CurlMulti runs configured easy handles and posts each result once", "[net]") {
  asio::io_context io;
  Peer peer(io, true);
  CurlMulti multi(io);
  Easy a(peer.url()), b(peer.url());
  std::vector<CURLcode> results;
  bool inline_call = true;
  REQUIRE(multi.start(a.handle, [&](CURLcode code) {
    CHECK_FALSE(inline_call);
    results.push_back(code);
    // Chaining from the callback: the same handle may be started again.
    if (results.size() == 1) {
      a.body.clear();
      CHECK(multi.start(a.handle, [&](CURLcode again) {
        results.push_back(again);
        if (results.size() == 3) peer.stop();
      }));
    } else if (results.size() == 3) {
      peer.stop();
    }
  }));
  REQUIRE(multi.start(b.handle, [&](CURLcode code) {
    results.push_back(code);
    if (results.size() == 3) peer.stop();
  }));
  CHECK_FALSE(multi.start(b.handle, [](CURLcode) {}));  // already running
  inline_call = false;
  CHECK(multi.running() == 2);
  io.run_for(std::chrono::seconds(10));
  REQUIRE(results.size() == 3);
  for (auto code : results) CHECK(code == CURLE_OK);
  CHECK(a.body == "hello");
  CHECK(b.body == "hello");
  CHECK(multi.running() == 0);
  CHECK(peer.connections <= 2);  // connections are reused
}

TEST_CASE("CurlMulti: the caller's timeout ends a transfer to a silent peer", "[net]") {
  asio::io_context io;
  Peer peer(io, false);
  CurlMulti multi(io);
  Easy easy(peer.url(), 300);
  std::optional<CURLcode> result;
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(multi.start(easy.handle, [&](CURLcode code) {
    result = code;
    peer.stop();
  }));
  io.run_for(std::chrono::seconds(10));
  REQUIRE(result);
  CHECK(*result == CURLE_OPERATION_TIMEDOUT);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
}

TEST_CASE("CurlMulti: cancel and stop call nothing back and leave no work behind", "[net]") {
  asio::io_context io;
  Peer peer(io, false);
  auto multi = std::make_unique<CurlMulti>(io);
  Easy a(peer.url(), 60000), b(peer.url(), 60000);
  bool called = false;
  REQUIRE(multi->start(a.handle, [&](CURLcode) { called = true; }));
  REQUIRE(multi->start(b.handle, [&](CURLcode) { called = true; }));
  io.run_for(std::chrono::milliseconds(200));  // both connected and waiting
  multi->cancel(a.handle);
  CHECK(multi->running() == 1);
  multi->stop();
  CHECK(multi->running() == 0);
  CHECK_FALSE(multi->start(a.handle, [&](CURLcode) { called = true; }));
  peer.stop();
  io.restart();
  const auto started = std::chrono::steady_clock::now();
  io.run_for(std::chrono::seconds(10));  // returns as soon as nothing is left
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  CHECK_FALSE(called);
}

TEST_CASE("CurlMulti: destroying it with a result posted but not run calls nothing back", "[net]") {
  asio::io_context io;
  Peer peer(io, true);
  auto multi = std::make_unique<CurlMulti>(io);
  Easy easy(peer.url());
  bool called = false;
  REQUIRE(multi->start(easy.handle, [&](CURLcode) { called = true; }));
  // Run until the transfer is no longer running (its result is posted), then destroy.
  for (int i = 0; i < 1000 && multi->running() != 0; ++i) io.run_one_for(std::chrono::milliseconds(50));
  REQUIRE(multi->running() == 0);
  multi.reset();
  peer.stop();
  io.run_for(std::chrono::seconds(5));
  CHECK_FALSE(called);
}
