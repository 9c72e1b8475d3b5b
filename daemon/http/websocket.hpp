// WebSocket endpoints without Beast in the header: the server upgrades a request whose path has
// a WebSocket route, and hands the connection to a WebSocketSession created by the route's
// factory. Thread contract: io thread only (sessions are called there; send/close from there).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace omnitrail::metrics {
class Histogram;
}

namespace omnitrail::http {

struct Request;

struct WebSocketOptions {
  std::size_t max_message_bytes = 64 * 1024;    // larger frames close the connection (1009)
  std::size_t max_queue_messages = 256;         // send queue bound, in messages...
  std::size_t max_queue_bytes = 4 * 1024 * 1024;  // ...and bytes; beyond either: 4008 "client is too slow"
  std::chrono::seconds heartbeat{20};           // a ping every heartbeat; silent for 2x: closed
};

/// One outgoing text frame. Frames are shared: one buffer can go to many connections.
struct Frame {
  std::shared_ptr<const std::string> text;
  /// When set, the time from `origin` to this frame's write completing is observed in `latency`.
  std::chrono::steady_clock::time_point origin{};
  metrics::Histogram* latency = nullptr;
};

/// The server side of one open WebSocket connection.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  /// Queues a text frame (one write in flight at a time). Returns false when the connection is
  /// closing, or when the queue bound is exceeded, in which case the connection is closed with
  /// 4008 "client is too slow".
  virtual bool send(Frame frame) = 0;
  /// Sends a close frame with `code` and `reason` after the frames already queued; the socket is
  /// force-closed if the peer does not complete the close within a few seconds.
  virtual void close(int code, std::string reason) = 0;
  virtual bool is_open() const = 0;
  virtual const std::string& remote_address() const = 0;
  /// Messages and bytes waiting in the send queue.
  virtual std::size_t queued_messages() const = 0;
};

/// What the application implements per connection.
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  /// The handshake completed; keep `socket` to send. Called once.
  virtual void on_open(std::shared_ptr<WebSocket> socket) = 0;
  /// A text frame arrived (binary frames close the connection with 1003 before reaching here).
  virtual void on_message(std::string text) = 0;
  /// The connection is gone (closed by either side, timed out, or dropped). Called once.
  virtual void on_close(int code, const std::string& reason) = 0;
};

/// Creates the session for an upgrade request; may adjust `options`. Returning null refuses the
/// upgrade with 403.
using WebSocketFactory = std::function<std::shared_ptr<WebSocketSession>(const Request& upgrade, WebSocketOptions& options)>;

}  // namespace omnitrail::http
