// load_text / load_file as specifications: shipped files validate, each kind of mistake gives
// one precise `file:line:col: path: message`.
#include <cstdlib>

#include <catch2/catch.hpp>

#include "daemon/config/block_reader.hpp"
#include "daemon/config/config.hpp"
#include "daemon/config/connector_registry.hpp"
#include "tests/unit/config/config_test_support.hpp"

using namespace omnitrail::config;
using namespace omnitrail::config::test;
using namespace std::chrono_literals;

namespace {

// Loads `text` as if it were omnitrail.yaml in `dir`; expects exactly one error.
std::string only_error(const TempDir& dir, const std::string& text) {
  const auto result = load_text(text, dir.config_path());
  INFO(all_text(result));
  REQUIRE(result.errors.size() == 1);
  CHECK_FALSE(result.config);
  return result.errors.front().to_string();
}

}  // namespace

TEST_CASE("the shipped config and every example validate", "[config][shipped]") {
  // The connector validators live in connectors/ (tests/integration/test_cli.py checks the
  // examples with the real binary and every real validator); here the core sections are checked
  // with a permissive stand-in for each connector type the examples use.
  for (const char* type : {"asterisk_ami", "imap_smtp"}) {
    if (!omnitrail::config::find_connector_validator(type)) {
      omnitrail::config::register_connector_type(type, [](omnitrail::config::BlockReader& block) {
        block.ignore_unknown();
        return std::make_shared<const omnitrail::config::ConnectorSettings>();
      });
    }
  }
  const std::string source = OMNITRAIL_SOURCE_DIR;
  std::vector<std::string> files{source + "/config/omnitrail.yaml"};
  for (const auto& entry : std::filesystem::directory_iterator(source + "/config/examples")) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().string());
  }
  REQUIRE(files.size() >= 3);
  for (const auto& file : files) {
    const auto result = load_file(file);
    INFO(file << "\n" << all_text(result));
    CHECK(result.errors.empty());
    CHECK(result.config);
  }
}

TEST_CASE("the shipped config runs out of the box with the documented values", "[config][shipped]") {
  const std::string source = OMNITRAIL_SOURCE_DIR;
  const auto result = load_file(source + "/config/omnitrail.yaml");
  REQUIRE(result.config);
  const Config& c = *result.config;
  CHECK(c.server.listen == std::vector<std::string>{"127.0.0.1:8080"});
  CHECK(c.storage.sqlite_path == std::filesystem::path(source + "/state/omnitrail.db").lexically_normal().string());
  CHECK(c.agents.empty());
  CHECK(c.connectors.empty());
  CHECK(c.admin_tokens.empty());
  CHECK(c.file == std::filesystem::path(source + "/config/omnitrail.yaml").lexically_normal().string());
}

TEST_CASE("the full example fills every section", "[config][shipped]") {
  const std::string source = OMNITRAIL_SOURCE_DIR;
  const auto result = load_file(source + "/config/examples/full.yaml");
  REQUIRE(result.config);
  const Config& c = *result.config;
  CHECK(c.server.listen.size() == 2);
  REQUIRE(c.server.tls);
  CHECK(c.server.tls->cert_file == source + "/config/examples/secrets/example-tls.crt");
  CHECK(c.server.limits.max_header_bytes == 32 * 1024);
  CHECK(c.server.limits.idle_timeout == 2min);
  CHECK(c.admin_tokens.size() == 1);
  CHECK(c.storage.synchronous == "full");
  CHECK(c.storage.retention_days.at("sms") == 730);
  CHECK(c.identity.default_region == "DE");
  CHECK(c.identity.repeat_contact_window == 48h);
  REQUIRE(c.agents.size() == 3);
  CHECK(c.agents[0].role == "admin");
  CHECK(c.agents[0].token.reference == "file:" + source + "/config/examples/secrets/alice.token");
  CHECK_FALSE(c.agents[0].token.value.empty());
  CHECK(c.screen_pop.fallback_agents == std::vector<std::string>{"alice", "carol"});
  REQUIRE(c.webhooks.size() == 2);
  CHECK(c.webhooks[0].retry_for == 12h);
  CHECK(c.webhooks[1].channels.size() == 6);
  CHECK(c.logging.level == "debug");
}

