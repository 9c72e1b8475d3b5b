// The webchat config block as a specification: defaults, canonical origins, and errors that name
// the key (README.md "Configuration").
#include <catch2/catch.hpp>

#include <cstdlib>

#include "connectors/webchat/webchat_settings.hpp"
#include "daemon/config/connector_registry.hpp"
#include "tests/unit/config/config_test_support.hpp"

using namespace omnitrail::config;
using namespace omnitrail::config::test;
using omnitrail::connectors::webchat::validate_webchat;
using omnitrail::connectors::webchat::WebchatSettings;

namespace {

struct Registered {
  Registered() { register_connector_type("webchat", validate_webchat); }
  ~Registered() { unregister_connector_type("webchat"); }
};

LoadResult load(const TempDir& dir, const std::string& block) {
  ::setenv("OMNITRAIL_TEST_AGENT_TOKEN", "agent-token-value", 1);
  ::setenv("OMNITRAIL_TEST_WEBCHAT_SECRET", "webchat-secret-0123456789", 1);
  return load_text("agents:\n  - {id: alice, token: '${OMNITRAIL_TEST_AGENT_TOKEN}', queues: [support]}\n"
                   "connectors:\n  - name: site\n    type: webchat\n    queue: support\n" + block,
                   dir.config_path());
}

std::vector<std::string> messages(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.path + ": " + e.message);
  return out;
}

}  // namespace

TEST_CASE("a webchat block with defaults", "[webchat][config]") {
  Registered registered;
  TempDir dir;
  auto r = load(dir, "    allowed_origins: [\"https://Shop.Example.com:443\", \"https://*.example.org\"]\n"
                     "    token_secret: ${OMNITRAIL_TEST_WEBCHAT_SECRET}\n");
  INFO(messages(r).size());
  REQUIRE(r.errors.empty());
  const auto* s = dynamic_cast<const WebchatSettings*>(r.config->connectors.at(0).settings.get());
  REQUIRE(s);
  CHECK(s->allowed_origins == std::vector<std::string>{"https://shop.example.com", "https://*.example.org"});
  CHECK(s->token_secret.value == "webchat-secret-0123456789");
  CHECK(s->identity_secret.value.empty());
  CHECK(s->form_fields.empty());
  CHECK(s->max_frame_bytes == 8 * 1024);
  CHECK(s->max_text_bytes == 4000);
  CHECK(s->idle_timeout == std::chrono::minutes(15));
  CHECK(s->reassign_after == std::chrono::seconds(60));
  CHECK(s->max_chats_per_agent == 5);
  CHECK(s->rate_limits.message_burst == 20);
}

TEST_CASE("webchat config errors name the key and never echo a secret", "[webchat][config]") {
  Registered registered;
  TempDir dir;
  struct Case {
    std::string block;
    std::string error;
  };
  for (const auto& c : {
           Case{"    queue_size: 3\n", "connectors[0].allowed_origins: missing required key \"allowed_origins\""},
           Case{"    allowed_origins: []\n", "connectors[0].allowed_origins: must list at least one origin"},
           Case{"    allowed_origins: [\"https://shop.example.com/chat\"]\n", "connectors[0].allowed_origins[0]: \""},
           Case{"    allowed_origins: [\"*\"]\n    max_text_bytes: 8000\n", "connectors[0].max_text_bytes: must be at most"},
           Case{"    allowed_origins: [\"*\"]\n    pre_chat_form: {fields: [name], required: [email]}\n",
                "connectors[0].pre_chat_form.required: \"email\" is required but not one of the form's fields"},
           Case{"    allowed_origins: [\"*\"]\n    pre_chat_form: {fields: [age]}\n", "connectors[0].pre_chat_form.fields"},
           Case{"    allowed_origins: [\"*\"]\n    reassign_after: 2s\n", "connectors[0].reassign_after: must be 0s (never) or at least 5s"},
           Case{"    allowed_origins: [\"*\"]\n    identity_secret: ${OMNITRAIL_TEST_SHORT}\n",
                "connectors[0].identity_secret: must be at least 16 bytes"},
           Case{"    allowed_origins: [\"*\"]\n    identity_secret: inline-secret-value-123\n", "connectors[0].identity_secret"},
       }) {
    ::setenv("OMNITRAIL_TEST_SHORT", "short", 1);
    INFO(c.block);
    auto r = load(dir, c.block);
    const auto all = messages(r);
    bool found = false;
    for (const auto& m : all) {
      found = found || m.rfind(c.error, 0) == 0;
      CHECK(m.find("inline-secret-value-123") == std::string::npos);
      CHECK(m.find("short") == std::string::npos);
    }
    INFO(all.size() << " errors; first: " << (all.empty() ? std::string() : all.front()));
    CHECK(found);
  }
}
