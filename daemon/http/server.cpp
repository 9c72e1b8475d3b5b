// Beast HTTP server. One coroutine per connection on its own strand; every read and write has
// a deadline (tcp_stream expiry); header and body sizes are bounded by the parser; the number of
// open connections is bounded (extra ones get a short 503 and are closed).
#include <utility>

#include "daemon/http/server.hpp"

#include <atomic>
#include <optional>
#include <unordered_set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>

#include "daemon/metrics/metrics.hpp"
#include "daemon/util/log.hpp"

namespace omnitrail::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t max_pending_rejects = 64;
const char* const server_name = "omnitraild";

bool is_disconnect(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::operation_aborted ||
         ec == asio::error::bad_descriptor || ec == asio::ssl::error::stream_truncated;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

bool split_host_port(const std::string& text, std::string& host, unsigned short& port) {
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') return false;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) return false;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (host.empty() || port_text.empty() || port_text.size() > 5) return false;
  unsigned value = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return false;
  port = static_cast<unsigned short>(value);
  return true;
}

struct SessionBase {
  virtual ~SessionBase() = default;
  virtual void close_if_idle() = 0;
  virtual void force_close() = 0;
};

struct WebSocketBase {
  virtual ~WebSocketBase() = default;
  virtual void going_away() = 0;   // graceful stop: close 1001
  virtual void force_close() = 0;
};

namespace {

// Builds the handler-facing Request from Beast's message (moves the body out).
Request to_request(bhttp::request<bhttp::string_body>& raw, const std::string& remote) {
  Request request;
  request.method = std::string(raw.method_string());
  request.target = std::string(raw.target());
  auto q = request.target.find('?');
  request.path = percent_decode(std::string_view(request.target).substr(0, q));
  if (q != std::string::npos) request.query = request.target.substr(q + 1);
  for (const auto& field : raw) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  request.body = std::move(raw.body());
  request.remote_address = remote;
  request.received_at = std::chrono::steady_clock::now();
  return request;
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& context, metrics::Registry& registry)
      : ioc(context),
        metrics(registry),
        router(std::make_shared<Router>()),
        open_connections(registry.gauge("omnitrail_http_connections", "Open HTTP connections.")),
        rejected(registry.counter("omnitrail_http_connections_rejected_total",
                                  "Connections refused because server.limits.max_connections was reached.")),
        duration(registry.histogram("omnitrail_http_request_duration_seconds",
                                    "Time from a request's last byte read to its response written.")) {}

  asio::io_context& ioc;
  metrics::Registry& metrics;
  std::shared_ptr<const Router> router;
  config::ServerLimits limits;
  std::shared_ptr<asio::ssl::context> tls;
  struct Listener {
    std::unique_ptr<tcp::acceptor> acceptor;
    std::shared_ptr<asio::ssl::context> tls;
    std::string endpoint;
  };
  std::vector<Listener> listeners;
  std::unordered_set<SessionBase*> sessions;
  std::unordered_set<WebSocketBase*> websockets;
  std::size_t pending_rejects = 0;
  bool stopping = false;
  std::function<void()> on_stopped;
  std::unique_ptr<asio::steady_timer> stop_timer;
  metrics::Gauge& open_connections;
  metrics::Counter& rejected;
  metrics::Histogram& duration;

  void count_request(int status) {
    metrics.counter("omnitrail_http_requests_total", "HTTP responses sent, by status code.",
                    {{"code", std::to_string(status)}})
        .inc();
  }
  void count_bad(const char* reason) {
    metrics.counter("omnitrail_http_bad_requests_total", "Requests refused before routing, by reason.",
                    {{"reason", reason}})
        .inc();
  }

  void session_ended(SessionBase* s) {
    sessions.erase(s);
    open_connections.set(static_cast<double>(sessions.size() + websockets.size()));
    maybe_finish_stop();
  }

  void websocket_ended(WebSocketBase* w) {
    websockets.erase(w);
    open_connections.set(static_cast<double>(sessions.size() + websockets.size()));
    maybe_finish_stop();
  }

  void maybe_finish_stop() {
    if (!stopping || !sessions.empty() || !websockets.empty() || !on_stopped) return;
    if (stop_timer) stop_timer->cancel();
    auto done = std::move(on_stopped);
    on_stopped = nullptr;
    asio::post(ioc, std::move(done));
  }

  asio::awaitable<void> accept_loop(std::size_t index);
  asio::awaitable<void> reject(tcp::socket socket);
};

template <typename Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <typename... Args>
  Session(std::shared_ptr<Server::Impl> server, std::string remote, Args&&... args)
      : server_(std::move(server)), stream_(std::forward<Args>(args)...), remote_(std::move(remote)) {}

  void close_if_idle() override {
    if (idle_) force_close();
  }
  void force_close() override {
    if (upgraded_) return;  // the stream belongs to a WebSocket now
    error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
    // A request waiting for its handler (a slow store job) must not hold the stop up.
    if (auto p = waiting_.lock()) p->timer.cancel();
  }

  // Takes its own owner: co_spawn starts the coroutine later, after the caller's pointer is gone.
  static asio::awaitable<void> run(std::shared_ptr<Session> self) { co_await self->run_owned(); }

 private:
  asio::awaitable<void> run_owned() {
    try {
      co_await serve();
    } catch (const std::exception& e) {
      log::warning("http", "connection from ", remote_, " closed after an internal error: ", e.what());
    }
    force_close();  // no-op when the stream now belongs to a WebSocket
    server_->session_ended(this);
  }

  asio::awaitable<void> serve() {
    error_code ec;
    auto& lowest = beast::get_lowest_layer(stream_);
    const auto limits = server_->limits;
    if constexpr (is_tls) {
      lowest.expires_after(limits.read_timeout);
      co_await stream_.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        log::debug("http", "TLS handshake with ", remote_, " failed: ", ec.message());
        co_return;
      }
    }
    bool first = true;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
      parser.body_limit(limits.max_body_bytes);
      idle_ = buffer_.size() == 0;
      lowest.expires_after(first ? limits.read_timeout : limits.idle_timeout);
      if (!first && server_->stopping && buffer_.size() == 0) co_return;
      co_await bhttp::async_read_header(stream_, buffer_, parser, asio::redirect_error(asio::use_awaitable, ec));
      idle_ = false;
      if (!ec && !parser.is_done()) {
        if (auto expect = parser.get()[bhttp::field::expect]; beast::iequals(expect, "100-continue")) {
          bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
          lowest.expires_after(limits.write_timeout);
          co_await bhttp::async_write(stream_, cont, asio::redirect_error(asio::use_awaitable, ec));
        }
        if (!ec) {
          lowest.expires_after(limits.read_timeout);
          co_await bhttp::async_read(stream_, buffer_, parser, asio::redirect_error(asio::use_awaitable, ec));
        }
      }
      if (ec) {
        co_await refuse(ec, parser.got_some() || buffer_.size() > 0);
        co_return;
      }
      auto request = parser.release();
      if (beast::websocket::is_upgrade(request)) {
        auto path = percent_decode(std::string_view(request.target()).substr(0, request.target().find('?')));
        if (const auto* factory = server_->router->find_websocket(path)) {
          co_await upgrade(*factory, std::move(request));
          co_return;
        }
      }
      const bool keep_alive = request.keep_alive();
      const auto started = std::chrono::steady_clock::now();
      Response response = co_await dispatch(std::move(request));
      const bool head = last_method_ == "HEAD";
      co_await write(std::move(response), keep_alive && !server_->stopping, head, ec);
      server_->duration.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (ec || !keep_alive || server_->stopping) co_return;
      first = false;
    }
  }

  // Answers a request that could not be read, then the connection closes.
  asio::awaitable<void> refuse(const error_code& ec, bool got_bytes) {
    int status = 0;
    const char* code = "bad_request";
    std::string message;
    if (ec == bhttp::error::header_limit) {
      status = 431, code = "header_too_large", message = "request header exceeds server.limits.max_header_bytes";
    } else if (ec == bhttp::error::body_limit) {
      status = 413, code = "body_too_large", message = "request body exceeds server.limits.max_body_bytes";
    } else if (ec == beast::error::timeout) {
      if (!got_bytes) co_return;  // an idle keep-alive connection: close quietly
      status = 408, code = "request_timeout", message = "the request did not arrive within server.limits.read_timeout";
    } else if (is_disconnect(ec)) {
      co_return;
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() || ec == bhttp::error::partial_message) {
      status = 400, message = "malformed HTTP request: " + ec.message();
    } else {
      log::debug("http", "read from ", remote_, " failed: ", ec.message());
      co_return;
    }
    server_->count_bad(code);
    log::debug("http", "refusing request from ", remote_, ": ", message);
    error_code write_ec;
    co_await write(Response::error(status, code, message), false, false, write_ec);
  }

  // Hands the connection to a WebSocket session (defined below), or answers 403.
  asio::awaitable<void> upgrade(const WebSocketFactory& factory, bhttp::request<bhttp::string_body>&& raw);

  asio::awaitable<Response> dispatch(bhttp::request<bhttp::string_body>&& raw) {
    Request request = to_request(raw, remote_);
    last_method_ = request.method;

    auto executor = stream_.get_executor();
    auto pending = std::make_shared<Pending>(executor);
    waiting_ = pending;  // force_close() wakes us if the server stops meanwhile
    pending->timer.expires_after(server_->limits.read_timeout);
    Respond respond = [pending, executor](Response r) {
      if (pending->answered.exchange(true)) return;
      asio::post(executor, [pending, r = std::move(r)]() mutable {
        pending->response = std::move(r);
        pending->timer.cancel();
      });
    };
    if (request.path.empty() || request.path.front() != '/') {
      respond(Response::error(400, "bad_target", "request target must be an absolute path"));
    } else {
      try {
        server_->router->dispatch(std::move(request), respond);
      } catch (const std::exception& e) {
        log::error("http", "handler for ", last_method_, " failed: ", e.what());
        respond(Response::error(500, "internal", "internal error"));
      }
    }
    error_code ec;
    if (!pending->response) co_await pending->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!pending->response) {
      pending->answered = true;
      co_return Response::error(503, "timeout", "the request could not be completed in time; retry later");
    }
    co_return std::move(*pending->response);
  }

  asio::awaitable<void> write(Response response, bool keep_alive, bool head, error_code& ec) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), 11};
    res.set(bhttp::field::server, server_name);
    res.set(bhttp::field::content_type, response.content_type);
    res.set("X-Content-Type-Options", "nosniff");
    for (auto& [name, value] : response.headers) res.set(name, value);
    res.keep_alive(keep_alive);
    const auto size = response.body.size();
    if (!head) res.body() = std::move(response.body);
    res.content_length(size);
    server_->count_request(response.status);
    beast::get_lowest_layer(stream_).expires_after(server_->limits.write_timeout);
    co_await bhttp::async_write(stream_, res, asio::redirect_error(asio::use_awaitable, ec));
    if (!keep_alive && !ec) {
      if constexpr (is_tls) {
        beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
        error_code ignored;
        co_await stream_.async_shutdown(asio::redirect_error(asio::use_awaitable, ignored));
      } else {
        error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      }
    }
  }

  std::shared_ptr<Server::Impl> server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::string remote_;
  std::string last_method_;
  bool idle_ = true;
  bool upgraded_ = false;

  // A request waiting for its handler's response.
  struct Pending {
    explicit Pending(asio::any_io_executor ex) : timer(ex) {}
    std::optional<Response> response;
    asio::steady_timer timer;
    std::atomic<bool> answered{false};
  };
  std::weak_ptr<Pending> waiting_;
};

