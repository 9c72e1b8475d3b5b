#include <catch2/catch.hpp>

#include "daemon/agents/agent_message.hpp"

using omnitrail::agents::AgentMessage;
using omnitrail::agents::AgentMessageError;
using omnitrail::agents::parse_agent_message;

TEST_CASE("agent frames parse into typed messages", "[agents][protocol]") {
  AgentMessageError error;
  auto auth = parse_agent_message(R"({"type":"auth","token":"t0k"})", error);
  REQUIRE(auth);
  CHECK(auth->type == AgentMessage::Type::auth);
  CHECK(auth->token == "t0k");
  auto presence = parse_agent_message(R"({"type":"presence","status":"busy","id":3})", error);
  REQUIRE(presence);
  CHECK(presence->presence == omnitrail::screenpop::Presence::busy);
  CHECK(presence->ref == 3);
  auto ack = parse_agent_message(R"({"type":"pop.ack","pop_id":"p_1","id":"a"})", error);
  REQUIRE(ack);
  CHECK(ack->pop_id == "p_1");
  CHECK(ack->ref == "a");
  CHECK(parse_agent_message(R"({"type":"ping"})", error));
}

TEST_CASE("bad agent frames are refused with a reason and the client's id", "[agents][protocol]") {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const auto& c : {Case{"nope", "body is not valid JSON"}, Case{"[]", "body must be a JSON object"},
                        Case{R"({"id":1})", "every message needs a string \"type\""},
                        Case{R"({"type":"presence","status":"offline","id":1})", "status: must be available, away or busy"},
                        Case{R"({"type":"presence","id":1})", "status: required string of at most 32 bytes"},
                        Case{R"({"type":"auth","token":"","id":1})", "token: required string of at most 4096 bytes"},
                        Case{R"({"type":"pop.ack","pop_id":5,"id":1})", "pop_id: required string of at most 64 bytes"},
                        Case{R"({"type":"dance","id":1})", "unknown message type \"dance\""},
                        Case{R"({"type":"ping","x":[[[[[[[[[[1]]]]]]]]]]})", "JSON nested deeper than 8 levels"}}) {
    INFO(c.text);
    AgentMessageError error;
    CHECK_FALSE(parse_agent_message(c.text, error));
    CHECK(error.message == c.message);
  }
}

TEST_CASE("chat frames parse with their fields; a bad field is refused", "[agents][protocol]") {
  AgentMessageError chat;
  auto send = parse_agent_message(R"({"type":"chat.send","chat_id":"v_1","text":"hi","client_message_id":"k1"})", chat);
  REQUIRE(send);
  CHECK(send->type == AgentMessage::Type::chat_send);
  CHECK(send->chat_id == "v_1");
  CHECK(send->text == "hi");
  CHECK(send->client_message_id == "k1");
  auto typing = parse_agent_message(R"({"type":"chat.typing","chat_id":"v_1"})", chat);
  REQUIRE(typing);
  CHECK(typing->type == AgentMessage::Type::chat_typing);
  auto end = parse_agent_message(R"({"type":"chat.end","chat_id":"v_1"})", chat);
  REQUIRE(end);
  CHECK(end->type == AgentMessage::Type::chat_end);
  auto transfer = parse_agent_message(R"({"type":"chat.transfer","chat_id":"v_1","to_agent":"bob"})", chat);
  REQUIRE(transfer);
  CHECK(transfer->type == AgentMessage::Type::chat_transfer);
  CHECK(transfer->to_agent == "bob");
  for (const char* bad : {R"({"type":"chat.send","text":"hi"})", R"({"type":"chat.send","chat_id":"v_1"})",
                          R"({"type":"chat.send","chat_id":"v_1","text":""})",
                          R"({"type":"chat.send","chat_id":"v_1","text":"x","client_message_id":7})",
                          R"({"type":"chat.transfer","chat_id":"v_1"})", R"({"type":"chat.typing","chat_id":5})"}) {
    INFO(bad);
    AgentMessageError error;
    CHECK_FALSE(parse_agent_message(bad, error));
    CHECK(error.code == "invalid_message");
  }
  AgentMessageError error;
  CHECK_FALSE(parse_agent_message(R"({"type":"dance","id":"r-1"})", error));
  CHECK(error.code == "invalid_message");
  CHECK(error.ref == "r-1");
  CHECK_FALSE(parse_agent_message(R"({"type":"dance","id":{"o":1}})", error));
  CHECK(error.ref.is_null());
}