TEST_CASE("an empty file is a valid config with every default", "[config]") {
  TempDir dir;
  for (const std::string text : {"", "# only a comment\n", "---\n", "{}\n"}) {
    const auto result = load_text(text, dir.config_path());
    INFO(all_text(result));
    REQUIRE(result.config);
    const Config& c = *result.config;
    const Config defaults;
    CHECK(c.server.listen == defaults.server.listen);
    CHECK(c.server.limits.read_timeout == 30s);
    CHECK(c.storage.sqlite_path == (dir.path() / "state/omnitrail.db").string());
    CHECK(c.identity.default_region == "US");
    CHECK(c.logging.level == "info");
  }
}

TEST_CASE("relative paths resolve against the config file's folder", "[config]") {
  TempDir dir;
  dir.write("sub/alice.token", "tok-a\n");
  const auto result = load_text(
      "storage: {sqlite_path: db/x.db}\n"
      "agents: [{id: alice, token_file: sub/alice.token}]\n",
      dir.config_path());
  INFO(all_text(result));
  REQUIRE(result.config);
  CHECK(result.config->storage.sqlite_path == (dir.path() / "db/x.db").string());
  CHECK(result.config->agents[0].token.reference == "file:" + (dir.path() / "sub/alice.token").string());
  CHECK(result.config->agents[0].token.value == "tok-a");  // trailing newline trimmed
}

TEST_CASE("every error is reported, not just the first, sorted by position", "[config]") {
  TempDir dir;
  const auto result = load_text(
      "logging: {level: loud}\n"
      "server:\n"
      "  threads: 0\n"
      "  listne: [\"x:1\"]\n",
      dir.config_path());
  const auto f = dir.config_path();
  CHECK(error_texts(result) == std::vector<std::string>{
                                   f + ":1:18: logging.level: \"loud\" is not one of debug, info, warning, error",
                                   f + ":3:12: server.threads: 0 is out of range (use 1..64)",
                                   f + ":4:3: server.listne: unknown key \"listne\" (did you mean \"listen\"?)",
                               });
}

TEST_CASE("unknown keys suggest the closest known key", "[config][unknown]") {
  TempDir dir;
  const auto f = dir.config_path();
  CHECK(only_error(dir, "server:\n  listne: [\"127.0.0.1:8080\"]\n") ==
        f + ":2:3: server.listne: unknown key \"listne\" (did you mean \"listen\"?)");
  CHECK(only_error(dir, "sever: {}\n") == f + ":1:1: sever: unknown key \"sever\" (did you mean \"server\"?)");
  CHECK(only_error(dir, "server:\n  limits:\n    read_timout: 5s\n") ==
        f + ":3:5: server.limits.read_timout: unknown key \"read_timout\" (did you mean \"read_timeout\"?)");
  CHECK(only_error(dir, "storage:\n  retention_days: {emial: 30}\n") ==
        f + ":2:20: storage.retention_days.emial: unknown key \"emial\" (did you mean \"email\"?)");
  CHECK(only_error(dir, "banana: 1\n") ==
        f + ":1:1: banana: unknown key \"banana\" (known keys: agents, connectors, identity, logging, "
            "screen_pop, server, storage, webhooks)");
}

TEST_CASE("duplicate keys in one map are errors", "[config]") {
  TempDir dir;
  CHECK(only_error(dir, "logging:\n  level: info\n  level: debug\n") ==
        dir.config_path() + ":3:3: logging.level: duplicate key \"level\" (first set at line 2)");
}