// One accepted WebSocket: a reader coroutine, a writer coroutine with one write in flight and
// a bounded queue, Beast's idle timeout with keep-alive pings, and a close deadline.
template <typename Stream>
class WsConnection : public WebSocket, public WebSocketBase, public std::enable_shared_from_this<WsConnection<Stream>> {
 public:
  WsConnection(std::shared_ptr<Server::Impl> server, Stream&& stream, std::string remote, WebSocketOptions options,
               std::shared_ptr<WebSocketSession> session)
      : server_(std::move(server)),
        ws_(std::move(stream)),
        remote_(std::move(remote)),
        options_(options),
        session_(std::move(session)),
        close_timer_(ws_.get_executor()) {}

  static asio::awaitable<void> run(std::shared_ptr<WsConnection> self, bhttp::request<bhttp::string_body> request) {
    co_await self->run_owned(std::move(request));
  }

  bool send(Frame frame) override {
    if (!open_ || closing_ || !frame.text) return false;
    if (queue_.size() >= options_.max_queue_messages || queued_bytes_ + frame.text->size() > options_.max_queue_bytes) {
      log::warning("websocket", remote_, ": send queue full (", queue_.size(), " messages); disconnecting");
      close(4008, "client is too slow");
      return false;
    }
    queued_bytes_ += frame.text->size();
    queue_.push_back(std::move(frame));
    if (!writing_) {
      // Marked here, not in the coroutine: it starts later, and a second send() before then
      // must not start a second writer (two writes in flight corrupt the stream).
      writing_ = true;
      asio::co_spawn(ws_.get_executor(), write_loop(this->shared_from_this()), asio::detached);
    }
    return true;
  }

