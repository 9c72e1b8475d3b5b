#include "daemon/http/router.hpp"

#include <nlohmann/json.hpp>

namespace omnitrail::http {
namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const std::string* Request::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

std::string Request::query_param(std::string_view name, std::string fallback) const {
  for (auto& [key, value] : parse_query(query)) {
    if (key == name) return value;
  }
  return fallback;
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::error(int status, std::string_view code, std::string_view message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  return json(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

std::string percent_decode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_as_space && c == '+') ? ' ' : c;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  while (i < query.size()) {
    std::size_t amp = query.find('&', i);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(i, amp - i);
    if (!part.empty()) {
      std::size_t eq = part.find('=');
      if (eq == std::string_view::npos) {
        out.emplace_back(percent_decode(part, true), std::string{});
      } else {
        out.emplace_back(percent_decode(part.substr(0, eq), true), percent_decode(part.substr(eq + 1), true));
      }
    }
    i = amp + 1;
  }
  return out;
}

void Router::add(std::string method, std::string pattern, Handler handler) {
  Route route{std::move(method), pattern, split_path(pattern), std::move(handler)};
  routes_.push_back(std::move(route));
}

void Router::dispatch(Request&& request, Respond respond) const {
  auto segments = split_path(request.path);
  std::string allowed;
  const std::string& method = request.method == "HEAD" ? std::string("GET") : request.method;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (std::size_t i = 0; i < segments.size() && match; ++i) {
      const auto& seg = route.segments[i];
      if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
        params[seg.substr(1, seg.size() - 2)] = segments[i];
      } else if (seg != segments[i]) {
        match = false;
      }
    }
    if (!match) continue;
    if (route.method != method) {
      if (allowed.find(route.method) == std::string::npos) {
        if (!allowed.empty()) allowed += ", ";
        allowed += route.method;
      }
      continue;
    }
    request.params = std::move(params);
    route.handler(std::move(request), std::move(respond));
    return;
  }
  if (!allowed.empty()) {
    auto r = Response::error(405, "method_not_allowed", "method " + request.method + " is not allowed here");
    r.headers.emplace_back("Allow", allowed);
    respond(std::move(r));
    return;
  }
  respond(Response::error(404, "not_found", "no such resource"));
}

std::vector<std::pair<std::string, std::string>> Router::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : routes_) out.emplace_back(r.method, r.pattern);
  for (const auto& [path, factory] : websockets_) out.emplace_back("GET", path);
  return out;
}

void Router::add_websocket(std::string path, WebSocketFactory factory) {
  websockets_.emplace_back(std::move(path), std::move(factory));
}

const WebSocketFactory* Router::find_websocket(const std::string& path) const {
  for (const auto& [p, factory] : websockets_) {
    if (p == path) return &factory;
  }
  return nullptr;
}

}  // namespace omnitrail::http
