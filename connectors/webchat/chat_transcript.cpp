#include "connectors/webchat/chat_transcript.hpp"

#include <algorithm>

namespace omnitrail::connectors::webchat {

bool ChatTranscript::add(ChatLine line) {
  if (ids_.count(line.id) != 0) return false;
  ids_.insert(line.id);
  // Commits arrive in order almost always; a line older than the last one (a restored history
  // merged with live lines) still goes to its place.
  auto at = std::upper_bound(lines_.begin(), lines_.end(), line.at_ms,
                             [](std::int64_t at_ms, const ChatLine& other) { return at_ms < other.at_ms; });
  lines_.insert(at, std::move(line));
  while (lines_.size() > capacity_) {
    ids_.erase(lines_.front().id);
    lines_.pop_front();
    truncated_ = true;
  }
  return true;
}

const ChatLine* ChatTranscript::find(const std::string& id) const {
  if (ids_.count(id) == 0) return nullptr;
  for (const auto& line : lines_) {
    if (line.id == id) return &line;
  }
  return nullptr;
}

}  // namespace omnitrail::connectors::webchat
