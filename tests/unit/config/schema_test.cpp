// config/omnitrail.schema.json must stay in step with the loader: same top-level sections, and
// every key it describes is accepted by the loader; full.yaml's keys are all in the schema.
#include <fstream>
#include <functional>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "daemon/config/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

using namespace omnitrail::config;
using namespace omnitrail::config::test;
using json = nlohmann::json;

namespace {

json load_schema() {
  std::ifstream in(std::string(OMNITRAIL_SOURCE_DIR) + "/config/omnitrail.schema.json");
  REQUIRE(in);
  return json::parse(in);  // throws (fails the test) when it is not JSON
}

// Follows a local "$ref": "#/$defs/x".
const json& resolve(const json& schema, const json& node) {
  if (node.contains("$ref")) {
    const std::string ref = node["$ref"];
    REQUIRE(ref.rfind("#/$defs/", 0) == 0);
    return schema["$defs"][ref.substr(8)];
  }
  return node;
}

// Every "path" (a.b, agents[].id) the schema describes as an object property.
void collect(const json& schema, const json& node_in, const std::string& prefix, std::vector<std::string>& out) {
  const json& node = resolve(schema, node_in);
  if (node.contains("properties")) {
    // Connector blocks are open: their keys depend on the registered type.
    if (prefix != "connectors[]") CHECK(node.value("additionalProperties", true) == false);
    for (const auto& [key, child] : node["properties"].items()) {
      const std::string path = prefix.empty() ? key : prefix + "." + key;
      out.push_back(path);
      collect(schema, child, path, out);
    }
  }
  if (node.contains("items")) collect(schema, node["items"], prefix + "[]", out);
}

}  // namespace

TEST_CASE("the JSON schema lists exactly the loader's top-level sections", "[config][schema]") {
  const json schema = load_schema();
  CHECK(schema.value("$schema", "") == "https://json-schema.org/draft/2020-12/schema");
  CHECK(schema.value("additionalProperties", true) == false);
  std::vector<std::string> sections;
  for (const auto& [key, value] : schema["properties"].items()) sections.push_back(key);
  std::vector<std::string> loader = top_level_sections();
  std::sort(sections.begin(), sections.end());
  std::sort(loader.begin(), loader.end());
  CHECK(sections == loader);
}

TEST_CASE("every key the schema describes is accepted by the loader", "[config][schema]") {
  const json schema = load_schema();
  std::vector<std::string> paths;
  collect(schema, schema, "", paths);
  REQUIRE(paths.size() > 50);
  TempDir dir;
  for (const auto& path : paths) {
    // Set the key to null (= absent) inside otherwise empty blocks: no "unknown key" allowed.
    std::string text;
    std::string indent;
    std::size_t start = 0;
    while (true) {
      const auto dot = path.find('.', start);
      std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      const bool list = part.size() > 2 && part.compare(part.size() - 2, 2, "[]") == 0;
      if (list) part.resize(part.size() - 2);
      text += indent + part + ":";
      if (dot == std::string::npos) break;
      text += "\n";
      indent += "  ";
      if (list) {
        text += indent + "- _placeholder: null\n";
        indent += "  ";
      }
      start = dot + 1;
    }
    text += "\n";
    const auto result = load_text(text, dir.config_path());
    INFO(path << "\n" << text << all_text(result));
    for (const auto& e : result.errors) {
      const bool unknown_is_placeholder = e.message.find("\"_placeholder\"") != std::string::npos;
      CHECK((e.message.find("unknown key") == std::string::npos || unknown_is_placeholder));
    }
  }
}

TEST_CASE("every key used in full.yaml is described by the schema", "[config][schema]") {
  const json schema = load_schema();
  std::vector<std::string> paths;
  collect(schema, schema, "", paths);
  const YAML::Node doc = YAML::LoadFile(std::string(OMNITRAIL_SOURCE_DIR) + "/config/examples/full.yaml");
  std::vector<std::string> used;
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& n, const std::string& prefix) {
    if (n.IsMap()) {
      for (const auto& kv : n) {
        const std::string path = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
        used.push_back(path);
        walk(kv.second, path);
      }
    } else if (n.IsSequence()) {
      for (const auto& item : n) walk(item, prefix + "[]");
    }
  };
  walk(doc, "");
  for (const auto& path : used) {
    INFO(path);
    CHECK(std::find(paths.begin(), paths.end(), path) != paths.end());
  }
}
