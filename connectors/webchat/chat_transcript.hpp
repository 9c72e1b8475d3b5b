// The messages of one chat kept in memory: what a resuming visitor is sent (every message once,
// in order) and what an agent's console gets as chat.history. Deduplicated by message id (a
// visitor's resend after a reconnect, a dispatcher's retry of an agent message) and bounded
// (the oldest lines leave first; the timeline keeps them all). Pure; one thread at a time.
#pragma once

#include <cstddef>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "connectors/webchat/visitor_protocol.hpp"

namespace omnitrail::connectors::webchat {

class ChatTranscript {
 public:
  explicit ChatTranscript(std::size_t capacity = 200) : capacity_(capacity < 1 ? 1 : capacity) {}

  /// Appends `line` unless a line with its id is there already (then false, nothing changes).
  bool add(ChatLine line);
  bool contains(const std::string& id) const { return ids_.count(id) != 0; }
  /// The line with `id`, or nullptr.
  const ChatLine* find(const std::string& id) const;
  const std::deque<ChatLine>& lines() const noexcept { return lines_; }
  std::size_t size() const noexcept { return lines_.size(); }
  /// True when older lines were dropped to stay within the capacity.
  bool truncated() const noexcept { return truncated_; }

 private:
  std::size_t capacity_;
  std::deque<ChatLine> lines_;
  std::set<std::string> ids_;
  bool truncated_ = false;
};

}  // namespace omnitrail::connectors::webchat
