// Asterisk Manager Interface (AMI) framing: an incremental parser of the server's byte stream
// into messages, and the serialisation of client actions. Pure: no I/O, never throws.
// Thread contract: a Parser belongs to one connection and is used from one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omnitrail::connectors::ami {

/// One AMI message: ordered `Key: Value` fields (keys compare case-insensitively and may repeat)
/// plus raw text lines (legacy `Response: Follows` output, or lines without a colon).
class Message {
 public:
  using Field = std::pair<std::string, std::string>;

  /// Appends a field (keeps order and repeats).
  void add(std::string key, std::string value);
  /// Appends one raw line to output() (a '\n' is added between lines).
  void add_output_line(std::string_view line);

  /// The first value of `key` (case-insensitive), or nullopt when absent.
  std::optional<std::string_view> get(std::string_view key) const noexcept;
  /// The first value of `key`, or "" when absent (absent and empty are the same to the caller).
  std::string_view value(std::string_view key) const noexcept;
  /// Every value of `key`, in order.
  std::vector<std::string_view> all(std::string_view key) const;
  bool has(std::string_view key) const noexcept { return get(key).has_value(); }

  /// The presence of `Event:` makes a message an event, even when it also has `Response:`
  /// (OriginateResponse). A response has `Response:` and no `Event:`.
  bool is_event() const noexcept { return has("Event"); }
  bool is_response() const noexcept { return !is_event() && has("Response"); }
  /// The Event value of an event, else "".
  std::string_view event() const noexcept { return is_event() ? value("Event") : std::string_view{}; }

  const std::vector<Field>& fields() const noexcept { return fields_; }
  /// Raw text: the CLI output of a legacy `Response: Follows` (without `--END COMMAND--`), or
  /// the lines without a colon found in an ordinary message. Lines joined by '\n'.
  const std::string& output() const noexcept { return output_; }
  bool empty() const noexcept { return fields_.empty() && output_.empty(); }
  /// Approximate memory held (for the parser's byte bound).
  std::size_t byte_size() const noexcept { return bytes_; }

 private:
  std::vector<Field> fields_;
  std::string output_;
  bool has_output_ = false;
  std::size_t bytes_ = 0;
};

/// Bounds of one connection's parser. Any of them exceeded puts the parser in its error state.
struct ParserLimits {
  std::size_t max_line_bytes = 8 * 1024;        // one line without its terminator
  std::size_t max_fields = 512;                 // fields of one message
  std::size_t max_buffered_bytes = 1024 * 1024;  // partial line + message in progress + unread messages
  /// When true the stream must start with `Asterisk Call Manager/<version>`; set false to parse
  /// bare message streams (tests, fuzzing).
  bool expect_banner = true;
};

/// Incremental AMI framer. Feed it bytes as they arrive in any chunking; take messages with
/// next(). Rules (docs in connectors/asterisk_ami/README.md):
///  - the first line is the banner (no blank line follows it), see banner();
///  - a message is `Key: Value` lines ended by an empty line; `\r\n` or bare `\n` end lines;
///    empty lines between messages are skipped; the value is the text after the first colon with
///    leading blanks removed (so `AccountCode: ` gives "");
///  - a line without a colon (or with an empty key or a blank in the key) is kept as a raw line
///    in Message::output() and counted in malformed_lines(): Asterisk itself never sends one
///    outside legacy command output, and dropping it would hide what a broken peer sent;
///  - `Response: Follows` (Asterisk < 14 `Action: Command`) as first field switches to raw mode:
///    `Privilege:` / `ActionID:` lines before any output are fields, every other line (blank
///    lines included) is output, up to a line ending with `--END COMMAND--` (text before the
///    marker on that line is output too) which ends the message.
/// Errors (a line over max_line_bytes, a message over max_fields, more than max_buffered_bytes
/// held, a first line that is not a banner) are final: error() says why, feed() ignores further
/// bytes, next() still returns the messages completed before the error, and the caller must close
/// the connection and reset() (or make a new Parser) for the next one. Never throws.
class Parser {
 public:
  explicit Parser(ParserLimits limits = {}) noexcept;

