#include "daemon/web/web_assets.hpp"

namespace omnitrail::web {
namespace {

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

http::Response serve(std::string_view name) {
  for (const auto& asset : assets()) {
    if (asset.name != name) continue;
    auto r = http::Response::text(200, std::string(asset.content), std::string(content_type(name)));
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
                           "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    return r;
  }
  return http::Response::error(404, "not_found", "no such console file");
}

}  // namespace

std::string_view content_type(std::string_view name) {
  if (ends_with(name, ".html")) return "text/html; charset=utf-8";
  if (ends_with(name, ".css")) return "text/css; charset=utf-8";
  if (ends_with(name, ".js") || ends_with(name, ".mjs")) return "text/javascript; charset=utf-8";
  if (ends_with(name, ".svg")) return "image/svg+xml";
  if (ends_with(name, ".png")) return "image/png";
  if (ends_with(name, ".ico")) return "image/x-icon";
  if (ends_with(name, ".json")) return "application/json";
  return "application/octet-stream";
}

void add_console_routes(http::Router& router) {
  auto index = [](http::Request&&, http::Respond respond) { respond(serve("index.html")); };
  router.add("GET", "/console", index);
  router.add("GET", "/console/", index);
  router.add("GET", "/console/{file}", [](http::Request&& request, http::Respond respond) {
    respond(serve(request.params["file"]));
  });
}

}  // namespace omnitrail::web
