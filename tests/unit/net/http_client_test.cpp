// HttpClient against a real HTTP/1.1 peer: a small Asio coroutine server on 127.0.0.1 (plain and
// TLS) that answers by path: a status, a delay, an early close, a huge body, or nothing at all.
#include <utility>  // Boost 1.74 + GCC 12: Asio's headers need std::exchange declared first.

#include "daemon/net/http_client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using omnitrail::net::HttpClient;
using omnitrail::net::HttpClientOptions;
using omnitrail::net::HttpRequest;
using omnitrail::net::HttpResponse;
using namespace std::chrono_literals;

namespace {

const std::string kCertFile = std::string(OMNITRAIL_SOURCE_DIR) + "/tests/unit/net/testdata/localhost.crt";
const std::string kKeyFile = std::string(OMNITRAIL_SOURCE_DIR) + "/tests/unit/net/testdata/localhost.key";

struct ReceivedRequest {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // lower-cased names
};

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string response_head(int status, const std::string& extra, std::size_t length) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\n" + extra +
         "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

/// Paths: /echo (200, body "<method> <body>", X-Reply: yes), /status/<n>, /slow/<ms>, /hang (reads,
/// never answers), /close (closes without answering), /many-headers (90 KB of headers),
/// /big (1 MiB, Content-Length), /big-chunked (1 MiB, chunked). Keeps connections alive between requests.
class TestServer {
 public:
  explicit TestServer(asio::io_context& io, bool tls = false, const char* address = "127.0.0.1")
      : io_(io), acceptor_(io, tcp::endpoint(asio::ip::make_address(address), 0)), tls_(tls),
        ssl_(asio::ssl::context::tls_server) {
    if (tls_) {
      ssl_.use_certificate_chain_file(kCertFile);
      ssl_.use_private_key_file(kKeyFile, asio::ssl::context::pem);
    }
    asio::co_spawn(io_, accept_loop(), [](std::exception_ptr) {});
  }

  std::string url(const std::string& path) const {
    const auto endpoint = acceptor_.local_endpoint();
    return std::string(tls_ ? "https" : "http") + "://" + endpoint.address().to_string() + ":" +
           std::to_string(endpoint.port()) + path;
  }

