#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "connectors/asterisk_ami/ami_parser.hpp"
#include "tests/unit/asterisk_ami/ami_test_support.hpp"

using omnitrail::connectors::ami::Fields;
using omnitrail::connectors::ami::Message;
using omnitrail::connectors::ami::OriginateRequest;
using omnitrail::connectors::ami::Parser;
using omnitrail::connectors::ami::ParserLimits;
namespace ami = omnitrail::connectors::ami;

namespace {

bool same(const Message& a, const Message& b) { return a.fields() == b.fields() && a.output() == b.output(); }

bool same(const std::vector<Message>& a, const std::vector<Message>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}

std::vector<Message> drain(Parser& parser) {
  std::vector<Message> out;
  while (auto m = parser.next()) out.push_back(std::move(*m));
  return out;
}

ParserLimits no_banner() {
  ParserLimits limits;
  limits.expect_banner = false;
  return limits;
}

}  // namespace

TEST_CASE("each AMI capture parses into its messages after the banner", "[asterisk_ami][parser]") {
  struct Case {
    const char* file;
    std::size_t messages, events, responses;
  };
  for (const auto& c : {Case{"direct_call.ami", 96, 94, 2}, Case{"noanswer.ami", 25, 23, 2}, Case{"queue_call.ami", 95, 93, 2}}) {
    INFO(c.file);
    Parser parser;
    parser.feed(ami_test::fixture(c.file));
    auto messages = drain(parser);
    CHECK(parser.error() == "");
    CHECK(parser.banner() == "Asterisk Call Manager/13.0.0");
    CHECK(parser.malformed_lines() == 0);
    CHECK(parser.buffered_bytes() == 0);
    REQUIRE(messages.size() == c.messages);
    std::size_t events = 0, responses = 0;
    for (const auto& m : messages) {
      events += m.is_event();
      responses += m.is_response();
      CHECK(m.output().empty());
    }
    CHECK(events == c.events);
    CHECK(responses == c.responses);
    CHECK(messages.front().value("Response") == "Success");
    CHECK(messages.front().value("Message") == "Authentication accepted");
    CHECK(messages[1].event() == "FullyBooted");
  }
}

TEST_CASE("splitting a capture at every byte boundary yields the same messages", "[asterisk_ami][parser]") {
  for (const char* file : {"noanswer.ami", "direct_call.ami", "queue_call.ami"}) {
    INFO(file);
    const auto bytes = ami_test::fixture(file);
    const auto whole = ami_test::parse_all(bytes);
    REQUIRE(whole.size() > 20);
    std::size_t mismatches = 0;
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
      Parser parser;
      parser.feed(std::string_view(bytes).substr(0, cut));
      auto got = drain(parser);
      parser.feed(std::string_view(bytes).substr(cut));
      for (auto& m : drain(parser)) got.push_back(std::move(m));
      if (!same(got, whole) || parser.failed() || parser.banner() != "Asterisk Call Manager/13.0.0") ++mismatches;
    }
    CHECK(mismatches == 0);
    Parser bytewise;  // one byte at a time, reading in between
    std::vector<Message> got;
    for (char c : bytes) {
      bytewise.feed(std::string_view(&c, 1));
      for (auto& m : drain(bytewise)) got.push_back(std::move(m));
    }
    CHECK(same(got, whole));
  }
}

TEST_CASE("keys are case-insensitive and repeated keys keep their order", "[asterisk_ami][parser]") {
  Parser parser(no_banner());
  parser.feed(
      "Response: Success\r\nActionID: cmd-1\r\nOutput: line one\r\noutput: line two\r\nOUTPUT: \r\n"
      "Variable: a=1\r\nVariable: b=2\r\nAccountCode: \r\nEmpty:\r\n\r\n");
  auto messages = drain(parser);
  REQUIRE(messages.size() == 1);
  const auto& m = messages[0];
  CHECK(m.is_response());
  CHECK_FALSE(m.is_event());
  CHECK(m.value("actionid") == "cmd-1");
  CHECK(m.get("ACTIONID").value() == "cmd-1");
  CHECK(m.all("Output") == std::vector<std::string_view>{"line one", "line two", ""});
  CHECK(m.get("Variable").value() == "a=1");
  CHECK(m.all("variable").size() == 2);
  REQUIRE(m.get("AccountCode"));
  CHECK(m.get("AccountCode")->empty());
  REQUIRE(m.get("Empty"));
  CHECK(m.get("Empty")->empty());
  CHECK_FALSE(m.get("Missing"));
  CHECK(m.value("Missing").empty());
}