  /// Consumes `bytes` (any split, any content).
  void feed(std::string_view bytes) noexcept;
  /// The next complete message, or nullopt when none is ready.
  std::optional<Message> next() noexcept;

  /// The banner line (e.g. "Asterisk Call Manager/13.0.0"), empty until received.
  const std::string& banner() const noexcept { return banner_; }
  /// Empty while healthy; otherwise why the stream was refused.
  const std::string& error() const noexcept { return error_; }
  bool failed() const noexcept { return !error_.empty(); }
  /// Lines that were neither fields nor legacy command output.
  std::uint64_t malformed_lines() const noexcept { return malformed_lines_; }
  /// Bytes currently held (partial line, message in progress, unread messages).
  std::size_t buffered_bytes() const noexcept;
  /// Forgets everything (new connection).
  void reset() noexcept;

 private:
  enum class State { banner, idle, message, follows };
  void on_line(std::string_view line);
  void finish_message();
  void fail(std::string message);

  ParserLimits limits_;
  State state_;
  std::string partial_;  // a line not yet terminated
  Message current_;
  bool follows_output_started_ = false;
  std::deque<Message> ready_;
  std::size_t ready_bytes_ = 0;
  std::string banner_;
  std::string error_;
  std::uint64_t malformed_lines_ = 0;
};

// ---- client actions ----------------------------------------------------------------------

using Fields = std::vector<std::pair<std::string, std::string>>;

/// `Action: <name>\r\nActionID: <action_id>\r\n<fields>\r\n\r\n`. Returns "" (refused) when the
/// name, the action id, a key or a value contains CR, LF or NUL (header injection: a value with
/// "\r\n" would add fields or whole actions), when a key or the name is empty or holds ':' or a
/// blank, or when the action id is empty. Escaping is not possible in AMI, so refusing is the
/// only safe answer.
std::string serialize_action(std::string_view name, const Fields& fields, std::string_view action_id);

/// Plain-text login. `events`: "on", "off" or a class list such as "call,agent,system"; empty:
/// the field is omitted (Asterisk's default for the user).
std::string login_action(std::string_view username, std::string_view secret, std::string_view action_id,
                         std::string_view events = {});
/// `Action: Challenge` with `AuthType: md5`; the response carries `Challenge:`.
std::string challenge_action(std::string_view action_id);
/// MD5 login: `AuthType: md5`, `Username`, `Key` = md5_key(challenge, secret).
std::string login_md5_action(std::string_view username, std::string_view key, std::string_view action_id,
                             std::string_view events = {});
/// Lower-case hex MD5 of challenge + secret (32 characters); "" if the digest fails.
std::string md5_key(std::string_view challenge, std::string_view secret);
/// `Action: Filter`, `Operation: Add`, `Filter: <regex>` (an include filter: once one exists,
/// only matching events reach this session; `!regex` excludes).
std::string filter_action(std::string_view filter, std::string_view action_id);
/// The include filter matching the events CallTracker uses, e.g. `Event: (Newchannel|...)`.
std::string tracked_events_filter();
std::string ping_action(std::string_view action_id);
/// `Action: CoreShowChannels`: answered by an event list of CoreShowChannel events.
std::string core_show_channels_action(std::string_view action_id);

/// Click-to-call: ring `channel` (the agent's device), then dial exten@context.
struct OriginateRequest {
  std::string channel;    // e.g. PJSIP/6001
  std::string exten;      // the number to call
  std::string context;    // dialplan context placing the outbound call
  std::string priority = "1";
  std::string caller_id;  // e.g. "Omnitrail <6001>"; empty: omitted
  std::int64_t timeout_ms = 30000;
  std::string channel_id;  // optional Uniqueid to give the new channel (lets the tracker know it)
  Fields variables;        // Variable: name=value, one field each
};
/// `Action: Originate` with `Async: true` (the result arrives as Event: OriginateResponse with the
/// same ActionID). Refused ("") like serialize_action, and also when channel or exten is empty.
std::string originate_action(const OriginateRequest& request, std::string_view action_id);

/// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace omnitrail::connectors::ami
