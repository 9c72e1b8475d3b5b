// CallTracker: turns parsed AMI events into phone Interactions (call.ringing, call.answered,
// call.transferred, call.ended), grouping the legs of a call by Linkedid. Pure: no I/O, no clock
// of its own (one is injected), never throws on any event content.
// Thread contract: one tracker per connector, used from one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/asterisk_ami/ami_parser.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::connectors::ami {

/// `^(?:PJSIP|SIP|IAX2|Local)/([^@/-]+)`: PJSIP/6001-0000002a -> 6001,
/// Local/6001@agents-00000001;1 -> 6001.
inline constexpr std::string_view kDefaultExtensionPattern = "^(?:PJSIP|SIP|IAX2|Local)/([^@/-]+)";

struct TrackerConfig {
  std::string source = "asterisk";  // connector name: Interaction::source
  std::string region;               // phone region of the caller ids ("" : identity.default_region)
  /// Dialplan contexts of the company's own phones (e.g. "agents", "from-internal"). A leg is
  /// internal when its context is listed or its extension is in agent_by_extension.
  std::vector<std::string> internal_contexts;
  /// ECMAScript regex with at least one capture group; group 1 of the first match in a channel
  /// name (DestChannel / Interface / Channel) is the extension.
  std::string extension_pattern = std::string(kDefaultExtensionPattern);
  /// extension -> agent id (from the agents config: first agent listing the extension).
  std::map<std::string, std::string, std::less<>> agent_by_extension;
  /// A call with no event for this long is ended by expire() (cause "expired").
  std::chrono::milliseconds call_expiry = std::chrono::hours(4);
  /// At most this many calls tracked; one more ends the least recently active one first.
  std::size_t max_calls = 10000;
};

/// "" when `pattern` is usable as extension_pattern, else why not (for the config validator).
std::string check_extension_pattern(const std::string& pattern);

/// Milliseconds since the Unix epoch (UTC). Used when an event has no `Timestamp:` field
/// (manager.conf `timestampevents = yes` adds it; the captures have none).
using Clock = std::function<std::int64_t()>;

class CallTracker {
 public:
  /// An unusable extension_pattern falls back to the default one and config_error() says so
  /// (the config validator is expected to refuse it first with check_extension_pattern).
  CallTracker(TrackerConfig config, Clock clock);
  ~CallTracker();
  CallTracker(CallTracker&&) noexcept;
  CallTracker& operator=(CallTracker&&) noexcept;

  /// Feeds one message (responses and untracked events are ignored); returns the interactions it
  /// completes, in order. Never throws: a message that breaks an internal bound is ignored.
  std::vector<timeline::Interaction> on_message(const Message& message);

  /// Call when sending CoreShowChannels: calls with events after this point are never ended by
  /// the resync() that follows (they started, or showed life, after the list was taken). Without
  /// it, resync() uses the moment it is called.
  void begin_resync();

  /// After a reconnect: `channels` are the CoreShowChannel events answering CoreShowChannels
  /// (other messages are ignored). Calls tracked but absent are ended (call.ended, disposition
  /// from their state, metadata.cause_txt "gone after reconnect"); tracked calls still present
  /// get their legs updated (an answer missed while disconnected emits call.answered); calls
  /// present but unknown are adopted silently (no call.ringing: the daemon restarted or the
  /// events were lost; their call.ended says "adopted": true).
  std::vector<timeline::Interaction> resync(const std::vector<Message>& channels);

  /// Ends calls with no event for config.call_expiry (cause_txt "expired"). Call it on a timer.
  std::vector<timeline::Interaction> expire();

  std::size_t active_calls() const noexcept;
  /// "" or why the configured extension_pattern was not used.
  const std::string& config_error() const noexcept;
  /// The extension in a channel name per extension_pattern, or "".
  std::string extension_of(std::string_view channel) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace omnitrail::connectors::ami
