// Fuzzes what the HTTP server does with raw request bytes before any handler runs: Beast's
// request parser with the server's limits, then our target splitting, percent-decoding,
// query parsing and routing.
#include <utility>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>

#include "daemon/http/router.hpp"

namespace {

const omnitrail::http::Router& router() {
  static omnitrail::http::Router r = [] {
    omnitrail::http::Router built;
    auto ok = [](omnitrail::http::Request&& request, omnitrail::http::Respond respond) {
      (void)request.query_param("q");
      respond(omnitrail::http::Response::json(200, "{}"));
    };
    built.add("GET", "/healthz", ok);
    built.add("GET", "/api/v1/customers/{id}", ok);
    built.add("POST", "/api/v1/customers/{id}/identifiers/{identity_id}", ok);
    return built;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  boost::beast::error_code ec;
  std::size_t offset = 0;
  while (offset < size && !parser.is_done()) {
    auto used = parser.put(boost::asio::buffer(data + offset, size - offset), ec);
    if (ec == http::error::need_more) break;
    if (ec) return 0;
    if (used == 0) break;
    offset += used;
  }
  if (!parser.is_done()) return 0;
  auto request = parser.release();
  omnitrail::http::Request r;
  r.method = std::string(request.method_string());
  r.target = std::string(request.target());
  auto q = r.target.find('?');
  r.path = omnitrail::http::percent_decode(std::string_view(r.target).substr(0, q));
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  r.body = request.body();
  (void)omnitrail::http::parse_query(r.query);
  int responses = 0;
  router().dispatch(std::move(r), [&responses](omnitrail::http::Response) { ++responses; });
  if (responses != 1) __builtin_trap();  // every request gets exactly one response
  return 0;
}