  void close(int code, std::string reason) override {
    if (closing_ || finished_) return;
    if (!open_) {
      // Still in the handshake: a close frame now would race the 101 response. Just drop it.
      closing_ = true;
      force_close();
      return;
    }
    closing_ = true;
    close_code_ = code;
    close_reason_ = std::move(reason);
    // Frames not yet being written are dropped: the peer is leaving or too slow to take them.
    while (queue_.size() > (writing_ ? 1u : 0u)) {
      queued_bytes_ -= queue_.back().text->size();
      queue_.pop_back();
    }
    close_timer_.expires_after(std::chrono::seconds(5));
    close_timer_.async_wait([weak = this->weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->force_close();
    });
    if (!writing_) {
      writing_ = true;  // the close frame is a write too: nothing else may start meanwhile
      asio::co_spawn(ws_.get_executor(), close_then_release(this->shared_from_this()), asio::detached);
    }
  }

  bool is_open() const override { return open_ && !closing_; }
  const std::string& remote_address() const override { return remote_; }
  std::size_t queued_messages() const override { return queue_.size(); }

  void going_away() override { close(1001, "server shutting down"); }
  void force_close() override {
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
  }

 private:
  asio::awaitable<void> run_owned(bhttp::request<bhttp::string_body> request) {
    namespace websocket = beast::websocket;
    error_code ec;
    beast::get_lowest_layer(ws_).expires_never();  // the websocket stream has its own timeouts
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(10);
    timeouts.idle_timeout = options_.heartbeat * 2;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(bhttp::field::server, server_name); }));
    ws_.read_message_max(options_.max_message_bytes);
    // One frame per message: a pop with history is ~6 KB and would otherwise go out in 4 KiB
    // fragments (more syscalls, and clients that mishandle continuation frames lose it).
    ws_.auto_fragment(false);
    co_await ws_.async_accept(request, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      log::debug("websocket", "handshake with ", remote_, " failed: ", ec.message());
      finish(1006, "handshake failed");
      co_return;
    }
    open_ = true;
    auto self = this->shared_from_this();
    try {
      session_->on_open(self);
      beast::flat_buffer buffer;
      for (;;) {
        co_await ws_.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        if (!ws_.got_text()) {
          buffer.consume(buffer.size());
          close(1003, "binary frames are not supported");
          continue;
        }
        std::string text = beast::buffers_to_string(buffer.data());
        buffer.consume(buffer.size());
        if (!closing_) session_->on_message(std::move(text));
      }
    } catch (const std::exception& e) {
      log::error("websocket", remote_, ": session failed: ", e.what());
    }
    int code = close_code_;
    std::string reason = close_reason_;
    if (ec == websocket::error::closed) {
      if (!closing_) code = ws_.reason().code, reason = std::string(ws_.reason().reason.c_str());
    } else if (ec == websocket::error::message_too_big) {
      code = 1009, reason = "message too big";
    } else if (!closing_) {
      code = 1006, reason = ec ? ec.message() : "closed";
    }
    finish(code, reason);
  }

  static asio::awaitable<void> write_loop(std::shared_ptr<WsConnection> self) {
    error_code ec;
    while (!self->queue_.empty()) {
      Frame frame = self->queue_.front();
      self->ws_.text(true);
      co_await self->ws_.async_write(asio::buffer(*frame.text), asio::redirect_error(asio::use_awaitable, ec));
      if (!self->queue_.empty()) {
        self->queued_bytes_ -= self->queue_.front().text->size();
        self->queue_.pop_front();
      }
      if (ec) break;
      if (frame.latency) {
        frame.latency->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - frame.origin).count());
      }
    }
    self->writing_ = false;
    if (ec) {
      self->queue_.clear();
      self->queued_bytes_ = 0;
      self->force_close();
      co_return;
    }
    if (self->closing_ && !self->close_sent_) co_await send_close(self);
  }

  static asio::awaitable<void> close_then_release(std::shared_ptr<WsConnection> self) {
    co_await send_close(self);
    self->writing_ = false;
  }

  static asio::awaitable<void> send_close(std::shared_ptr<WsConnection> self) {
    if (self->close_sent_ || self->finished_) co_return;
    self->close_sent_ = true;
    error_code ec;
    beast::websocket::close_reason reason(static_cast<std::uint16_t>(self->close_code_));
    reason.reason = self->close_reason_;
    co_await self->ws_.async_close(reason, asio::redirect_error(asio::use_awaitable, ec));
  }

  void finish(int code, const std::string& reason) {
    if (finished_) return;
    finished_ = true;
    open_ = false;
    close_timer_.cancel();
    force_close();
    try {
      session_->on_close(code, reason);
    } catch (const std::exception& e) {
      log::error("websocket", remote_, ": on_close failed: ", e.what());
    }
    server_->websocket_ended(this);
  }

  std::shared_ptr<Server::Impl> server_;
  beast::websocket::stream<Stream> ws_;
  std::string remote_;
  WebSocketOptions options_;
  std::shared_ptr<WebSocketSession> session_;
  asio::steady_timer close_timer_;
  std::deque<Frame> queue_;
  std::size_t queued_bytes_ = 0;
  bool open_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
  int close_code_ = 1000;
  std::string close_reason_;
};