  /// Closes the acceptor and every connection, so that the io_context can run out of work.
  void stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& weak : sockets_) {
      if (auto socket = weak.lock()) socket->close(ec);
    }
  }

  std::vector<ReceivedRequest> received;
  int connections = 0;
  int active = 0;      // requests being answered right now
  int max_active = 0;

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      auto socket = std::make_shared<tcp::socket>(io_);
      co_await acceptor_.async_accept(*socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ++connections;
      sockets_.push_back(socket);
      if (tls_) {
        asio::co_spawn(io_, serve_tls(socket), [](std::exception_ptr) {});
      } else {
        asio::co_spawn(io_, serve(*socket, socket), [](std::exception_ptr) {});
      }
    }
  }

  asio::awaitable<void> serve_tls(std::shared_ptr<tcp::socket> socket) {
    asio::ssl::stream<tcp::socket&> stream(*socket, ssl_);
    boost::system::error_code ec;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await serve(stream, socket);
  }

  template <typename Stream>
  asio::awaitable<void> serve(Stream& stream, std::shared_ptr<tcp::socket> socket) {
    std::string buffer;
    for (;;) {
      boost::system::error_code ec;
      const std::size_t head_size = co_await asio::async_read_until(
          stream, asio::dynamic_buffer(buffer), "\r\n\r\n", asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ReceivedRequest request;
      std::string head = buffer.substr(0, head_size);
      buffer.erase(0, head_size);
      std::size_t line_end = head.find("\r\n");
      std::string request_line = head.substr(0, line_end);
      request.method = request_line.substr(0, request_line.find(' '));
      request.target = request_line.substr(request.method.size() + 1);
      request.target = request.target.substr(0, request.target.find(' '));
      for (std::size_t pos = line_end + 2; pos < head.size();) {
        const std::size_t end = head.find("\r\n", pos);
        const std::string line = head.substr(pos, end - pos);
        pos = end + 2;
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        request.headers[lower(line.substr(0, colon))] = value;
      }
      std::size_t length = 0;
      if (auto found = request.headers.find("content-length"); found != request.headers.end()) {
        length = std::stoul(found->second);
      }
      if (buffer.size() < length) {
        co_await asio::async_read(stream, asio::dynamic_buffer(buffer), asio::transfer_exactly(length - buffer.size()),
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
      }
      request.body = buffer.substr(0, length);
      buffer.erase(0, length);
      received.push_back(request);

      ++active;
      max_active = std::max(max_active, active);
      std::string reply;
      const std::string& target = request.target;
      if (target == "/echo") {
        const std::string body = request.method + " " + request.body;
        reply = response_head(200, "X-Reply: yes\r\nContent-Type: text/plain\r\n", body.size()) + body;
      } else if (target.rfind("/status/", 0) == 0) {
        reply = response_head(std::stoi(target.substr(8)), "", 4) + "boom";
      } else if (target.rfind("/slow/", 0) == 0) {
        asio::steady_timer timer(io_, std::chrono::milliseconds(std::stoi(target.substr(6))));
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        reply = response_head(200, "", 4) + "slow";
      } else if (target == "/hang") {
        char byte;  // wait for the client to go away (or stop() to close us)
        co_await stream.async_read_some(asio::buffer(&byte, 1), asio::redirect_error(asio::use_awaitable, ec));
        --active;
        co_return;
      } else if (target == "/close") {
        --active;
        socket->close(ec);
        co_return;
      } else if (target == "/many-headers") {
        std::string extra;
        for (int i = 0; i < 1000; ++i) extra += "X-Filler-" + std::to_string(i) + ": " + std::string(80, 'h') + "\r\n";
        reply = response_head(200, extra, 2) + "ok";
      } else if (target == "/big") {
        reply = response_head(200, "", 1 << 20) + std::string(1 << 20, 'x');
      } else if (target == "/big-chunked") {
        reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (int i = 0; i < 64; ++i) reply += "4000\r\n" + std::string(0x4000, 'y') + "\r\n";
        reply += "0\r\n\r\n";
      } else {
        reply = response_head(404, "", 4) + "none";
      }
      --active;
      co_await asio::async_write(stream, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  bool tls_;
  asio::ssl::context ssl_;
  std::vector<std::weak_ptr<tcp::socket>> sockets_;
};

/// Runs the loop until `done()` or the deadline; returns done().
template <typename Predicate>
bool run_until(asio::io_context& io, Predicate done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(10ms);
  }
  return done();
}

void run_for(asio::io_context& io, std::chrono::milliseconds duration) {
  run_until(io, [] { return false; }, duration);
}

HttpRequest make_request(std::string url, std::string method = "POST", std::string body = "") {
  HttpRequest request;
  request.url = std::move(url);
  request.method = std::move(method);
  request.body = std::move(body);
  return request;
}

/// One request, run to completion.
HttpResponse fetch(asio::io_context& io, HttpClient& client, HttpRequest request) {
  std::optional<HttpResponse> response;
  REQUIRE(client.request(std::move(request), [&](HttpResponse r) { response = std::move(r); }));
  REQUIRE(run_until(io, [&] { return response.has_value(); }, 20s));
  return std::move(*response);
}

}  // namespace

TEST_CASE("a request, its headers and body reach the server and the response comes back", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io);

  HttpRequest request = make_request(server.url("/echo"), "POST", R"({"a":1})");
  request.headers = {{"Content-Type", "application/json"}, {"X-Test", "one two"}, {"X-Empty", ""}};
  request.basic_auth_user = "user";
  request.basic_auth_password = "pass";
  const HttpResponse response = fetch(io, client, request);

  CHECK(response.ok());
  CHECK(response.error.empty());
  CHECK(response.status == 200);
  CHECK(response.body == R"(POST {"a":1})");
  REQUIRE(response.header("x-reply") != nullptr);
  CHECK(*response.header("x-reply") == "yes");
  CHECK(*response.header("content-type") == "text/plain");
  CHECK(!response.timed_out);
  CHECK(!response.connect_failed);

  REQUIRE(server.received.size() == 1);
  const ReceivedRequest& seen = server.received[0];
  CHECK(seen.method == "POST");
  CHECK(seen.target == "/echo");
  CHECK(seen.body == R"({"a":1})");
  CHECK(seen.headers.at("content-type") == "application/json");
  CHECK(seen.headers.at("x-test") == "one two");
  CHECK(seen.headers.at("x-empty").empty());
  CHECK(seen.headers.at("user-agent") == "omnitraild");
  CHECK(seen.headers.at("authorization") == "Basic dXNlcjpwYXNz");  // user:pass
  CHECK(seen.headers.count("expect") == 0);
}

TEST_CASE("GET, PUT and DELETE send their method; no default form content type", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io);

  CHECK(fetch(io, client, make_request(server.url("/echo"), "GET")).body == "GET ");
  CHECK(fetch(io, client, make_request(server.url("/echo"), "PUT", "x")).body == "PUT x");
  CHECK(fetch(io, client, make_request(server.url("/echo"), "DELETE")).body == "DELETE ");
  REQUIRE(server.received.size() == 3);
  CHECK(server.received[0].body.empty());
  CHECK(server.received[1].headers.count("content-type") == 0);
}