TEST_CASE("wrong types name what was expected and what was found", "[config][types]") {
  TempDir dir;
  const auto f = dir.config_path();
  CHECK(only_error(dir, "server:\n  listen: 127.0.0.1:8080\n") ==
        f + ":2:11: server.listen: expected a list, got \"127.0.0.1:8080\" (write [a, b] or one \"- item\" per line)");
  CHECK(only_error(dir, "server: [1, 2]\n") == f + ":1:9: server: expected a map, got a list");
  CHECK(only_error(dir, "server:\n  threads: many\n") ==
        f + ":2:12: server.threads: \"many\" is not an integer (use a whole number between 1 and 64)");
  CHECK(only_error(dir, "server:\n  threads: [1]\n") ==
        f + ":2:12: server.threads: expected a single value, got a list");
  CHECK(only_error(dir, "agents: {id: a}\n") ==
        f + ":1:9: agents: expected a list, got a map (write one \"- ...\" item per entry)");
  CHECK(only_error(dir, "agents: [alice]\n") == f + ":1:10: agents[0]: expected a map, got \"alice\"");
  ::setenv("OMNITRAIL_TEST_A", "a-secret", 1);
  CHECK(only_error(dir, "webhooks: [{name: w, url: 'https://x', secret: '${OMNITRAIL_TEST_A}', channels: [voice]}]\n") ==
        f + ":1:82: webhooks[0].channels[0]: \"voice\" is not one of phone, email, sms, chat, api, note");
}

TEST_CASE("booleans and enums list the allowed values", "[config][types]") {
  TempDir dir;
  const auto f = dir.config_path();
  CHECK(only_error(dir, "storage:\n  synchronous: fulll\n") ==
        f + ":2:16: storage.synchronous: \"fulll\" is not one of normal, full (did you mean \"full\"?)");
  CHECK(only_error(dir, "logging:\n  level: warn\n") ==
        f + ":2:10: logging.level: \"warn\" is not one of debug, info, warning, error (did you mean \"warning\"?)");
  ::setenv("OMNITRAIL_TEST_SECRET", "s3cr3t-value", 1);
  CHECK(only_error(dir,
                   "agents:\n"
                   "  - id: alice\n"
                   "    role: boss\n"
                   "    token: ${OMNITRAIL_TEST_SECRET}\n") ==
        f + ":3:11: agents[0].role: \"boss\" is not one of agent, admin");
}

TEST_CASE("durations and sizes report the value and the accepted forms", "[config][duration][size]") {
  TempDir dir;
  const auto f = dir.config_path();
  CHECK(only_error(dir, "server:\n  limits:\n    read_timeout: 5x\n") ==
        f + ":3:19: server.limits.read_timeout: \"5x\" is not a duration (use 500ms, 30s, 5m, 1h, 1d)");
  CHECK(only_error(dir, "screen_pop:\n  ring_timeout: -5s\n") ==
        f + ":2:17: screen_pop.ring_timeout: \"-5s\" is negative; durations must be zero or more (use 500ms, 30s, "
            "5m, 1h, 1d)");
  CHECK(only_error(dir, "screen_pop:\n  ring_timeout: 2h\n") ==
        f + ":2:17: screen_pop.ring_timeout: \"2h\" is too long (maximum 1h)");
  CHECK(only_error(dir, "storage:\n  checkpoint_interval: 99999999999999999999d\n") ==
        f + ":2:24: storage.checkpoint_interval: \"99999999999999999999d\" is too large for a duration");
  CHECK(only_error(dir, "server:\n  limits: {max_body_bytes: 10QB}\n") ==
        f + ":2:28: server.limits.max_body_bytes: \"10QB\" is not a size (use 512, 64KiB, 1MiB, 1GiB, or KB/MB/GB "
            "for powers of 1000)");
  CHECK(only_error(dir, "server:\n  limits: {max_header_bytes: 10}\n") ==
        f + ":2:30: server.limits.max_header_bytes: \"10\" is too small (minimum 1KiB)");
}

