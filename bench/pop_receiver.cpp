// The agents' side of bench/pop_latency.py in C++: holds N agent WebSockets to omnitraild on one
// Asio thread and stamps each pop.ringing frame when its read completes, so the measurement is
// not the Python load generator's (one interpreter reading 1,000 sockets under the GIL).
// Timestamps are std::chrono::steady_clock = CLOCK_MONOTONIC, the clock of Python's
// time.monotonic() that stamps t0 in the generator: the two processes' times compare directly.
//
//   pop_receiver HOST PORT            reads "AGENT TOKEN" lines on stdin until an empty line,
//                                     connects them all (hello read), prints "READY"; then prints
//                                     "R <t1_ns> <agent> <phone key> <bytes>" per pop.ringing
//                                     until stdin says STOP; then "T <type> <count>" and
//                                     "E <error>" lines and "END".
//   pop_receiver --echo HOST PORT N   N round trips (16-byte request, the echo server's reply) to
//                                     bench/echo_server; prints "RTT <ns>" per round: the baseline
//                                     through this same client.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

static long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Shared {
  std::vector<std::string> lines;  // output, written at the end (no I/O on the read path)
  std::map<std::string, long> types;
  std::vector<std::string> errors;
  int connected = 0;
};

class Agent : public std::enable_shared_from_this<Agent> {
 public:
  Agent(asio::io_context& io, Shared& shared, std::string id, std::string token)
      : ws_(io), shared_(shared), id_(std::move(id)), token_(std::move(token)) {}

  void connect(const tcp::endpoint& endpoint, const std::string& host) {
    auto self = shared_from_this();
    ws_.next_layer().async_connect(endpoint, [self, host](beast::error_code ec) {
      if (ec) return self->fail("connect", ec);
      self->ws_.next_layer().set_option(tcp::no_delay(true));
      self->ws_.set_option(websocket::stream_base::decorator([token = self->token_](websocket::request_type& r) {
        r.set(beast::http::field::authorization, "Bearer " + token);
      }));
      self->ws_.async_handshake(host, "/api/v1/agents/ws", [self](beast::error_code ec2) {
        if (ec2) return self->fail("handshake", ec2);
        self->read(true);
      });
    });
  }

 private:
  void read(bool hello) {
    auto self = shared_from_this();
    ws_.async_read(buffer_, [self, hello](beast::error_code ec, std::size_t bytes) {
      const long long t1 = now_ns();
      if (ec) return self->fail("read", ec);
      std::string text = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      if (hello) {
        ++self->shared_.connected;
      } else {
        self->on_message(t1, text, bytes);
      }
      self->read(false);
    });
  }

  void on_message(long long t1, const std::string& text, std::size_t bytes) {
    auto msg = nlohmann::json::parse(text, nullptr, false);
    if (!msg.is_object()) return;
    const std::string type = msg.value("type", std::string());
    ++shared_.types[type];
    if (type != "pop.ringing") return;
    const auto& pop = msg["pop"];
    if (!pop.is_object() || !pop.contains("customer_view")) return;
    const auto& view = pop["customer_view"];
    if (!view.is_object() || !view.contains("identities") || !view["identities"].is_array()) return;
    for (const auto& ident : view["identities"]) {
      if (ident.is_object() && ident.value("kind", std::string()) == "phone") {
        shared_.lines.push_back("R " + std::to_string(t1) + " " + id_ + " " + ident.value("key", std::string()) + " " +
                                std::to_string(bytes));
      }
    }
  }

  void fail(const char* what, const beast::error_code& ec) {
    if (ec == asio::error::operation_aborted) return;
    shared_.errors.push_back(id_ + ": " + what + ": " + ec.message());
  }

  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buffer_;
  Shared& shared_;
  std::string id_, token_;
};

static int echo_mode(const std::string& host, const std::string& port, int rounds) {
  asio::io_context io;
  tcp::resolver resolver(io);
  websocket::stream<tcp::socket> ws(io);
  asio::connect(ws.next_layer(), resolver.resolve(host, port));
  ws.next_layer().set_option(tcp::no_delay(true));
  ws.handshake(host, "/");
  const std::string request(16, 'x');
  beast::flat_buffer buffer;
  for (int i = 0; i < rounds; ++i) {
    const long long t0 = now_ns();
    ws.write(asio::buffer(request));
    ws.read(buffer);
    const long long t1 = now_ns();
    buffer.consume(buffer.size());
    std::printf("RTT %lld\n", t1 - t0);
  }
  std::printf("END\n");
  return 0;
}

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  if (argc == 5 && std::string(argv[1]) == "--echo") return echo_mode(argv[2], argv[3], std::atoi(argv[4]));
  if (argc != 3) {
    std::fprintf(stderr, "usage: pop_receiver HOST PORT  |  pop_receiver --echo HOST PORT ROUNDS\n");
    return 64;
  }
  const std::string host = argv[1];
  asio::io_context io;
  Shared shared;
  std::vector<std::shared_ptr<Agent>> agents;
  const tcp::endpoint endpoint(asio::ip::make_address(host), static_cast<unsigned short>(std::atoi(argv[2])));
  std::string line;
  while (std::getline(std::cin, line) && !line.empty()) {
    const auto space = line.find(' ');
    if (space == std::string::npos) continue;
    agents.push_back(std::make_shared<Agent>(io, shared, line.substr(0, space), line.substr(space + 1)));
  }
  for (auto& a : agents) a->connect(endpoint, host);
  // Run the loop on this thread; a second thread waits for STOP on stdin and stops the loop.
  bool ready_printed = false;
  asio::steady_timer ready_timer(io);
  std::function<void()> check_ready = [&] {
    if (!ready_printed && shared.connected + static_cast<int>(shared.errors.size()) >= static_cast<int>(agents.size())) {
      ready_printed = true;
      std::printf("READY %d\n", shared.connected);
      std::fflush(stdout);
      return;
    }
    ready_timer.expires_after(std::chrono::milliseconds(20));
    ready_timer.async_wait([&](beast::error_code ec) {
      if (!ec) check_ready();
    });
  };
  check_ready();
  auto guard = asio::make_work_guard(io);
  std::thread stdin_thread([&] {
    std::string command;
    while (std::getline(std::cin, command) && command != "STOP") {
    }
    asio::post(io, [&] { io.stop(); });
  });
  io.run();
  stdin_thread.join();
  for (const auto& l : shared.lines) std::printf("%s\n", l.c_str());
  for (const auto& [type, count] : shared.types) std::printf("T %s %ld\n", type.c_str(), count);
  for (const auto& e : shared.errors) std::printf("E %s\n", e.c_str());
  std::printf("END\n");
  std::fflush(stdout);
  return 0;
}
