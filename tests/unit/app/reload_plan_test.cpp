#include <catch2/catch.hpp>

#include "daemon/reload_plan.hpp"

using omnitrail::plan_reload;
using omnitrail::config::Config;
using omnitrail::config::ConnectorConfig;

namespace {

ConnectorConfig connector(const std::string& name, const std::string& fingerprint, bool enabled = true,
                          const std::string& type = "asterisk_ami") {
  ConnectorConfig c;
  c.name = name;
  c.type = type;
  c.enabled = enabled;
  c.fingerprint = fingerprint;
  return c;
}

}  // namespace

TEST_CASE("only changed connectors restart on reload", "[app][reload]") {
  Config before, after;
  before.connectors = {connector("pbx", "f1"), connector("mail", "m1"), connector("old", "o1"), connector("off", "x", false)};
  after.connectors = {connector("pbx", "f1"), connector("mail", "m2"), connector("new", "n1"), connector("off", "x", true)};
  auto plan = plan_reload(before, after);
  CHECK(plan.unchanged == std::vector<std::string>{"pbx"});
  // Changed: stop then start. Removed: stop. Added or newly enabled: start.
  CHECK(plan.stop == std::vector<std::string>{"mail", "old"});
  CHECK(plan.start == std::vector<std::string>{"mail", "new", "off"});
  CHECK(plan.restart_required.empty());
}

TEST_CASE("a type change restarts the connector even with the same fingerprint", "[app][reload]") {
  Config before, after;
  before.connectors = {connector("sms", "same", true, "kannel")};
  after.connectors = {connector("sms", "same", true, "twilio_sms")};
  auto plan = plan_reload(before, after);
  CHECK(plan.stop == std::vector<std::string>{"sms"});
  CHECK(plan.start == std::vector<std::string>{"sms"});
}

TEST_CASE("disabling a connector stops it", "[app][reload]") {
  Config before, after;
  before.connectors = {connector("pbx", "f1")};
  after.connectors = {connector("pbx", "f1", false)};
  auto plan = plan_reload(before, after);
  CHECK(plan.stop == std::vector<std::string>{"pbx"});
  CHECK(plan.start.empty());
}

TEST_CASE("settings that need a restart are reported, not applied", "[app][reload]") {
  Config before, after;
  after.server.listen = {"127.0.0.1:9090"};
  after.server.threads = 2;
  after.storage.sqlite_path = "/var/lib/omnitrail/other.db";
  after.storage.synchronous = "full";
  after.server.tls = omnitrail::config::TlsConfig{"c.pem", "k.pem"};
  after.logging.level = "debug";  // live: not reported
  auto plan = plan_reload(before, after);
  CHECK(plan.restart_required == std::vector<std::string>{"server.listen", "server.tls", "server.threads",
                                                          "storage.sqlite_path", "storage.synchronous"});
  CHECK(plan_reload(before, before).restart_required.empty());
}