TEST_CASE("sequential requests reuse one connection, also when chained from the callback", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io);

  int completed = 0;
  std::function<void(HttpResponse)> next = [&](HttpResponse response) {
    CHECK(response.status == 200);
    if (++completed < 5) client.request(make_request(server.url("/echo"), "POST", "again"), next);
  };
  REQUIRE(client.request(make_request(server.url("/echo"), "POST", "first"), next));
  REQUIRE(run_until(io, [&] { return completed == 5; }));
  CHECK(server.received.size() == 5);
  CHECK(server.connections == 1);
}

TEST_CASE("an HTTP error status passes through as a response", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io);

  const HttpResponse response = fetch(io, client, make_request(server.url("/status/500")));
  CHECK(response.ok());
  CHECK(response.status == 500);
  CHECK(response.body == "boom");
  CHECK(fetch(io, client, make_request(server.url("/status/404"))).status == 404);
}

TEST_CASE("a refused connection is connect_failed", "[net]") {
  asio::io_context io;
  unsigned short port = 0;
  {
    tcp::acceptor closed(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    port = closed.local_endpoint().port();
  }
  HttpClient client(io);
  const HttpResponse response =
      fetch(io, client, make_request("http://127.0.0.1:" + std::to_string(port) + "/"));
  CHECK(!response.ok());
  CHECK(response.connect_failed);
  CHECK(!response.timed_out);
  CHECK(response.status == 0);
  INFO(response.error);
  CHECK(response.error.find("onnect") != std::string::npos);
}

TEST_CASE("a server that never answers times out within the timeout", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io);

  HttpRequest request = make_request(server.url("/hang"));
  request.timeout = 300ms;
  const auto started = std::chrono::steady_clock::now();
  const HttpResponse response = fetch(io, client, request);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(!response.ok());
  CHECK(response.timed_out);
  CHECK(!response.connect_failed);  // the request reached the server
  CHECK(response.status == 0);
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 2s);
  CHECK(server.received.size() == 1);
}

TEST_CASE("a connection closed before any response is an error, not connect_failed", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io);

  const HttpResponse response = fetch(io, client, make_request(server.url("/close")));
  CHECK(!response.ok());
  CHECK(response.status == 0);
  CHECK(!response.connect_failed);
  CHECK(!response.timed_out);
}

TEST_CASE("a body over max_response_bytes or over 64 KiB of headers aborts the transfer", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io);

  for (const char* path : {"/big", "/big-chunked"}) {
    INFO(path);
    HttpRequest request = make_request(server.url(path), "GET");
    request.max_response_bytes = 64 * 1024;
    const HttpResponse response = fetch(io, client, request);
    CHECK(!response.ok());
    CHECK(response.error == "response body larger than 65536 bytes");
    CHECK(response.body.empty());
  }
  const HttpResponse headers = fetch(io, client, make_request(server.url("/many-headers"), "GET"));
  CHECK(headers.error == "response headers larger than 65536 bytes");
  CHECK(headers.headers.size() < 1000);

  HttpRequest enough = make_request(server.url("/big"), "GET");
  enough.max_response_bytes = 1 << 20;
  const HttpResponse whole = fetch(io, client, enough);
  CHECK(whole.ok());
  CHECK(whole.body.size() == 1u << 20);
}