TEST_CASE("OriginateResponse is an event although it carries Response", "[asterisk_ami][parser]") {
  auto messages = ami_test::parse_all(ami_test::fixture("noanswer.ami"));
  const Message* originate = nullptr;
  for (const auto& m : messages) {
    if (m.event() == "OriginateResponse") originate = &m;
  }
  REQUIRE(originate != nullptr);
  CHECK(originate->is_event());
  CHECK_FALSE(originate->is_response());
  CHECK(originate->value("Response") == "Failure");
  CHECK(originate->value("ActionID") == "orig-3");
}

TEST_CASE("legacy Response Follows keeps raw output with blank lines until END COMMAND", "[asterisk_ami][parser]") {
  Parser parser;
  parser.feed("Asterisk Call Manager/1.1\r\n");
  parser.feed(
      "Response: Follows\r\nPrivilege: Command\r\nActionID: cli-7\r\n"
      "Channel              Location             State   Application(Data)\r\n"
      "\r\n"
      "Key: looks like a field\r\n"
      "0 active channels\r\n"
      "--END COMMAND--\r\n\r\n"
      "Response: Follows\r\nActionID: cli-8\r\nno newline before marker--END COMMAND--\r\n\r\n"
      "Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n");
  auto messages = drain(parser);
  CHECK(parser.error() == "");
  CHECK(parser.banner() == "Asterisk Call Manager/1.1");
  REQUIRE(messages.size() == 3);
  CHECK(messages[0].value("Response") == "Follows");
  CHECK(messages[0].value("ActionID") == "cli-7");
  CHECK(messages[0].value("Privilege") == "Command");
  CHECK_FALSE(messages[0].has("Key"));
  CHECK(messages[0].output() ==
        "Channel              Location             State   Application(Data)\n\nKey: looks like a field\n0 active channels");
  CHECK(messages[1].value("ActionID") == "cli-8");
  CHECK(messages[1].output() == "no newline before marker");
  CHECK(messages[2].event() == "FullyBooted");
  CHECK(parser.malformed_lines() == 0);
}

TEST_CASE("bare LF line endings parse like CRLF", "[asterisk_ami][parser]") {
  const auto crlf = ami_test::fixture("queue_call.ami");
  std::string lf;
  for (char c : crlf) {
    if (c != '\r') lf.push_back(c);
  }
  REQUIRE(lf.size() < crlf.size());
  Parser parser;
  parser.feed(lf);
  CHECK(parser.banner() == "Asterisk Call Manager/13.0.0");
  CHECK(same(drain(parser), ami_test::parse_all(crlf)));
  Parser mixed(no_banner());
  mixed.feed("Event: Ping\nA: 1\r\nB: 2\n\r\n");
  auto messages = drain(mixed);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].value("A") == "1");
  CHECK(messages[0].value("B") == "2");
}

TEST_CASE("lines without a colon are kept as raw output and counted", "[asterisk_ami][parser]") {
  Parser parser(no_banner());
  parser.feed("Event: Odd\r\nno colon here\r\n: empty key\r\nbad key: x\r\nGood: yes\r\n\r\n");
  auto messages = drain(parser);
  REQUIRE(messages.size() == 1);
  CHECK(parser.malformed_lines() == 3);
  CHECK(messages[0].output() == "no colon here\n: empty key\nbad key: x");
  CHECK(messages[0].value("Good") == "yes");
  CHECK(messages[0].fields().size() == 2);
  CHECK(parser.error() == "");
}

TEST_CASE("a first line that is not the AMI banner is an error", "[asterisk_ami][parser]") {
  Parser parser;
  parser.feed("HTTP/1.1 400 Bad Request\r\n\r\n");
  CHECK(parser.failed());
  CHECK(parser.error().find("banner") != std::string::npos);
  CHECK_FALSE(parser.next());
  parser.reset();
  CHECK_FALSE(parser.failed());
  parser.feed("Asterisk Call Manager/9.0.0\r\nEvent: X\r\n\r\n");
  CHECK(parser.banner() == "Asterisk Call Manager/9.0.0");
  CHECK(drain(parser).size() == 1);
}

