// The visitor protocol as a specification (connectors/webchat/README.md "Visitor protocol"): what
// a visitor's frame may hold, and the nasty frames that must be refused without a crash.
#include <catch2/catch.hpp>

#include <string>

#include "connectors/webchat/visitor_protocol.hpp"

using namespace omnitrail::connectors::webchat;
using Type = VisitorMessage::Type;

namespace {

std::optional<VisitorMessage> parse(const std::string& text, std::string& error) {
  ProtocolLimits limits;
  limits.max_text_bytes = 100;
  return parse_visitor_message(text, limits, error);
}

}  // namespace

TEST_CASE("visitor frames parse into typed messages", "[webchat][protocol]") {
  std::string error;
  auto hello = parse(R"({"type":"hello","token":"t","page":"https://shop.example/cart",
    "identity":{"user_id":" u-1 ","email":"a@example.com","name":"Ada","user_hash":"ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"}})",
                     error);
  REQUIRE(hello);
  CHECK(hello->type == Type::hello);
  CHECK(hello->token == "t");
  CHECK(hello->page == "https://shop.example/cart");
  CHECK(hello->identity.user_id == "u-1");  // trimmed
  CHECK(hello->identity.email == "a@example.com");
  CHECK(hello->identity.user_hash == "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");  // lower-cased

  auto bare = parse(R"({"type":"hello"})", error);
  REQUIRE(bare);
  CHECK(bare->identity.empty());

  auto form = parse(R"({"type":"form","name":"Ada","email":"ada@example.com","phone":"+44 20 7946 0123"})", error);
  REQUIRE(form);
  CHECK(form->form.phone == "+44 20 7946 0123");

  auto message = parse(R"({"type":"message","id":"m-12345678","text":"  Hello\nthere  "})", error);
  REQUIRE(message);
  CHECK(message->id == "m-12345678");
  CHECK(message->text == "Hello\nthere");

  auto received = parse(R"({"type":"received","ids":["m_0123456789abcdef","abcdefgh"]})", error);
  REQUIRE(received);
  CHECK(received->ids.size() == 2);

  CHECK(parse(R"({"type":"typing"})", error)->type == Type::typing);
  CHECK(parse(R"({"type":"end"})", error)->type == Type::end);
  CHECK(parse(R"({"type":"ping","extra":"ignored"})", error)->type == Type::ping);
}

TEST_CASE("malformed visitor frames are refused with a reason", "[webchat][protocol]") {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::string long_text(101, 'x');
  const std::string deep = R"({"type":"ping","x":[[[[[1]]]]]})";
  for (const auto& c : {
           Case{"", "body is not valid JSON"},
           Case{"not json", "body is not valid JSON"},
           Case{"[1,2]", "body must be a JSON object"},
           Case{"\"hello\"", "body must be a JSON object"},
           Case{R"({"type":1})", "every frame needs a string \"type\""},
           Case{R"({})", "every frame needs a string \"type\""},
           Case{deep, "JSON nested deeper than 4 levels"},
           Case{R"({"type":"dance"})", "unknown frame type \"dance\""},
           Case{R"({"type":"message","text":"hi"})", "id: required, 8 to 64 of A-Z a-z 0-9 _ -"},
           Case{R"({"type":"message","id":"short","text":"hi"})", "id: required, 8 to 64 of A-Z a-z 0-9 _ -"},
           Case{R"({"type":"message","id":"has space 1","text":"hi"})", "id: required, 8 to 64 of A-Z a-z 0-9 _ -"},
           Case{R"({"type":"message","id":"abcdefgh"})", "text: required string"},
           Case{R"({"type":"message","id":"abcdefgh","text":7})", "text: required string"},
           Case{R"({"type":"message","id":"abcdefgh","text":"   "})", "text: must not be empty"},
           Case{R"({"type":"message","id":"abcdefgh","text":")" + long_text + R"("})", "text: longer than 100 bytes"},
           Case{R"({"type":"message","id":"abcdefgh","text":"nul\u0000byte"})", "text: contains invalid characters"},
           Case{R"({"type":"message","id":"abcdefgh","text":"bell\u0007"})", "text: contains invalid characters"},
           Case{R"({"type":"message","id":"abcdefgh","text":"\ud800"})", "body is not valid JSON"},
           Case{R"({"type":"form","name":"line\nbreak"})", "name: contains invalid characters"},
           Case{R"({"type":"form","email":["a@b.c"]})", "email: must be a string"},
           Case{R"({"type":"hello","identity":"alice"})", "identity: must be an object"},
           Case{R"({"type":"hello","identity":{"role":"admin"}})", "identity: unknown field \"role\""},
           Case{R"({"type":"hello","identity":{"user_id":"u","user_hash":"zz"}})",
                "identity.user_hash: must be 64 hex digits (HMAC-SHA256)"},
           Case{R"({"type":"hello","identity":{"user_id":5}})", "identity.user_id: must be a string"},
           Case{R"({"type":"received","ids":[]})", "ids: required list of 1 to 100 message ids"},
           Case{R"({"type":"received","ids":"abcdefgh"})", "ids: required list of 1 to 100 message ids"},
           Case{R"({"type":"received","ids":[1]})", "ids: every item must be a message id"},
       }) {
    INFO(c.text);
    std::string error;
    CHECK_FALSE(parse(c.text, error));
    CHECK(error == c.error);
  }
  // Invalid UTF-8 bytes, raw control bytes, a huge list: refused, never a crash.
  std::string error;
  CHECK_FALSE(parse("{\"type\":\"message\",\"id\":\"abcdefgh\",\"text\":\"\xff\xfe\"}", error));
  CHECK_FALSE(parse(std::string("{\"type\":\"ping\"\0}", 16), error));
  std::string many = R"({"type":"received","ids":[)";
  for (int i = 0; i < 101; ++i) many += std::string(i ? "," : "") + "\"abcdefgh\"";
  CHECK_FALSE(parse(many + "]}", error));
  CHECK_FALSE(parse(R"({"type":"hello","token":")" + std::string(600, 'a') + R"("})", error));
}

TEST_CASE("message ids: 8 to 64 URL-safe characters", "[webchat][protocol]") {
  CHECK(valid_message_id("abcdefgh"));
  CHECK(valid_message_id("m_0123456789abcdef"));
  CHECK(valid_message_id(std::string(64, 'a')));
  CHECK_FALSE(valid_message_id(std::string(65, 'a')));
  CHECK_FALSE(valid_message_id("abcdefg"));
  CHECK_FALSE(valid_message_id("abc/efgh"));
  CHECK_FALSE(valid_message_id("abcdéfgh"));
}

TEST_CASE("a chat line reads differently for the visitor and for the agent", "[webchat][protocol]") {
  ChatLine agent_line{"m_0123456789abcdef", "agent", "alice", "Alice Agent", "Hi!", 1795525200000};
  auto for_visitor = visitor_json(agent_line);
  CHECK(for_visitor["from"] == "agent");
  CHECK(for_visitor["agent"] == "Alice Agent");  // a name, never the agent id
  CHECK(for_visitor["at"] == "2026-11-24T13:00:00.000Z");
  CHECK_FALSE(dump(for_visitor).find("alice") != std::string::npos);
  auto for_agent = agent_json(agent_line);
  CHECK(for_agent["from"] == "alice");
  ChatLine visitor_line{"abcdefgh", "visitor", {}, {}, "Hello", 1795525200000};
  CHECK(agent_json(visitor_line)["from"] == "visitor");
  CHECK_FALSE(visitor_json(visitor_line).contains("agent"));
}
