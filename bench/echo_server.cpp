// Baseline for bench/pop_latency.py: a bare Boost.Beast WebSocket echo server on loopback.
// One thread, one coroutine-free async session per connection. Prints "PORT <n>" on stdout.
// `echo_server --reply-bytes N`: answers every message with one N-byte text message instead of
// echoing it, so a client can send a tiny (cheaply masked) request and time the receipt of a
// pop-sized frame, like a pop's server -> client direction.
#include <utility>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <iostream>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

static std::string reply;  // empty: echo mode

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket s) : ws_(std::move(s)) {}
  void start() {
    ws_.next_layer().set_option(tcp::no_delay(true));
    ws_.async_accept([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->read();
    });
  }

 private:
  void read() {
    ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      self->ws_.text(reply.empty() ? self->ws_.got_text() : true);
      auto payload = reply.empty() ? self->buf_.data() : asio::buffer(reply);
      self->ws_.async_write(payload, [self](beast::error_code ec2, std::size_t) {
        if (ec2) return;
        self->buf_.consume(self->buf_.size());
        self->read();
      });
    });
  }
  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buf_;
};

static void do_accept(tcp::acceptor& acc) {
  acc.async_accept([&acc](beast::error_code ec, tcp::socket s) {
    if (!ec) std::make_shared<Session>(std::move(s))->start();
    do_accept(acc);
  });
}

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--reply-bytes")) {
      reply.assign(static_cast<std::size_t>(std::atoi(argv[i + 1])), 'x');
      if (reply.size() >= 2) reply.front() = '"', reply.back() = '"';  // a JSON string
    }
  }
  asio::io_context ioc{1};
  tcp::acceptor acc(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::cout << "PORT " << acc.local_endpoint().port() << std::endl;
  do_accept(acc);
  ioc.run();
}
