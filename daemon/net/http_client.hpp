// Asynchronous HTTP(S) client: libcurl's multi socket API driven by an Asio io_context, for
// outbound webhooks and the SMS/e-mail connectors. Nothing in it blocks the io thread.
//
// Thread contract: io thread only (the thread running the io_context passed in), except that the
// constructor may run anywhere before the io thread touches the client.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace omnitrail::net {

/// One request. Everything is copied into the transfer; the caller may drop its copy at once.
struct HttpRequest {
  std::string method = "POST";                               // an HTTP token: GET, POST, PUT, ...
  std::string url;                                           // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;  // name, value (CR/LF/NUL in either -> error, not sent)
  std::string body;
  std::chrono::milliseconds timeout{10000};          // whole transfer
  std::chrono::milliseconds connect_timeout{5000};   // TCP connect + TLS handshake
  std::size_t max_response_bytes = 64 * 1024;        // body beyond it: transfer aborted with an error
  std::string ca_file;                               // optional extra CA bundle; TLS always verified
  std::string basic_auth_user, basic_auth_password;  // optional (Twilio); never logged
};

/// The outcome of one request. `ok()` means an HTTP response arrived (any status, 500 included).
struct HttpResponse {
  int status = 0;                 // HTTP status, 0 when no response
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-cased names, in arrival order
  std::string error;              // empty when a response arrived; else a short reason (no secrets, no URL userinfo)
  bool timed_out = false;
  bool connect_failed = false;    // refused / DNS / TLS handshake / no route: nothing reached the peer app
  bool ok() const { return error.empty(); }

  /// The first value of header `lower_case_name`, or nullptr.
  const std::string* header(const std::string& lower_case_name) const;
};

struct HttpClientOptions {
  std::size_t max_in_flight = 64;       // concurrent transfers (0 is treated as 1)
  std::size_t max_queued = 1024;        // waiting beyond max_in_flight; beyond it request() fails at once
  std::string user_agent = "omnitraild";
};

/// Owns one curl multi handle, its sockets and its timer. Connections are kept alive and reused
/// between requests to the same host. No redirects are followed; only http and https are spoken.
class HttpClient {
 public:
  HttpClient(boost::asio::io_context& io, HttpClientOptions options = {});
  /// Aborts transfers in flight; their callbacks are NOT called after destruction (this includes
  /// "stopped" callbacks posted by stop() that have not run yet).
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// io thread only. `done` is called exactly once on the io thread (never inline from request()),
  /// unless the client is stopped/destroyed first. Returns false (and never calls done) when the
  /// queue is full or stopped. An invalid request (bad header, method or scheme) returns true and
  /// completes with an error without anything being sent.
  bool request(HttpRequest request, std::function<void(HttpResponse)> done);

  /// Aborts everything; pending callbacks get error "stopped" (posted). Idempotent. io thread.
  /// Afterwards request() returns false and the client holds no sockets or timers.
  void stop();

  /// Transfers started and not yet completed. io thread.
  std::size_t in_flight() const;
  /// Requests waiting for a free transfer slot. io thread.
  std::size_t queued() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared so that pending Asio handlers can hold a weak reference
};

}  // namespace omnitrail::net