TEST_CASE("missing required keys point at the block", "[config][required]") {
  ::setenv("OMNITRAIL_TEST_SECRET", "s3cr3t-value", 1);  // each ctest case is its own process
  TempDir dir;
  const auto f = dir.config_path();
  CHECK(only_error(dir, "agents:\n  - name: Alice\n    token: ${OMNITRAIL_TEST_SECRET}\n") ==
        f + ":2:5: agents[0]: missing required key \"id\"");
  CHECK(only_error(dir, "agents:\n  - id: alice\n") ==
        f + ":2:5: agents[0]: missing required key \"token_file\" (or token: ${ENV_VAR})");
  const auto tls = load_text("server:\n  tls: {cert_file: x.crt}\n", f);
  CHECK(error_texts(tls) == std::vector<std::string>{
                                f + ":2:8: server.tls: missing required key \"key_file\"",
                                f + ":2:20: server.tls.cert_file: cannot read \"" + (dir.path() / "x.crt").string() +
                                    "\": no such file",
                            });
}

TEST_CASE("values are validated: listen addresses, regions, URLs, CRM templates", "[config][values]") {
  TempDir dir;
  const auto f = dir.config_path();
  CHECK(only_error(dir, "server: {listen: [\"8080\"]}\n") ==
        f + ":1:19: server.listen[0]: \"8080\" is not a listen address (use host:port, e.g. 127.0.0.1:8080, "
            "0.0.0.0:8080 or [::1]:8080)");
  CHECK(only_error(dir, "server: {listen: [\"127.0.0.1:70000\"]}\n") ==
        f + ":1:19: server.listen[0]: \"127.0.0.1:70000\": port 70000 is out of range (0..65535)");
  CHECK(only_error(dir, "server: {listen: [\"::1:80\"]}\n") ==
        f + ":1:19: server.listen[0]: \"::1:80\": IPv6 addresses need brackets, e.g. [::1]:8080");
  CHECK(only_error(dir, "server: {listen: []}\n") ==
        f + ":1:18: server.listen: needs at least one address, e.g. [\"127.0.0.1:8080\"]");
  CHECK(only_error(dir, "server: {listen: [\"[::1]:80\", \"[::1]:80\"]}\n") ==
        f + ":1:31: server.listen[1]: \"[::1]:80\" is listed twice (first at line 1)");
  CHECK(load_text("server: {listen: [\"[::]:0\", \"localhost:65535\", \"0.0.0.0:1\"]}\n", f).config);
  CHECK(only_error(dir, "identity: {default_region: us}\n") ==
        f + ":1:28: identity.default_region: \"us\" is not a region code (use two upper-case letters, e.g. US, GB, DE)");
  CHECK(only_error(dir, "server: {public_url: cc.example.com}\n") ==
        f + ":1:22: server.public_url: \"cc.example.com\" is not an http:// or https:// URL (e.g. https://cc.example.com)");
  CHECK(only_error(dir, "screen_pop: {crm_url_template: \"https://crm/{custid}\"}\n") ==
        f + ":1:32: screen_pop.crm_url_template: unknown placeholder {custid} (use {customer_id}, {phone}, {email})");
  CHECK(only_error(dir, "screen_pop: {crm_url_template: \"https://crm/{phone\"}\n") ==
        f + ":1:32: screen_pop.crm_url_template: unclosed '{' at character 13");
  CHECK(load_text("screen_pop: {crm_url_template: \"https://crm/c/{customer_id}?p={phone}&e={email}\"}\n", f).config);
}

TEST_CASE("YAML syntax errors give the parser's line and column", "[config][syntax]") {
  TempDir dir;
  const auto f = dir.config_path();
  CHECK(only_error(dir, "server:\n  listen: [\"a:1\"\n") == f + ":3:1: YAML syntax error: end of sequence flow not found");
  CHECK(only_error(dir, "a: b\n---\nc: d\n") == f + ":3:1: only one YAML document is allowed (remove the second \"---\")");
  CHECK(only_error(dir, "- 1\n") == f + ":1:1: expected a map, got a list");
  // yaml-cpp 0.7's LoadAll never returns on a stray root token; we must not hang or accept it.
  CHECK(only_error(dir, ",\n") == f + ":1:1: YAML syntax error: unexpected \",\"");
  CHECK(only_error(dir, "a: b\n---\n") == f + ":3:1: only one YAML document is allowed (remove the second \"---\")");
  CHECK(only_error(dir, std::string(100, '[')) == f + ":1:65: nested more than 64 levels deep");
}

