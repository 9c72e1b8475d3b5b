// Connector validators plug into the loader through the registry; BlockReader gives them
// typed getters, precise errors, unknown-key detection and a canonical fingerprint.
#include "daemon/config/connector_registry.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/config/config_test_support.hpp"

using namespace omnitrail::config;
using namespace omnitrail::config::test;
using namespace std::chrono_literals;

namespace {

struct TestPbxSettings : ConnectorSettings {
  std::string host;
  std::int64_t port = 0;
  Duration poll_interval{};
  std::uint64_t max_frame = 0;
  Secret password;
  bool verify = true;
  std::vector<std::string> channels;
};

std::shared_ptr<const ConnectorSettings> validate_test_pbx(BlockReader& block) {
  auto s = std::make_shared<TestPbxSettings>();
  s->host = block.required_string("host");
  s->port = block.integer("port", 5038, 1, 65535);
  s->poll_interval = block.duration("poll_interval", 30s, 1s, 1h);
  s->max_frame = block.size("max_frame", 64 * 1024, 1024, 1 << 20);
  if (auto password = block.secret("password", true)) s->password = *password;
  if (auto tls = block.map("tls")) s->verify = tls->boolean("verify", true);
  s->channels = block.string_list("channels");
  if (s->host == "localhost" && s->port == 1) block.error("port", "port 1 on localhost is surely a mistake");
  return s;
}

// Registers the test types for the duration of one test case.
struct RegisteredTypes {
  RegisteredTypes() {
    register_connector_type("test_pbx", validate_test_pbx);
    register_connector_type("test_throws", [](BlockReader&) -> std::shared_ptr<const ConnectorSettings> {
      throw std::runtime_error("boom");
    });
  }
  ~RegisteredTypes() {
    unregister_connector_type("test_pbx");
    unregister_connector_type("test_throws");
  }
};

const char* kAgents =
    "agents:\n"
    "  - {id: alice, token: '${OMNITRAIL_TEST_AGENT_TOKEN}', queues: [support]}\n";

LoadResult load(const TempDir& dir, const std::string& connectors) {
  ::setenv("OMNITRAIL_TEST_AGENT_TOKEN", "agent-token-value", 1);
  return load_text(std::string(kAgents) + connectors, dir.config_path());
}

}  // namespace

TEST_CASE("registry: register, list, find, unregister", "[config][registry]") {
  RegisteredTypes types;
  const auto list = registered_connector_types();
  CHECK(std::find(list.begin(), list.end(), "test_pbx") != list.end());
  CHECK(find_connector_validator("test_pbx"));
  CHECK_FALSE(find_connector_validator("nope"));
  register_connector_type("test_pbx", validate_test_pbx);  // idempotent
  CHECK(unregister_connector_type("test_pbx"));
  CHECK_FALSE(unregister_connector_type("test_pbx"));
}

TEST_CASE("a registered connector type builds its settings", "[config][registry]") {
  RegisteredTypes types;
  TempDir dir;
  dir.write("pbx.password", "pbx-password-value\n");
  const auto result = load(dir,
                           "connectors:\n"
                           "  - name: pbx\n"
                           "    type: test_pbx\n"
                           "    queue: support\n"
                           "    region: GB\n"
                           "    host: pbx.local\n"
                           "    poll_interval: 5m\n"
                           "    max_frame: 128KiB\n"
                           "    password_file: pbx.password\n"
                           "    tls: {verify: false}\n");
  INFO(all_text(result));
  REQUIRE(result.config);
  REQUIRE(result.config->connectors.size() == 1);
  const auto& c = result.config->connectors[0];
  CHECK(c.name == "pbx");
  CHECK(c.type == "test_pbx");
  CHECK(c.enabled);
  CHECK(c.queue == "support");
  CHECK(c.region == "GB");
  CHECK(c.where.line == 4);
  const auto* s = dynamic_cast<const TestPbxSettings*>(c.settings.get());
  REQUIRE(s);
  CHECK(s->host == "pbx.local");
  CHECK(s->port == 5038);
  CHECK(s->poll_interval == 5min);
  CHECK(s->max_frame == 128 * 1024);
  CHECK(s->password.value == "pbx-password-value");
  CHECK_FALSE(s->verify);
  CHECK(c.fingerprint.find("pbx-password-value") == std::string::npos);
  CHECK(c.fingerprint.find("password=secret hmac-sha256:") != std::string::npos);
  CHECK(c.fingerprint.find("tls.verify=false") != std::string::npos);
}

TEST_CASE("connector errors carry the connector's path and the value's position", "[config][registry]") {
  RegisteredTypes types;
  TempDir dir;
  const auto f = dir.config_path();
  const auto result = load(dir,
                           "connectors:\n"                                  // line 3
                           "  - name: pbx\n"                                 // 4
                           "    type: test_pbx\n"                            // 5
                           "    host: pbx.local\n"                           // 6
                           "    password: '${OMNITRAIL_TEST_AGENT_TOKEN}'\n" // 7
                           "    pol_interval: 5m\n"                          // 8
                           "    poll_interval: 5x\n"                         // 9
                           "    tls: {verfy: true}\n"                        // 10
                           "    enabled: yes\n");                            // 11
  CHECK(error_texts(result) ==
        std::vector<std::string>{
            f + ":8:5: connectors[0].pol_interval: unknown key \"pol_interval\" (did you mean \"poll_interval\"?)",
            f + ":9:20: connectors[0].poll_interval: \"5x\" is not a duration (use 500ms, 30s, 5m, 1h, 1d)",
            f + ":10:11: connectors[0].tls.verfy: unknown key \"verfy\" (did you mean \"verify\"?)",
            f + ":11:14: connectors[0].enabled: \"yes\" is not a boolean (use true or false)",
        });
}