template <typename Stream>
asio::awaitable<void> Session<Stream>::upgrade(const WebSocketFactory& factory, bhttp::request<bhttp::string_body>&& raw) {
  auto copy = raw;  // the handshake needs Beast's message; the factory gets ours
  Request request = to_request(copy, remote_);
  WebSocketOptions options;
  std::shared_ptr<WebSocketSession> session;
  try {
    session = factory(request, options);
  } catch (const std::exception& e) {
    log::error("websocket", "factory for ", request.path, " failed: ", e.what());
  }
  if (!session) {
    error_code ec;
    co_await write(Response::error(403, "forbidden", "WebSocket refused"), false, false, ec);
    co_return;
  }
  upgraded_ = true;
  auto executor = stream_.get_executor();  // taken before the stream moves into the connection
  auto connection = std::make_shared<WsConnection<Stream>>(server_, std::move(stream_), remote_, options, session);
  server_->websockets.insert(connection.get());
  asio::co_spawn(executor, WsConnection<Stream>::run(connection, std::move(raw)), asio::detached);
}

asio::awaitable<void> Server::Impl::reject(tcp::socket socket) {
  static const std::string body = R"({"error":{"code":"overloaded","message":"too many connections; retry later"}})";
  static const std::string reply = "HTTP/1.1 503 Service Unavailable\r\nServer: omnitraild\r\nContent-Type: application/json\r\n"
                                   "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
                                   std::to_string(body.size()) + "\r\n\r\n" + body;
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(2));
  error_code ec;
  co_await asio::async_write(stream, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream.close();
  --pending_rejects;
}

