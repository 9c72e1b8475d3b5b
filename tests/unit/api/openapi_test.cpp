#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "daemon/api/rest_api.hpp"
#include "daemon/http/router.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/store/store.hpp"

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

TEST_CASE("every REST route is in the OpenAPI document and every documented API route exists", "[api][openapi]") {
  auto dir = std::filesystem::temp_directory_path() / ("omnitrail-openapi-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  omnitrail::store::Options options;
  options.path = (dir / "test.db").string();
  auto store = omnitrail::store::Store::open(options);
  REQUIRE(store.ok());
  omnitrail::metrics::Registry metrics;
  auto config = std::make_shared<omnitrail::config::Config>();
  omnitrail::http::Router router;
  omnitrail::api::add_routes(router, omnitrail::api::make_api_state(config, **store, metrics));

  auto doc = nlohmann::json::parse(omnitrail::api::openapi_document());
  REQUIRE(doc["openapi"].get<std::string>().rfind("3.", 0) == 0);
  const auto routes = router.routes();
  REQUIRE(routes.size() >= 15);
  std::set<std::pair<std::string, std::string>> registered;
  for (const auto& [method, pattern] : routes) {
    INFO(method << " " << pattern);
    REQUIRE(doc["paths"].contains(pattern));
    CHECK(doc["paths"][pattern].contains(lower(method)));
    registered.insert({lower(method), pattern});
  }
  for (auto& [path, operations] : doc["paths"].items()) {
    if (path.rfind("/api/v1/", 0) != 0) continue;  // probes are served by the service itself
    for (auto& [method, operation] : operations.items()) {
      INFO(method << " " << path);
      if (operation.value("x-omnitrail-websocket", false)) continue;  // registered by the service
      CHECK(registered.count({method, path}) == 1);
      CHECK(operation.contains("x-omnitrail-role"));
      CHECK(operation.contains("responses"));
    }
  }
  (*store)->stop();
  std::filesystem::remove_all(dir);
}
