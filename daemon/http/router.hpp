// HTTP request/response values and the router that maps (method, path pattern) to handlers.
// Free of Beast and Asio so that REST handlers compile quickly. Thread contract: a Router is
// built once, then only read (any thread); handlers are invoked on the io thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/http/websocket.hpp"

namespace omnitrail::http {

struct Request {
  std::string method;   // upper-case, e.g. "GET"
  std::string target;   // as received, e.g. "/api/v1/customers?q=a"
  std::string path;     // percent-decoded path without the query
  std::string query;    // raw query string without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_address;
  std::chrono::steady_clock::time_point received_at{};
  std::map<std::string, std::string> params;  // path parameters filled by the router

  /// The first header with this (lower-case) name, or nullptr.
  const std::string* header(std::string_view lower_name) const;
  /// The decoded value of query parameter `name`, or `fallback` when absent.
  std::string query_param(std::string_view name, std::string fallback = {}) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response json(int status, std::string body);
  /// `{"error":{"code":code,"message":message}}` — message must not contain secrets.
  static Response error(int status, std::string_view code, std::string_view message);
  static Response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
};

/// Completes a request. Call exactly once, from any thread; later calls are ignored.
using Respond = std::function<void(Response)>;
/// Handles a request (io thread). It may respond later (after a store round trip).
using Handler = std::function<void(Request&&, Respond)>;

class Router {
 public:
  /// Adds a route. `pattern` is a path whose segments may be `{name}` placeholders
  /// (matching one non-empty segment), e.g. "/api/v1/customers/{id}/timeline".
  void add(std::string method, std::string pattern, Handler handler);

  /// Routes `request`: 404 when no pattern matches, 405 (with Allow) when only the method
  /// differs. HEAD is served by the GET handler.
  void dispatch(Request&& request, Respond respond) const;

  /// Every (method, pattern) registered, in registration order (for the OpenAPI coverage test).
  /// WebSocket routes are listed with method "GET".
  std::vector<std::pair<std::string, std::string>> routes() const;

  /// Adds a WebSocket endpoint at `path` (exact match): upgrade requests there go to `factory`.
  void add_websocket(std::string path, WebSocketFactory factory);
  /// The factory for an upgrade request to `path`, or null.
  const WebSocketFactory* find_websocket(const std::string& path) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
  std::vector<std::pair<std::string, WebSocketFactory>> websockets_;
};

/// Percent-decodes `text` ('+' stays '+'; pass plus_as_space for forms). Invalid escapes are kept verbatim.
std::string percent_decode(std::string_view text, bool plus_as_space = false);

/// Splits "a=1&b=2" into decoded pairs (form and query encoding).
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

}  // namespace omnitrail::http