TEST_CASE("an overlong line puts the parser in its error state", "[asterisk_ami][parser]") {
  ParserLimits limits = no_banner();
  limits.max_line_bytes = 100;
  SECTION("terminated") {
    Parser parser(limits);
    parser.feed("Event: A\r\n\r\nEvent: B\r\nLong: " + std::string(200, 'x') + "\r\n\r\nEvent: C\r\n\r\n");
    CHECK(parser.failed());
    CHECK(parser.error() == "line longer than 100 bytes");
    auto messages = drain(parser);  // completed before the error: still delivered
    REQUIRE(messages.size() == 1);
    CHECK(messages[0].event() == "A");
  }
  SECTION("never terminated, fed in pieces") {
    Parser parser(limits);
    for (int i = 0; i < 50 && !parser.failed(); ++i) parser.feed("xxxx");
    CHECK(parser.failed());
    CHECK(parser.buffered_bytes() <= 104);
    parser.feed("\r\n\r\nEvent: late\r\n\r\n");  // ignored after the error
    CHECK_FALSE(parser.next());
  }
  SECTION("exactly the limit is accepted") {
    Parser parser(limits);
    parser.feed("K: " + std::string(97, 'y') + "\r\n\r\n");
    CHECK(parser.error() == "");
    REQUIRE(parser.next());
  }
}

TEST_CASE("the number of fields per message is bounded", "[asterisk_ami][parser]") {
  ParserLimits limits = no_banner();
  limits.max_fields = 10;
  Parser parser(limits);
  std::string message = "Event: Many\r\n";
  for (int i = 0; i < 9; ++i) message += "Variable: v" + std::to_string(i) + "\r\n";
  parser.feed(message + "\r\n");
  REQUIRE(parser.next());
  CHECK_FALSE(parser.failed());
  parser.feed(message + "Variable: one too many\r\n\r\n");
  CHECK(parser.failed());
  CHECK(parser.error() == "message with more than 10 fields");
  CHECK_FALSE(parser.next());
}

TEST_CASE("buffered bytes are bounded when messages are not read", "[asterisk_ami][parser]") {
  ParserLimits limits = no_banner();
  limits.max_buffered_bytes = 4096;
  Parser parser(limits);
  for (int i = 0; i < 1000 && !parser.failed(); ++i) parser.feed("Event: Flood\r\nData: 0123456789\r\n\r\n");
  CHECK(parser.failed());
  CHECK(parser.error().find("4096 bytes buffered") != std::string::npos);
  std::size_t read = 0;
  while (parser.next()) ++read;
  CHECK(read > 10);
  CHECK(read < 200);
  CHECK(parser.buffered_bytes() == 0);
}

TEST_CASE("garbage bytes never crash and leave a bounded state", "[asterisk_ami][parser]") {
  std::string garbage;
  std::uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 1103515245u + 12345u;
    garbage.push_back(static_cast<char>(x >> 24));
  }
  Parser parser(no_banner());
  std::size_t offset = 0, step = 1;
  while (offset < garbage.size()) {
    parser.feed(std::string_view(garbage).substr(offset, step));
    offset += step;
    step = step % 97 + 1;
    while (parser.next()) {
    }
  }
  CHECK(parser.buffered_bytes() <= ParserLimits{}.max_buffered_bytes);
  Parser with_nul(no_banner());
  with_nul.feed(std::string("Event: A\0B\r\nX\0: y\r\n\r\n", 21));
  auto m = with_nul.next();
  REQUIRE(m);
  CHECK(m->value("Event") == std::string_view("A\0B", 3));
}