TEST_CASE("deeply nested block YAML is an error, not a crash", "[config][syntax]") {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "- ";
  text += "x\n";
  const auto result = load_text(text, dir.config_path());
  CHECK_FALSE(result.config);
  CHECK_FALSE(result.errors.empty());
}

TEST_CASE("load_file reports an unreadable file", "[config]") {
  const auto result = load_file("/nonexistent/omnitrail.yaml");
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].to_string() == "/nonexistent/omnitrail.yaml: cannot read the config file: No such file or directory");
}

TEST_CASE("duplicate names are reported at the second with the first's line", "[config][duplicates]") {
  TempDir dir;
  const auto f = dir.config_path();
  dir.write("a.token", "token-a");
  dir.write("b.token", "token-b");
  dir.write("w.secret", "secret-w");
  CHECK(only_error(dir,
                   "agents:\n"
                   "  - {id: alice, token_file: a.token}\n"
                   "  - {id: alice, token_file: b.token}\n") ==
        f + ":3:10: agents[1].id: duplicate agent id \"alice\" (first defined at line 2)");
  CHECK(only_error(dir,
                   "webhooks:\n"
                   "  - {name: crm, url: 'https://a', secret_file: w.secret}\n"
                   "  - {name: crm, url: 'https://b', secret_file: w.secret}\n") ==
        f + ":3:12: webhooks[1].name: duplicate webhook name \"crm\" (first defined at line 2)");
  CHECK(only_error(dir,
                   "agents:\n"
                   "  - {id: alice, token_file: a.token}\n"
                   "  - {id: bob, token_file: a.token}\n") ==
        f + ":3:27: agents[1].token_file: same token as agents[0] (line 2); give every agent its own token");
  CHECK(only_error(dir,
                   "agents:\n"
                   "  - {id: alice, token_file: a.token, extensions: ['1001']}\n"
                   "  - {id: bob, token_file: b.token, extensions: ['1002', '1001']}\n") ==
        f + ":3:57: agents[1].extensions[1]: extension \"1001\" is already claimed by agent \"alice\" (line 2)");
  CHECK(only_error(dir,
                   "server: {admin_token_files: [a.token]}\n"
                   "agents:\n"
                   "  - {id: alice, token_file: a.token}\n") ==
        f + ":3:29: agents[0].token_file: same token as server.admin_token_files[0]; give every agent its own token");
}

TEST_CASE("references must resolve: connector queues and fallback agents", "[config][references]") {
  TempDir dir;
  const auto f = dir.config_path();
  dir.write("a.token", "token-a");
  CHECK(only_error(dir,
                   "agents:\n"
                   "  - {id: alice, token_file: a.token, queues: [support]}\n"
                   "screen_pop:\n"
                   "  fallback_agents: [alice, alicia]\n") ==
        f + ":4:28: screen_pop.fallback_agents[1]: \"alicia\" is not an agent id (did you mean \"alice\"?) (agents: alice)");
}

TEST_CASE("secrets: inline values are refused without echoing them", "[config][secret]") {
  TempDir dir;
  const auto f = dir.config_path();
  const auto text = only_error(dir, "agents:\n  - id: alice\n    token: hunter2-inline\n");
  CHECK(text == f + ":3:12: agents[0].token: inline secrets are not allowed; put it in a file and use token_file, or use "
                    "${ENV_VAR}");
  CHECK(text.find("hunter2") == std::string::npos);
  CHECK(only_error(dir, "webhooks: [{name: w, url: 'https://x', secret: abc}]\n") ==
        f + ":1:48: webhooks[0].secret: inline secrets are not allowed; put it in a file and use secret_file, or use "
            "${ENV_VAR}");
}

