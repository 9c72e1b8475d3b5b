// imap_protocol: what the IMAP poller reads from libcurl's untagged lines and how it decides
// where a poll starts.
#include "connectors/imap_smtp/imap_protocol.hpp"

#include <catch2/catch.hpp>

using namespace omnitrail::connectors::imap_smtp;

TEST_CASE("STATUS and SELECT/EXAMINE responses give UIDVALIDITY and UIDNEXT", "[imap]") {
  auto s = parse_folder_status("* STATUS \"INBOX\" (UIDVALIDITY 1700000001 UIDNEXT 43)\r\n");
  REQUIRE(s);
  CHECK(s->uidvalidity == 1700000001);
  CHECK(s->uidnext == 43);
  auto e = parse_folder_status(
      "* FLAGS (\\Answered \\Seen)\r\n* 3 EXISTS\r\n* OK [uidvalidity 7] UIDs valid\r\n* OK [UIDNEXT 4] Predicted\r\n");
  REQUIRE(e);
  CHECK(e->uidvalidity == 7);
  CHECK(e->uidnext == 4);
  // Words that only contain the name, and lines that are not untagged, do not count.
  CHECK_FALSE(parse_folder_status("* STATUS \"X\" (XUIDVALIDITY 5)\r\n"));
  CHECK_FALSE(parse_folder_status("A1 OK [UIDVALIDITY 5]\r\n"));
  CHECK_FALSE(parse_folder_status("* STATUS \"X\" (UIDVALIDITY 0 UIDNEXT 1)"));
  CHECK_FALSE(parse_folder_status("* STATUS \"X\" (UIDVALIDITY 99999999999999999999999 UIDNEXT 1)"));
  CHECK_FALSE(parse_folder_status(""));
}

TEST_CASE("SEARCH responses give sorted, unique UIDs", "[imap]") {
  CHECK(parse_search("* SEARCH 9 3 5\r\n") == std::vector<std::uint64_t>{3, 5, 9});
  CHECK(parse_search("* SEARCH\r\n").empty());
  CHECK(parse_search("* search 2 2 1\n* SEARCH 4\n") == std::vector<std::uint64_t>{1, 2, 4});
  CHECK(parse_search("* SEARCH 1 2 (MODSEQ 917)\r\n") == std::vector<std::uint64_t>{1, 2});
  CHECK(parse_search("* 3 EXISTS\r\n* SEARCH x 0 12\r\n") == std::vector<std::uint64_t>{12});
  CHECK(parse_search("* SEARCHING 5\r\n").empty());
  CHECK(parse_search("* SEARCH 3 5 ") == std::vector<std::uint64_t>{3, 5});  // trailing blank
  CHECK(parse_search("* SEARCH   \r\n").empty());
}

TEST_CASE("checkpoints round-trip and damaged values are refused", "[imap]") {
  CHECK(checkpoint_key("INBOX") == "folder:INBOX");
  CHECK(format_checkpoint({1700000001, 42}) == "1700000001:42");
  auto c = parse_checkpoint("1700000001:42");
  REQUIRE(c);
  CHECK(c->uidvalidity == 1700000001);
  CHECK(c->last_uid == 42);
  CHECK(parse_checkpoint("5:0"));
  for (const char* bad : {"", "5", ":5", "5:", "0:3", "a:1", "1:b", "1:2:3", " 1:2"}) {
    INFO(bad);
    CHECK_FALSE(parse_checkpoint(bad));
  }
}

TEST_CASE("a poll continues under the same UIDVALIDITY and restarts from 0 under another", "[imap]") {
  auto first = plan_poll(std::nullopt, {7, 1});
  CHECK(first.from.uidvalidity == 7);
  CHECK(first.from.last_uid == 0);
  CHECK_FALSE(first.uidvalidity_changed);

  auto same = plan_poll(FolderCheckpoint{7, 10}, {7, 12});
  CHECK(same.from.last_uid == 10);
  CHECK_FALSE(same.uidvalidity_changed);

  auto changed = plan_poll(FolderCheckpoint{7, 10}, {8, 3});
  CHECK(changed.uidvalidity_changed);
  CHECK(changed.from.uidvalidity == 8);
  CHECK(changed.from.last_uid == 0);
}

TEST_CASE("new UIDs skip the highest-UID echo of N:* and are bounded", "[imap]") {
  CHECK(new_uids({5}, 5, 50).empty());  // UID SEARCH UID 6:* returns 5 when 5 is the highest
  CHECK(new_uids({3, 6, 7, 9}, 5, 50) == std::vector<std::uint64_t>{6, 7, 9});
  CHECK(new_uids({6, 7, 9}, 5, 2) == std::vector<std::uint64_t>{6, 7});
}

TEST_CASE("UID sets are compact", "[imap]") {
  CHECK(uid_set({}) == "");
  CHECK(uid_set({4}) == "4");
  CHECK(uid_set({1, 2, 3, 7, 9, 10}) == "1:3,7,9:10");
}

TEST_CASE("folder names: validated, quoted, URL-encoded", "[imap]") {
  CHECK(valid_folder_name("INBOX"));
  CHECK(valid_folder_name("Support/Tier 2"));
  for (const char* bad : {"", "a\"b", "a\\b", "a*", "50%", "a\rb", "caf\xc3\xa9"}) {
    INFO(bad);
    CHECK_FALSE(valid_folder_name(bad));
  }
  CHECK_FALSE(valid_folder_name(std::string(256, 'a')));
  CHECK(quote_folder("Support/Tier 2") == "\"Support/Tier 2\"");
  CHECK(url_encode_folder("Support/Tier 2;x") == "Support/Tier%202%3Bx");
}
