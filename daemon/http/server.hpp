// The HTTP/1.1 server (Boost.Beast behind a pimpl): listeners that only accept, one session per
// connection with a deadline on every read and write, bounded header/body sizes and a bounded
// connection count. Thread contract: io thread only (construct, listen, stop on the io thread).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config/config.hpp"
#include "daemon/http/router.hpp"

namespace boost::asio {
class io_context;
}
namespace omnitrail::metrics {
class Registry;
}

namespace omnitrail::http {

class Server {
 public:
  Server(boost::asio::io_context& ioc, metrics::Registry& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Replaces the router used for requests that start from now on.
  void set_router(std::shared_ptr<const Router> router);
  /// Applies limits to connections accepted and requests read from now on.
  void set_limits(const config::ServerLimits& limits);
  /// Enables TLS for listeners bound after this call. Returns false and sets `error` when the
  /// certificate or key cannot be loaded (the message names the file, never key material).
  bool set_tls(const config::TlsConfig& tls, std::string& error);

  /// Binds and starts accepting on each "host:port" / "[v6]:port" (port 0 = ephemeral).
  /// Returns false with a message naming the address on the first failure.
  bool listen(const std::vector<std::string>& addresses, std::string& error);

  /// The bound endpoints as "host:port", in the order of listen().
  std::vector<std::string> local_endpoints() const;

  /// Graceful stop: closes the listeners, closes idle keep-alive connections, lets requests in
  /// flight finish (their responses say Connection: close) and forces the rest closed after
  /// `limits.shutdown_timeout`. `done` runs on the io thread when no session is left.
  void stop(std::function<void()> done);

  std::size_t connection_count() const;

  struct Impl;  // implementation detail (server.cpp)

 private:
  std::shared_ptr<Impl> impl_;
};

/// Splits "host:port" / "[v6]:port". Returns false when the text is not of that shape.
bool split_host_port(const std::string& text, std::string& host, unsigned short& port);

}  // namespace omnitrail::http