TEST_CASE("secrets: files must exist, be readable and non-empty", "[config][secret]") {
  TempDir dir;
  const auto f = dir.config_path();
  const auto missing = (dir.path() / "missing.token").string();
  CHECK(only_error(dir, "agents: [{id: alice, token_file: missing.token}]\n") ==
        f + ":1:34: agents[0].token_file: cannot read \"" + missing + "\": No such file or directory");
  dir.write("empty.token", "\n");
  CHECK(only_error(dir, "agents: [{id: alice, token_file: empty.token}]\n") ==
        f + ":1:34: agents[0].token_file: \"" + (dir.path() / "empty.token").string() +
            "\" is empty; write the secret into it");
  CHECK(only_error(dir, "agents: [{id: alice, token_file: '${TOKEN}'}]\n") ==
        f + ":1:34: agents[0].token_file: ${...} is not expanded in token_file; to take the secret from the "
            "environment write token: ${TOKEN}");
  dir.write("a.token", "abc");
  CHECK(only_error(dir, "agents: [{id: alice, token_file: a.token, token: '${X}'}]\n") ==
        f + ":1:34: agents[0].token_file: set either token or token_file, not both");
}

TEST_CASE("secrets: a world-readable file is a warning, not an error", "[config][secret]") {
  TempDir dir;
  dir.write("a.token", "abc\n", 0644);
  const auto result = load_text("agents: [{id: alice, token_file: a.token}]\n", dir.config_path());
  REQUIRE(result.config);
  REQUIRE(result.warnings.size() == 1);
  CHECK(result.warnings[0].to_string() == dir.config_path() + ":1:34: agents[0].token_file: \"" +
                                              (dir.path() / "a.token").string() +
                                              "\" is readable by every user of this machine (chmod 600 or 640 it)");
}

TEST_CASE("secrets: ${ENV} takes the value from the environment", "[config][secret]") {
  TempDir dir;
  const auto f = dir.config_path();
  ::setenv("OMNITRAIL_TEST_TOKEN", "from-env-value", 1);
  ::unsetenv("OMNITRAIL_TEST_UNSET");
  ::setenv("OMNITRAIL_TEST_EMPTY", "", 1);
  const auto ok = load_text("agents: [{id: alice, token: '${OMNITRAIL_TEST_TOKEN}'}]\n", f);
  REQUIRE(ok.config);
  CHECK(ok.config->agents[0].token.value == "from-env-value");
  CHECK(ok.config->agents[0].token.reference == "env:OMNITRAIL_TEST_TOKEN");
  CHECK(only_error(dir, "agents: [{id: alice, token: '${OMNITRAIL_TEST_UNSET}'}]\n") ==
        f + ":1:29: agents[0].token: environment variable OMNITRAIL_TEST_UNSET is not set (export it, or use token_file)");
  CHECK(only_error(dir, "agents: [{id: alice, token: '${OMNITRAIL_TEST_EMPTY}'}]\n") ==
        f + ":1:29: agents[0].token: environment variable OMNITRAIL_TEST_EMPTY is empty");
}

TEST_CASE("secret values never appear in errors, warnings or fingerprints", "[config][secret]") {
  TempDir dir;
  const std::string secret = "TOPSECRET-4b1d";
  dir.write("a.token", secret + "\n", 0644);  // world-readable: produces a warning that names the file
  dir.write("w.secret", secret + "-w\n");
  ::setenv("OMNITRAIL_TEST_SECRET_ENV", (secret + "-env").c_str(), 1);
  const auto result = load_text(
      "server: {admin_token_files: [a.token]}\n"
      "agents:\n"
      "  - {id: alice, token_file: a.token}\n"            // same as the admin token: error
      "  - {id: bob, token: '${OMNITRAIL_TEST_SECRET_ENV}'}\n"
      "  - {id: carol, token: TOPSECRET-4b1d-inline}\n"  // inline: error
      "webhooks: [{name: w, url: 'https://x', secret_file: w.secret, bogus: TOPSECRET-4b1d}]\n",
      dir.config_path());
  REQUIRE(result.errors.size() >= 3);
  CHECK(all_text(result).find(secret) == std::string::npos);
}