TEST_CASE("CR, LF or NUL in a header, a bad method or scheme: an error and nothing sent", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io);

  std::vector<HttpRequest> bad;
  bad.push_back(make_request(server.url("/echo")));
  bad.back().headers = {{"X-Ok", "fine"}, {"X-Evil", "a\r\nX-Injected: 1"}};
  bad.push_back(make_request(server.url("/echo")));
  bad.back().headers = {{"X-Evil\r\nX-Injected", "1"}};
  bad.push_back(make_request(server.url("/echo")));
  bad.back().headers = {{"X-Evil", std::string("a\0b", 3)}};
  bad.push_back(make_request(server.url("/echo")));
  bad.back().headers = {{"X-Evil", "a\nb"}};
  bad.push_back(make_request(server.url("/echo")));
  bad.back().headers = {{"Bad Name", "x"}};
  bad.push_back(make_request(server.url("/echo"), "GET /other HTTP/1.1\r\n"));
  bad.push_back(make_request("ftp://127.0.0.1/file"));
  bad.push_back(make_request("file:///etc/passwd"));
  bad.push_back(make_request(server.url("/echo\r\nX: y")));

  int completed = 0;
  bool inside_request = false;
  for (auto& request : bad) {
    inside_request = true;
    REQUIRE(client.request(request, [&](HttpResponse response) {
      CHECK(!inside_request);  // never inline
      CHECK(!response.ok());
      CHECK(response.status == 0);
      ++completed;
    }));
    inside_request = false;
  }
  REQUIRE(run_until(io, [&] { return completed == static_cast<int>(bad.size()); }));
  run_for(io, 100ms);
  CHECK(completed == static_cast<int>(bad.size()));
  CHECK(server.received.empty());
  CHECK(server.connections == 0);
}

TEST_CASE("50 concurrent requests with max_in_flight 8 each complete exactly once", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClientOptions options;
  options.max_in_flight = 8;
  HttpClient client(io, options);

  std::vector<int> calls(50, 0);
  int completed = 0;
  for (int i = 0; i < 50; ++i) {
    REQUIRE(client.request(make_request(server.url("/slow/20"), "POST", std::to_string(i)),
                           [&, i](HttpResponse response) {
                             CHECK(response.status == 200);
                             CHECK(response.body == "slow");
                             ++calls[i];
                             ++completed;
                           }));
  }
  CHECK(client.in_flight() == 8);
  CHECK(client.queued() == 42);
  REQUIRE(run_until(io, [&] { return completed == 50; }, 30s));
  run_for(io, 100ms);
  for (int i = 0; i < 50; ++i) CHECK(calls[i] == 1);
  CHECK(server.received.size() == 50);
  CHECK(server.max_active <= 8);
  CHECK(server.connections <= 8);  // kept alive and reused
  CHECK(client.in_flight() == 0);
  CHECK(client.queued() == 0);
}

TEST_CASE("a full queue makes request() fail at once without calling back", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClientOptions options;
  options.max_in_flight = 1;
  options.max_queued = 2;
  HttpClient client(io, options);

  int completed = 0;
  auto count = [&](HttpResponse) { ++completed; };
  CHECK(client.request(make_request(server.url("/slow/50")), count));
  CHECK(client.request(make_request(server.url("/slow/50")), count));
  CHECK(client.request(make_request(server.url("/slow/50")), count));
  bool called = false;
  CHECK_FALSE(client.request(make_request(server.url("/slow/50")), [&](HttpResponse) { called = true; }));
  CHECK(client.in_flight() == 1);
  CHECK(client.queued() == 2);
  REQUIRE(run_until(io, [&] { return completed == 3; }));
  run_for(io, 100ms);
  CHECK(!called);
  CHECK(client.request(make_request(server.url("/slow/1")), count));  // room again
  REQUIRE(run_until(io, [&] { return completed == 4; }));
}

TEST_CASE("stop() aborts transfers in flight and queued: callbacks get \"stopped\"", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClientOptions options;
  options.max_in_flight = 3;
  HttpClient client(io, options);

  std::vector<HttpResponse> responses;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(client.request(make_request(server.url("/hang")),
                           [&](HttpResponse response) { responses.push_back(std::move(response)); }));
  }
  REQUIRE(run_until(io, [&] { return server.received.size() == 3; }));
  client.stop();
  CHECK(responses.empty());  // posted, not inline
  CHECK(client.in_flight() == 0);
  CHECK(client.queued() == 0);
  client.stop();  // idempotent
  CHECK_FALSE(client.request(make_request(server.url("/echo")), [](HttpResponse) { FAIL("called"); }));
  REQUIRE(run_until(io, [&] { return responses.size() == 5; }));
  for (const auto& response : responses) {
    CHECK(response.error == "stopped");
    CHECK(response.status == 0);
  }
  // The client holds no sockets or timers any more: with the server gone, the loop runs dry.
  server.stop();
  io.restart();
  io.run_for(5s);
  CHECK(io.stopped());
  CHECK(responses.size() == 5);
}