asio::awaitable<void> Server::Impl::accept_loop(std::size_t index) {
  auto self = shared_from_this();
  for (;;) {
    if (index >= listeners.size() || !listeners[index].acceptor || !listeners[index].acceptor->is_open()) co_return;
    auto& listener = listeners[index];
    error_code ec;
    tcp::socket socket(asio::make_strand(ioc));
    co_await listener.acceptor->async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || stopping) co_return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning.
      log::warning("http", "accept on ", listener.endpoint, " failed: ", ec.message());
      asio::steady_timer pause(ioc, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (sessions.size() + websockets.size() >= limits.max_connections) {
      rejected.inc();
      if (pending_rejects >= max_pending_rejects) {
        socket.close(ec);
        continue;
      }
      ++pending_rejects;
      asio::co_spawn(socket.get_executor(), reject(std::move(socket)), asio::detached);
      continue;
    }
    std::string remote = "?";
    auto ep = socket.remote_endpoint(ec);
    if (!ec) remote = endpoint_text(ep);
    auto executor = socket.get_executor();
    SessionBase* raw = nullptr;
    if (listener.tls) {
      auto session = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(self, remote, std::move(socket), *listener.tls);
      raw = session.get();
      sessions.insert(raw);
      asio::co_spawn(executor, Session<beast::ssl_stream<beast::tcp_stream>>::run(session), asio::detached);  // run() catches everything itself
    } else {
      auto session = std::make_shared<Session<beast::tcp_stream>>(self, remote, std::move(socket));
      raw = session.get();
      sessions.insert(raw);
      asio::co_spawn(executor, Session<beast::tcp_stream>::run(session), asio::detached);
    }
    open_connections.set(static_cast<double>(sessions.size() + websockets.size()));
  }
}