TEST_CASE("validators record cross-field errors and never throw out of the loader", "[config][registry]") {
  RegisteredTypes types;
  TempDir dir;
  const auto f = dir.config_path();
  auto result = load(dir,
                     "connectors:\n"
                     "  - {name: a, type: test_pbx, host: localhost, port: 1, password: '${OMNITRAIL_TEST_AGENT_TOKEN}'}\n");
  CHECK(error_texts(result) ==
        std::vector<std::string>{f + ":4:54: connectors[0].port: port 1 on localhost is surely a mistake"});
  result = load(dir, "connectors:\n  - {name: a, type: test_throws}\n");
  CHECK(error_texts(result) ==
        std::vector<std::string>{f + ":4:21: connectors[0].type: the test_throws validator failed: boom"});
}

TEST_CASE("an unknown connector type lists the registered types", "[config][registry]") {
  RegisteredTypes types;
  TempDir dir;
  const auto f = dir.config_path();
  const auto result = load(dir, "connectors:\n  - {name: a, type: test_pbz, whatever: 1}\n");
  REQUIRE(result.errors.size() == 1);
  const auto text = result.errors[0].to_string();
  CHECK(text.rfind(f + ":4:21: connectors[0].type: unknown connector type \"test_pbz\" (did you mean \"test_pbx\"?) "
                       "(known types: ",
                   0) == 0);
  CHECK(text.find("test_pbx") != std::string::npos);
}

TEST_CASE("connector names are unique and queues must be served", "[config][registry]") {
  RegisteredTypes types;
  TempDir dir;
  const auto f = dir.config_path();
  const auto result = load(dir,
                           "connectors:\n"
                           "  - {name: a, type: test_pbx, host: h, password: '${OMNITRAIL_TEST_AGENT_TOKEN}'}\n"
                           "  - {name: a, type: test_pbx, host: h, password: '${OMNITRAIL_TEST_AGENT_TOKEN}',"
                           " queue: sales}\n");
  CHECK(error_texts(result) ==
        std::vector<std::string>{
            f + ":5:12: connectors[1].name: duplicate connector name \"a\" (first defined at line 4)",
            f + ":5:90: connectors[1].queue: no agent serves queue \"sales\" (queues served: support)",
        });
}

TEST_CASE("the fingerprint is canonical and changes only with the effective settings", "[config][registry]") {
  RegisteredTypes types;
  TempDir dir;
  dir.write("p1", "password-one");
  dir.write("p2", "password-one\n");
  dir.write("p3", "password-two");
  auto fingerprint = [&](const std::string& block) {
    const auto result = load(dir, "connectors:\n  - " + block + "\n");
    INFO(all_text(result));
    REQUIRE(result.config);
    return result.config->connectors.at(0).fingerprint;
  };
  const auto base = fingerprint("{name: a, type: test_pbx, host: h, password_file: p1, poll_interval: 30s}");
  // Same effective settings: other spelling, other order, defaults written out, same secret elsewhere.
  CHECK(fingerprint("{type: test_pbx, password_file: p2, host: h, name: a, poll_interval: 30000ms, "
                    "enabled: true, port: 5038}") == base);
  // Different settings.
  CHECK(fingerprint("{name: a, type: test_pbx, host: h, password_file: p1, poll_interval: 31s}") != base);
  CHECK(fingerprint("{name: a, type: test_pbx, host: h, password_file: p3, poll_interval: 30s}") != base);
  CHECK(fingerprint("{name: a, type: test_pbx, host: h, password_file: p1, enabled: false}") != base);
  CHECK(base.find("password-one") == std::string::npos);
}

TEST_CASE("BlockReader alone: getters, defaults and unknown keys", "[config][block_reader]") {
  LoadContext ctx("t.yaml", "/base");
  {
    BlockReader r(YAML::Load("a: 1\nb: [x, y]\nc: {d: 2}\nzzz: 3\n"), "root", ctx);
    CHECK(r.integer("a", 0, 0, 10) == 1);
    CHECK(r.string_list("b") == std::vector<std::string>{"x", "y"});
    CHECK(r.string("missing", "fallback") == "fallback");
    CHECK(r.file_path("rel") == "");
    auto c = r.map("c");
    REQUIRE(c);
    CHECK(c->integer("d", 0, 0, 10) == 2);
    CHECK(r.has("zzz"));
    CHECK(r.location("b").line == 2);
    CHECK(r.location("b").column == 4);
  }
  REQUIRE(ctx.errors().size() == 1);
  CHECK(ctx.errors()[0].to_string() == "t.yaml:4:1: root.zzz: unknown key \"zzz\" (known keys: a, b, c, missing, rel)");
  CHECK(ctx.resolve_path("x/../y.db") == "/base/y.db");
  CHECK(ctx.resolve_path("/abs") == "/abs");
}
