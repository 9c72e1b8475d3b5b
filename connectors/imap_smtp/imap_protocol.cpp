// IMAP response reading and checkpoint rules; see imap_protocol.hpp.
#include "connectors/imap_smtp/imap_protocol.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace omnitrail::connectors::imap_smtp {
namespace {

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::uint64_t> to_number(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// The number after `name` followed by a blank in `upper_line`, or 0.
std::uint64_t number_after(std::string_view upper_line, std::string_view name) {
  for (std::size_t at = upper_line.find(name); at != std::string_view::npos; at = upper_line.find(name, at + 1)) {
    const bool starts_word = at == 0 || upper_line[at - 1] == ' ' || upper_line[at - 1] == '(' || upper_line[at - 1] == '[';
    std::size_t pos = at + name.size();
    if (!starts_word || pos >= upper_line.size() || upper_line[pos] != ' ') continue;
    ++pos;
    std::size_t end = pos;
    while (end < upper_line.size() && std::isdigit(static_cast<unsigned char>(upper_line[end]))) ++end;
    if (auto value = to_number(upper_line.substr(pos, end - pos))) return *value;
  }
  return 0;
}

template <class F>
void for_each_line(std::string_view text, F f) {
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

}  // namespace

std::optional<FolderStatus> parse_folder_status(std::string_view untagged) {
  FolderStatus status;
  for_each_line(untagged, [&](std::string_view line) {
    if (line.substr(0, 2) != "* ") return;
    const std::string u = upper(line);
    if (auto v = number_after(u, "UIDVALIDITY"); v != 0) status.uidvalidity = v;
    if (auto v = number_after(u, "UIDNEXT"); v != 0) status.uidnext = v;
  });
  if (status.uidvalidity == 0) return std::nullopt;
  return status;
}

std::vector<std::uint64_t> parse_search(std::string_view untagged) {
  std::vector<std::uint64_t> uids;
  for_each_line(untagged, [&](std::string_view line) {
    if (line.size() < 8 || upper(line.substr(0, 8)) != "* SEARCH" || (line.size() > 8 && line[8] != ' ')) return;
    line.remove_prefix(8);
    while (!line.empty()) {
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      if (line.empty()) break;  // trailing blanks (found by the fuzzer)
      auto end = line.find(' ');
      auto token = line.substr(0, end);
      if (token.front() == '(') break;  // (MODSEQ n) and other extensions end the list
      if (auto value = to_number(token); value && *value != 0) uids.push_back(*value);
      if (end == std::string_view::npos) break;
      line.remove_prefix(end);
    }
  });
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  return uids;
}

std::string checkpoint_key(std::string_view folder) { return "folder:" + std::string(folder); }

std::string format_checkpoint(const FolderCheckpoint& checkpoint) {
  return std::to_string(checkpoint.uidvalidity) + ":" + std::to_string(checkpoint.last_uid);
}

std::optional<FolderCheckpoint> parse_checkpoint(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto validity = to_number(text.substr(0, colon));
  auto uid = to_number(text.substr(colon + 1));
  if (!validity || !uid || *validity == 0) return std::nullopt;
  return FolderCheckpoint{*validity, *uid};
}

PollStart plan_poll(const std::optional<FolderCheckpoint>& stored, const FolderStatus& status) {
  PollStart start;
  start.from.uidvalidity = status.uidvalidity;
  if (stored) {
    if (stored->uidvalidity == status.uidvalidity) {
      start.from.last_uid = stored->last_uid;
    } else {
      start.uidvalidity_changed = true;
    }
  }
  return start;
}

std::vector<std::uint64_t> new_uids(const std::vector<std::uint64_t>& found, std::uint64_t last_uid,
                                    std::size_t limit) {
  std::vector<std::uint64_t> out;
  for (auto uid : found) {
    if (out.size() >= limit) break;
    if (uid > last_uid) out.push_back(uid);
  }
  return out;
}

std::string uid_set(const std::vector<std::uint64_t>& sorted_uids) {
  std::string out;
  for (std::size_t i = 0; i < sorted_uids.size();) {
    std::size_t j = i;
    while (j + 1 < sorted_uids.size() && sorted_uids[j + 1] == sorted_uids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(sorted_uids[i]);
    if (j > i) out += ":" + std::to_string(sorted_uids[j]);
    i = j + 1;
  }
  return out;
}

bool valid_folder_name(std::string_view folder) {
  if (folder.empty() || folder.size() > 255) return false;
  return std::all_of(folder.begin(), folder.end(), [](char c) {
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '*' && c != '%';
  });
}

std::string quote_folder(std::string_view folder) { return "\"" + std::string(folder) + "\""; }

std::string url_encode_folder(std::string_view folder) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : folder) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace omnitrail::connectors::imap_smtp