Server::Server(asio::io_context& ioc, metrics::Registry& metrics) : impl_(std::make_shared<Impl>(ioc, metrics)) {}

Server::~Server() {
  for (auto& l : impl_->listeners) {
    error_code ec;
    if (l.acceptor) l.acceptor->close(ec);
  }
}

void Server::set_router(std::shared_ptr<const Router> router) { impl_->router = std::move(router); }

void Server::set_limits(const config::ServerLimits& limits) { impl_->limits = limits; }

bool Server::set_tls(const config::TlsConfig& tls, std::string& error) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  error_code ec;
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                       asio::ssl::context::single_dh_use, ec);
  context->use_certificate_chain_file(tls.cert_file, ec);
  if (ec) {
    error = "cannot load TLS certificate chain from " + tls.cert_file + ": " + ec.message();
    return false;
  }
  context->use_private_key_file(tls.key_file, asio::ssl::context::pem, ec);
  if (ec) {
    error = "cannot load TLS private key from " + tls.key_file + ": " + ec.message();
    return false;
  }
  impl_->tls = std::move(context);
  return true;
}

bool Server::listen(const std::vector<std::string>& addresses, std::string& error) {
  for (const auto& address : addresses) {
    std::string host;
    unsigned short port = 0;
    if (!split_host_port(address, host, port)) {
      error = "cannot listen on \"" + address + "\": not host:port";
      return false;
    }
    if (host == "localhost") host = "127.0.0.1";
    error_code ec;
    auto ip = asio::ip::make_address(host, ec);
    if (ec) {
      error = "cannot listen on \"" + address + "\": host must be an IP address or localhost";
      return false;
    }
    tcp::endpoint endpoint(ip, port);
    auto acceptor = std::make_unique<tcp::acceptor>(impl_->ioc);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && ip.is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error = "cannot listen on " + address + ": " + ec.message();
      return false;
    }
    auto bound = endpoint_text(acceptor->local_endpoint(ec));
    impl_->listeners.push_back(Impl::Listener{std::move(acceptor), impl_->tls, bound});
    asio::co_spawn(impl_->ioc, impl_->accept_loop(impl_->listeners.size() - 1), [bound](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error("http", "listener on ", bound, " stopped: ", ex.what());
      }
    });
    log::info("http", "listening on ", impl_->tls ? "https://" : "http://", bound);
  }
  return true;
}

std::vector<std::string> Server::local_endpoints() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners) out.push_back(l.endpoint);
  return out;
}

void Server::stop(std::function<void()> done) {
  auto& impl = *impl_;
  impl.stopping = true;
  for (auto& l : impl.listeners) {
    error_code ec;
    if (l.acceptor) l.acceptor->close(ec);
  }
  impl.on_stopped = std::move(done);
  // Copy: close_if_idle may end a session, which erases itself from the set.
  std::vector<SessionBase*> current(impl.sessions.begin(), impl.sessions.end());
  for (auto* s : current) s->close_if_idle();
  std::vector<WebSocketBase*> sockets(impl.websockets.begin(), impl.websockets.end());
  for (auto* w : sockets) w->going_away();
  impl.stop_timer = std::make_unique<asio::steady_timer>(impl.ioc, impl.limits.shutdown_timeout);
  impl.stop_timer->async_wait([weak = std::weak_ptr<Impl>(impl_)](error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    if (!self->sessions.empty()) {
      log::warning("http", "closing ", self->sessions.size(), " connection(s) still open after the shutdown timeout");
    }
    std::vector<SessionBase*> left(self->sessions.begin(), self->sessions.end());
    for (auto* s : left) s->force_close();
    std::vector<WebSocketBase*> sockets(self->websockets.begin(), self->websockets.end());
    for (auto* w : sockets) w->force_close();
  });
  impl.maybe_finish_stop();
}

std::size_t Server::connection_count() const { return impl_->sessions.size() + impl_->websockets.size(); }

}  // namespace omnitrail::http
