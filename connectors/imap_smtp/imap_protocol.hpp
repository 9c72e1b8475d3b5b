// The IMAP side of the email connector that needs no network: reading the untagged responses
// libcurl hands back (STATUS, SEARCH), the folder checkpoint ("UIDVALIDITY:UID") and the poll
// decision, and quoting folder names into IMAP commands and URLs. Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace omnitrail::connectors::imap_smtp {

/// What `STATUS "folder" (UIDVALIDITY UIDNEXT)` (or SELECT/EXAMINE) reported; 0 = not reported.
struct FolderStatus {
  std::uint64_t uidvalidity = 0;
  std::uint64_t uidnext = 0;
};

/// Reads UIDVALIDITY and UIDNEXT from untagged lines: `* STATUS "INBOX" (UIDVALIDITY 7 UIDNEXT 12)`
/// and the SELECT/EXAMINE forms `* OK [UIDVALIDITY 7] ...`, `* OK [UIDNEXT 12] ...`. Case
/// insensitive, CRLF or LF. nullopt when no valid (non-zero) UIDVALIDITY is found.
std::optional<FolderStatus> parse_folder_status(std::string_view untagged);

/// The UIDs of `* SEARCH 3 5 9` lines (several lines are concatenated), sorted and deduplicated.
/// Tokens that are not numbers (a `(MODSEQ n)` suffix, ...) are skipped; a line that is not a
/// SEARCH response is ignored.
std::vector<std::uint64_t> parse_search(std::string_view untagged);

/// A folder's checkpoint: the UIDVALIDITY it was read under and the highest UID committed.
struct FolderCheckpoint {
  std::uint64_t uidvalidity = 0;
  std::uint64_t last_uid = 0;
};

/// The connector_state key of `folder` ("folder:INBOX").
std::string checkpoint_key(std::string_view folder);
/// "UIDVALIDITY:UID", e.g. "1700000000:42".
std::string format_checkpoint(const FolderCheckpoint& checkpoint);
/// The inverse of format_checkpoint; nullopt for anything else (a damaged value).
std::optional<FolderCheckpoint> parse_checkpoint(std::string_view text);

/// Where a poll starts: the checkpoint to continue from and whether the stored one was void.
struct PollStart {
  FolderCheckpoint from;
  bool uidvalidity_changed = false;  ///< a stored checkpoint under another UIDVALIDITY was reset
};
/// The poll decision: a stored checkpoint under the folder's current UIDVALIDITY continues; one
/// under another UIDVALIDITY is void (every UID was renumbered): start again from UID 0 (the
/// Message-ID dedupes what was ingested before). No checkpoint: from 0. UIDNEXT is not used to
/// skip the search: STATUS on the mailbox a session has selected may report it as of that
/// session's last sync (Dovecot does), so only a SEARCH, which syncs, sees new mail reliably.
PollStart plan_poll(const std::optional<FolderCheckpoint>& stored, const FolderStatus& status);

/// The UIDs of `found` above `last_uid`, in order, at most `limit` of them. (`UID SEARCH UID n:*`
/// always returns the highest UID, even when it is below n.)
std::vector<std::uint64_t> new_uids(const std::vector<std::uint64_t>& found, std::uint64_t last_uid,
                                    std::size_t limit);

/// A compact IMAP sequence set of sorted UIDs: {1,2,3,7} -> "1:3,7".
std::string uid_set(const std::vector<std::uint64_t>& sorted_uids);

/// True when `folder` can be used: 1..255 bytes of printable ASCII without `"`, `\`, `*`, `%`
/// (non-ASCII names need modified UTF-7, which this connector does not write).
bool valid_folder_name(std::string_view folder);

/// `folder` as an IMAP quoted string: `"INBOX"`. Precondition: valid_folder_name(folder).
std::string quote_folder(std::string_view folder);

/// `folder` percent-encoded for an IMAP URL path segment (RFC 5092: everything but unreserved
/// characters and the hierarchy separator `/`).
std::string url_encode_folder(std::string_view folder);

}  // namespace omnitrail::connectors::imap_smtp