TEST_CASE("an idle client leaves no work on the io_context", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io);
  CHECK(fetch(io, client, make_request(server.url("/echo"))).status == 200);
  server.stop();  // the cached connection now sees EOF; curl drops it when it next looks
  io.restart();
  io.run_for(5s);
  CHECK(io.stopped());
}

TEST_CASE("destroying the client with transfers in flight is safe and calls nothing back", "[net]") {
  asio::io_context io;
  TestServer server(io);
  for (int iteration = 0; iteration < 5; ++iteration) {
    bool destroyed = false;
    int completed = 0;
    {
      HttpClientOptions options;
      options.max_in_flight = 4;
      HttpClient client(io, options);
      for (int i = 0; i < 12; ++i) {
        const char* path = i % 3 == 0 ? "/hang" : (i % 3 == 1 ? "/slow/30" : "/echo");
        REQUIRE(client.request(make_request(server.url(path)), [&](HttpResponse) {
          CHECK(!destroyed);
          ++completed;
        }));
      }
      run_for(io, std::chrono::milliseconds(10 * iteration));
      if (iteration % 2 == 1) client.stop();  // stopped callbacks posted, then destroyed at once
    }
    destroyed = true;
    run_for(io, 100ms);
    INFO("iteration " << iteration << " completed " << completed);
    CHECK(completed <= 12);
  }
}

TEST_CASE("https: TLS is verified; ca_file adds a trusted CA", "[net]") {
  asio::io_context io;
  TestServer server(io, true);
  HttpClient client(io);

  HttpRequest untrusted = make_request(server.url("/echo"), "POST", "tls");
  const HttpResponse rejected = fetch(io, client, untrusted);
  CHECK(!rejected.ok());
  CHECK(rejected.connect_failed);
  CHECK(rejected.status == 0);
  CHECK(server.received.empty());

  HttpRequest trusted = untrusted;
  trusted.ca_file = kCertFile;
  const HttpResponse response = fetch(io, client, trusted);
  INFO(response.error);
  CHECK(response.ok());
  CHECK(response.status == 200);
  CHECK(response.body == "POST tls");

  TestServer other(io, true, "127.0.0.2");  // the certificate names 127.0.0.1 and localhost only
  HttpRequest wrong_name = trusted;
  wrong_name.url = other.url("/echo");
  const HttpResponse mismatch = fetch(io, client, wrong_name);
  INFO(mismatch.error);
  CHECK(!mismatch.ok());
  CHECK(mismatch.connect_failed);
  CHECK(other.connections == 1);
  CHECK(other.received.empty());
}

TEST_CASE("errors never show URL userinfo or the basic auth password", "[net]") {
  asio::io_context io;
  unsigned short port = 0;
  {
    tcp::acceptor closed(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    port = closed.local_endpoint().port();
  }
  HttpClient client(io);
  HttpRequest request = make_request("http://alice:s3cret@127.0.0.1:" + std::to_string(port) + "/");
  request.basic_auth_password = "hunter2";
  const HttpResponse response = fetch(io, client, request);
  CHECK(!response.ok());
  CHECK(response.error.find("s3cret") == std::string::npos);
  CHECK(response.error.find("alice") == std::string::npos);
  CHECK(response.error.find("hunter2") == std::string::npos);
}

TEST_CASE("host names go through curl's resolver off the io thread", "[net]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io);

  const std::string port = server.url("").substr(std::string("http://127.0.0.1:").size());
  const HttpResponse response = fetch(io, client, make_request("http://localhost:" + port + "/echo", "GET"));
  INFO(response.error);
  CHECK(response.status == 200);

  HttpRequest unknown = make_request("http://no-such-host.invalid/");
  unknown.connect_timeout = 3s;
  const HttpResponse missing = fetch(io, client, unknown);
  INFO(missing.error);
  CHECK(!missing.ok());
  CHECK(missing.connect_failed);
  CHECK(missing.status == 0);
}
