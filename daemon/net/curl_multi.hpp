// CurlMulti: runs caller-configured curl easy handles asynchronously on an Asio io_context through
// libcurl's multi socket API. The one curl <-> Asio glue of the daemon: HttpClient and the IMAP
// client both hand their easy handles to it. Included only by the .cpp files that speak curl.
//
// Thread contract: io thread only (the thread running the io_context passed in), except that the
// constructor may run anywhere before the io thread touches the object.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace omnitrail::net {

/// Calls curl_global_init once (thread-safe). CurlMulti calls it; callers that create easy handles
/// before constructing one call it first.
void curl_global_init_once();

/// Owns one curl multi handle, the sockets curl opens through it and its timer. Connections (and,
/// for IMAP, the logged-in session) are cached by the multi handle and reused by later transfers to
/// the same host with the same credentials.
class CurlMulti {
 public:
  /// `max_cached_connections` bounds the idle connections kept for reuse (CURLMOPT_MAXCONNECTS).
  /// It is fixed rather than curl's default (4 x the handles currently added) because transfers
  /// end and start in separate handlers here: between them the handle count dips and curl would
  /// close idle connections that the next transfer could have reused.
  explicit CurlMulti(boost::asio::io_context& io, std::size_t max_cached_connections = 16);
  /// Removes every transfer; no `done` is called after destruction.
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  /// Starts `easy`, which the caller configured and keeps owning (it must stay alive until `done`
  /// runs, or until cancel()/stop()/destruction). CurlMulti sets only CURLOPT_NOSIGNAL and the
  /// socket open/close callbacks. `done(result)` is posted to the io thread exactly once when the
  /// transfer ends (never inline, never from inside curl); the handle is then out of the multi and
  /// may be reused or cleaned up. Returns false (done never called) when stopped or when curl
  /// refuses the handle. Callers must set their own timeouts (CURLOPT_TIMEOUT_MS etc.).
  bool start(CURL* easy, std::function<void(CURLcode)> done);

  /// Removes `easy` if it is running; its `done` is not called. No-op otherwise.
  void cancel(CURL* easy);

  /// Removes every transfer without calling back, closes cached connections and frees the multi
  /// handle, sockets and timer (the io_context can run dry). start() returns false afterwards.
  /// Idempotent.
  void stop();

  /// Transfers started and not yet completed.
  std::size_t running() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared so that pending Asio handlers can hold a weak reference
};

}  // namespace omnitrail::net
