// Pure mappings from webhook payloads to timeline::Interaction: the generic CTI JSON event
// (phone_webhook) and Twilio voice status callbacks (twilio_voice), the ordering guard for
// Twilio's out-of-order callbacks, and the TwiML answer document.
// Functions: pure, any thread. SequenceGuard: one thread at a time (the io thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/timeline/interaction.hpp"

namespace omnitrail::connectors::webhooks {

/// What the connector knows beyond the payload (from its YAML block and the request).
struct MappingOptions {
  std::string queue;   ///< metadata.queue when the payload names none (connector's `queue`)
  std::string region;  ///< Interaction::region (connector's `region`); empty: default_region
  /// Used as occurred_at when the payload carries no time; 0: the payload must carry one.
  std::int64_t received_at_ms = 0;
  /// twilio_voice only: when set, a different AccountSid is an error (a request for another
  /// account signed with a shared token must not be ingested).
  std::string account_sid;
};

/// Maps a generic CTI webhook body (README.md, "phone_webhook") to an Interaction:
///   event      required  "newCall" -> call.ringing, "answer" -> call.answered, "hangup" -> call.ended
///   call_id    required  string, 1..256 bytes: conversation_key; external_id = call_id + ":" + event
///   from, to   required  strings (numbers or extensions as the PBX shows them)
///   direction  optional  "inbound" (default) | "outbound"; the customer is `from` when inbound,
///                        `to` when outbound (a phone identifier, claimed)
///   extension  optional  string or non-negative integer -> metadata.extension (routing)
///   queue      optional  string -> metadata.queue (else options.queue)
///   user       optional  string: the agent id -> agent
///   caller_name optional string -> customer display name
///   timestamp  optional  RFC 3339 string or integer milliseconds since 1970 (else received_at_ms)
///   duration   optional  non-negative number of seconds -> metadata.duration_seconds
/// Unknown fields are ignored (PBXs add fields). On error returns nullopt and sets `error` to
/// "<field>: <problem>" without echoing values.
std::optional<timeline::Interaction> cti_event_to_interaction(const nlohmann::json& body, const std::string& source,
                                                              std::string& error,
                                                              const MappingOptions& options = {});

using FormParams = std::vector<std::pair<std::string, std::string>>;

/// True for completed, busy, failed, no-answer and canceled.
bool twilio_status_terminal(std::string_view call_status) noexcept;

/// Maps a Twilio voice webhook or status callback (form parameters) to an Interaction.
/// - CallStatus: queued/initiated -> call.initiated, ringing -> call.ringing,
///   in-progress -> call.answered, completed/busy/failed/no-answer/canceled -> call.ended with
///   metadata.disposition = the status and ends_conversation. A CHILD leg (ParentCallSid set)
///   that ends gives call.leg_ended without ends_conversation: one unanswered agent leg of a
///   <Dial> must not end the customer's call.
/// - conversation_key: ParentCallSid when present (legs group under the parent), else CallSid;
///   external_id: CallSid + ":" + CallStatus (Twilio retries repeat it; ingest dedupes).
/// - Direction: inbound / trunking-terminating: the customer is From (direction inbound), unless
///   From is a Twilio Client ("client:alice": an agent calling out: agent alice, customer To,
///   outbound). outbound-api / trunking-originating: customer To, outbound. outbound-dial: when
///   To is "client:..." or "sip:..." the leg rings an agent (customer From, inbound, agent from
///   client:), else customer To, outbound.
/// - metadata: call_sid, parent_call_sid, account_sid, call_status, twilio_direction,
///   sequence_number, duration_seconds (CallDuration), disposition, queue (options.queue).
/// - occurred_at: Timestamp (RFC 2822, as Twilio sends it) else options.received_at_ms.
/// Required: CallSid, CallStatus, Direction, From, To. On error: nullopt and `error`.
std::optional<timeline::Interaction> twilio_voice_to_interaction(const FormParams& params, const std::string& source,
                                                                 std::string& error,
                                                                 const MappingOptions& options = {});

/// Parses "Tue, 14 Aug 2018 18:13:42 +0000" (RFC 2822 date-time; weekday optional) to ms.
std::optional<std::int64_t> parse_rfc2822_time(std::string_view text);

/// Keeps out-of-order Twilio status callbacks from moving a call backwards. Per CallSid it
/// remembers the highest SequenceNumber admitted and whether a terminal status was admitted.
/// Rule (admit() returns false = ignore the callback):
/// - once a terminal status was admitted, nothing more is (nothing follows an end; a second
///   terminal is a retry or a stale duplicate);
/// - a SequenceNumber higher than any seen for the call is admitted;
/// - a SequenceNumber lower than (or equal to) one seen is ignored, EXCEPT a terminal status
///   when no terminal was seen yet: it is admitted (the call did end; losing that would leave a
///   pop ringing until its timeout);
/// - a callback without SequenceNumber (the initial voice request) is admitted (unless ended).
/// Bounded: at most `capacity` calls, least recently touched evicted first (an evicted call is
/// then treated as new; ingest's (source, external_id) dedupe still holds).
/// Thread contract: not synchronised; one thread (the io thread).
class SequenceGuard {
 public:
  explicit SequenceGuard(std::size_t capacity = 10000);

  bool admit(std::string_view call_sid, std::optional<std::int64_t> sequence_number, bool terminal);

  std::size_t size() const noexcept { return index_.size(); }

 private:
  struct CallState {
    std::string call_sid;
    std::optional<std::int64_t> highest;
    bool ended = false;
  };
  std::size_t capacity_;
  std::list<CallState> recent_;  // most recently touched first
  std::unordered_map<std::string, std::list<CallState>::iterator> index_;
};

/// SequenceNumber of a callback: nullopt when absent; -1 when present but not a non-negative
/// integer (twilio_voice_to_interaction refuses such a callback).
std::optional<std::int64_t> twilio_sequence_number(const FormParams& params);

/// The TwiML answering an inbound call:
///   <?xml version="1.0" encoding="UTF-8"?>
///   <Response><Say>say_text</Say><Dial>dial_target</Dial></Response>
/// Empty `say_text` omits <Say>, empty `dial_target` omits <Dial> (Twilio then hangs up after the
/// Say). A target "client:NAME" dials <Client>NAME</Client>, "sip:..." dials <Sip>, anything else
/// is a number. Text is XML-escaped (& < > " '), control characters other than tab/LF/CR are
/// dropped (XML 1.0 cannot carry them), and invalid UTF-8 bytes are replaced by U+FFFD.
std::string twiml_answer(const std::string& say_text, const std::string& dial_target);

}  // namespace omnitrail::connectors::webhooks