TEST_CASE("serialize_action writes an action and refuses CR LF NUL", "[asterisk_ami][actions]") {
  CHECK(ami::serialize_action("Ping", {}, "p-1") == "Action: Ping\r\nActionID: p-1\r\n\r\n");
  CHECK(ami::serialize_action("Setvar", {{"Variable", "X"}, {"Value", ""}}, "s-1") ==
        "Action: Setvar\r\nActionID: s-1\r\nVariable: X\r\nValue: \r\n\r\n");
  CHECK(ami::serialize_action("Login", {{"Secret", "pw\r\nAction: Originate"}}, "l-1").empty());
  CHECK(ami::serialize_action("Login", {{"Secret", "pw\nx"}}, "l-1").empty());
  CHECK(ami::serialize_action("Login", {{"Secret", "pw\rx"}}, "l-1").empty());
  CHECK(ami::serialize_action("Login", {{"Secret", std::string("a\0b", 3)}}, "l-1").empty());
  CHECK(ami::serialize_action("Login", {{"Sec\r\nret", "x"}}, "l-1").empty());
  CHECK(ami::serialize_action("Login", {{"Se:cret", "x"}}, "l-1").empty());
  CHECK(ami::serialize_action("Login", {{"", "x"}}, "l-1").empty());
  CHECK(ami::serialize_action("Ping", {}, "p\r\n1").empty());
  CHECK(ami::serialize_action("Ping", {}, "").empty());
  CHECK(ami::serialize_action("Pi\nng", {}, "p").empty());
  CHECK(ami::serialize_action("", {}, "p").empty());
  CHECK(ami::login_action("omni", "s3cret\r\nEvents: on", "login-1").empty());
}

TEST_CASE("action helpers produce what Asterisk expects and parse back", "[asterisk_ami][actions]") {
  CHECK(ami::login_action("omni", "s3cret", "login-1") ==
        "Action: Login\r\nActionID: login-1\r\nUsername: omni\r\nSecret: s3cret\r\n\r\n");
  CHECK(ami::login_action("omni", "s3cret", "login-1", "call,agent,system") ==
        "Action: Login\r\nActionID: login-1\r\nUsername: omni\r\nSecret: s3cret\r\nEvents: call,agent,system\r\n\r\n");
  CHECK(ami::challenge_action("c-1") == "Action: Challenge\r\nActionID: c-1\r\nAuthType: md5\r\n\r\n");
  CHECK(ami::login_md5_action("omni", "abc", "login-2") ==
        "Action: Login\r\nActionID: login-2\r\nAuthType: md5\r\nUsername: omni\r\nKey: abc\r\n\r\n");
  CHECK(ami::ping_action("ping-9") == "Action: Ping\r\nActionID: ping-9\r\n\r\n");
  CHECK(ami::core_show_channels_action("sync-1") == "Action: CoreShowChannels\r\nActionID: sync-1\r\n\r\n");
  CHECK(ami::filter_action("Event: Hangup", "f-1") ==
        "Action: Filter\r\nActionID: f-1\r\nOperation: Add\r\nFilter: Event: Hangup\r\n\r\n");
  const auto filter = ami::filter_action(ami::tracked_events_filter(), "f-2");
  REQUIRE_FALSE(filter.empty());
  CHECK(filter.find("DialBegin|") != std::string::npos);

  OriginateRequest request;
  request.channel = "PJSIP/6001";
  request.exten = "+14155550123";
  request.context = "outbound";
  request.caller_id = "Omnitrail <6001>";
  request.timeout_ms = 25000;
  request.channel_id = "omni-1";
  request.variables = {{"OMNI_AGENT", "alice"}};
  const auto originate = ami::originate_action(request, "orig-1");
  auto parsed = ami_test::parse_all(originate, false);
  REQUIRE(parsed.size() == 1);
  CHECK(parsed[0].value("Action") == "Originate");
  CHECK(parsed[0].value("ActionID") == "orig-1");
  CHECK(parsed[0].value("Channel") == "PJSIP/6001");
  CHECK(parsed[0].value("Exten") == "+14155550123");
  CHECK(parsed[0].value("Context") == "outbound");
  CHECK(parsed[0].value("Priority") == "1");
  CHECK(parsed[0].value("Timeout") == "25000");
  CHECK(parsed[0].value("Async") == "true");
  CHECK(parsed[0].value("CallerID") == "Omnitrail <6001>");
  CHECK(parsed[0].value("ChannelId") == "omni-1");
  CHECK(parsed[0].value("Variable") == "OMNI_AGENT=alice");
  request.exten = "123\r\nAction: Hangup";
  CHECK(ami::originate_action(request, "orig-2").empty());
  request.exten = "";
  CHECK(ami::originate_action(request, "orig-3").empty());
}

TEST_CASE("md5_key matches md5sum of challenge and secret", "[asterisk_ami][actions]") {
  // printf '%s' '1234567890secret' | md5sum
  CHECK(ami::md5_key("1234567890", "secret") == "e9b7ae6c91f6694cfc36d893733b1f7c");
  CHECK(ami::md5_key("", "") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(ami::md5_key("1234567890", "Secret") != ami::md5_key("1234567890", "secret"));
}
