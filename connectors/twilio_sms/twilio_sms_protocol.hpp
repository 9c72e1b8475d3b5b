// The twilio_sms connector's pure half: Twilio Messaging webhooks (inbound SMS/MMS, status
// callbacks) to timeline values, and outbound sends to Messages REST requests and back. No I/O,
// so the unit tests and the fuzz target link it alone (README.md has the user-facing account).
// Pure functions; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/connector.hpp"
#include "daemon/net/http_client.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::identity {
class Normalizer;
}

namespace omnitrail::connectors::twilio_sms {

using FormParams = std::vector<std::pair<std::string, std::string>>;

/// Twilio's limit on one message's Body (Twilio splits it into up to 10 concatenated segments).
constexpr std::size_t kMaxBodyCharacters = 1600;
/// Twilio delivers at most 10 media items per MMS.
constexpr int kMaxMedia = 10;

/// True for "AC" / "MG" / ... followed by 32 lower-case or upper-case hex digits (a Twilio SID).
bool is_sid(std::string_view text, std::string_view prefix) noexcept;
/// True for "+" then 7..15 digits, the first not 0 (an E.164 number as Twilio writes it).
bool is_e164(std::string_view text) noexcept;

/// The URL Twilio signed for a request to one of our endpoints: the endpoint's public URL plus
/// "?" and the raw query string as received (when there is one). Check it with
/// webhooks::twilio_valid(), which also accepts the form with / without the default port.
std::string request_url(const std::string& public_url, std::string_view raw_query);

/// The conversation of a customer number and one of our numbers (or our messaging service):
/// "sms:<customer>:<our side>". Inbound messages and replies use the same function, so a
/// conversation holds both directions.
std::string conversation_key(std::string_view customer, std::string_view our_side);

/// The customer half of a conversation key: the E.164 form when `raw` is a number the
/// normaliser accepts (with `region` for national spellings), else `raw` trimmed (a short code
/// or an alphanumeric sender is its own key). `normalizer` may be null (raw trimmed).
std::string customer_key(std::string_view raw, const identity::Normalizer* normalizer, std::string_view region);

/// What the connector knows beyond an inbound request.
struct InboundOptions {
  std::string account_sid;            ///< required match for AccountSid (empty: any)
  std::string messaging_service_sid;  ///< when the message came through it, the conversation's our side
  std::string queue;                  ///< metadata.queue: the connector's queue (its agents get the pop)
  std::string region;                 ///< Interaction::region (connector's `region`)
  std::int64_t received_at_ms = 0;    ///< occurred_at (Twilio's inbound webhook carries no time)
  const identity::Normalizer* normalizer = nullptr;  ///< for customer_key(); may be null
};

/// Maps an inbound message webhook (form parameters, already signature-checked) to an
/// Interaction:
/// - channel sms, direction inbound, kind sms.received, occurred_at = received_at_ms;
/// - external_id = MessageSid (SM... / MM...; Twilio's retries repeat it, ingest dedupes);
/// - conversation_key = conversation_key(customer_key(From), our side) where our side is
///   MessagingServiceSid when it equals options.messaging_service_sid, else To;
/// - from / to raw; customer identifier: From (phone, claimed); text = Body (may be empty for
///   an MMS with media only);
/// - metadata: message_sid, account_sid, messaging_service_sid (or null), our_number (To),
///   num_segments, num_media, media [{url, content_type}], queue (when set).
/// Required: MessageSid (1..64 letters/digits), AccountSid (equal to options.account_sid when
/// set), From, To (1..64 bytes each), Body unless NumMedia > 0. NumMedia: 0..10, and MediaUrl<i>
/// (an http(s) URL, <= 2048 bytes) present for each i below it; MediaContentType<i> optional.
/// Unknown parameters are ignored (Twilio adds some without notice). On error: nullopt and
/// `error` = "<Param>: <problem>" without echoing values.
std::optional<timeline::Interaction> inbound_to_interaction(const FormParams& params, const std::string& source,
                                                            std::string& error, const InboundOptions& options);

/// A status callback, read.
struct StatusCallback {
  enum class Outcome {
    report,   ///< `report` is a delivery report for the core
    ignore,   ///< a status this connector does not report (e.g. "receiving", a future status): 2xx, nothing stored
    invalid,  ///< a required parameter is missing or malformed: 400 with `error`
  };
  Outcome outcome = Outcome::invalid;
  DeliveryReport report;
  std::string twilio_status;  ///< MessageStatus as sent (for logs)
  std::string error;
};

/// Maps MessageStatus to the delivery status the core keeps: queued, accepted, scheduled,
/// sending, sent -> "sent"; delivered, read -> "delivered"; failed, undelivered, canceled ->
/// "failed"; anything else -> "" (ignored).
std::string delivery_status(std::string_view twilio_status);

/// Reads a status callback: MessageSid (required, as in inbound_to_interaction), MessageStatus
/// (or the legacy SmsStatus; required), ErrorCode (optional digits; on failed/undelivered it
/// becomes report.error "Twilio error 30003: unreachable destination handset"), AccountSid (must
/// equal `account_sid` when that is set). `message_id` is our m_... id from the callback URL's
/// query (?m=), used when it has that form ("" otherwise). occurred_at_ms = `received_at_ms`.
StatusCallback read_status_callback(const FormParams& params, std::string_view message_id,
                                    const std::string& account_sid, std::int64_t received_at_ms);

/// A short description of a Twilio messaging error code ("" when not a common one).
std::string_view error_code_text(int code) noexcept;

/// How the connector sends.
struct SendOptions {
  std::string api_base_url = "https://api.twilio.com";  ///< no trailing '/'
  std::string account_sid;
  std::string auth_token;              ///< Basic auth password; never logged
  std::string from;                    ///< our E.164 number ("" when only a messaging service)
  std::string messaging_service_sid;   ///< when set, sent as MessagingServiceSid instead of From
  std::string status_callback_url;     ///< "" = no StatusCallback; else ?m=<id> is appended
  std::chrono::milliseconds timeout{15000};
  std::chrono::milliseconds connect_timeout{5000};
  std::string ca_file;
};

/// Counts what Twilio will bill: GSM-7 when every character is in the GSM 03.38 basic set or
/// its extension table (those count twice), else UCS-2 (UTF-16 code units). Segments: 160 / 153
/// per part (GSM-7), 70 / 67 (UCS-2). `text` must be valid UTF-8.
struct SegmentInfo {
  std::string encoding;  ///< "GSM-7" or "UCS-2"
  std::size_t units = 0;
  std::size_t segments = 0;
};
SegmentInfo count_segments(std::string_view text);

/// Number of Unicode code points of valid UTF-8 `text`.
std::size_t code_points(std::string_view text);

/// Completes an outbound message before it is queued (Connector::prepare's contract):
/// - to: the message's `to`, or else the parent's sender (customer) number; normalised with
///   `normalizer` (connector `region`) to E.164; refused when not a number a customer texts from
///   (short codes, extensions, own or blocked numbers, invalid);
/// - from: with a messaging service, its SID; else the number the customer wrote to when the
///   parent is an sms of this connector (parent.to of an inbound, parent.from of an outbound),
///   else options.from;
/// - text: at most kMaxBodyCharacters code points;
/// - external_id = message.id, conversation_key = conversation_key(to, our side);
/// - metadata: to, from, messaging_service_sid (or null), encoding, segments.
/// Returns "" or the error for the API client (names the field, no secret).
std::string prepare_message(OutboundMessage& message, const SendOptions& options,
                            const identity::Normalizer& normalizer, std::string_view region);

/// The Messages REST request for one attempt: POST {base}/2010-04-01/Accounts/{sid}/Messages.json,
/// form-encoded To, From or MessagingServiceSid, Body, StatusCallback (when configured), Basic
/// auth (AccountSid : auth token), Accept: application/json, the configured timeouts.
net::HttpRequest build_send_request(const OutboundMessage& message, const SendOptions& options);

/// Maps the API's answer to a SendResult:
/// - 2xx: sent, provider_id = the JSON "sid" (empty when missing: Twilio has the message anyway,
///   so it is never retried);
/// - no response (connection refused, DNS, TLS, timeout, "stopped"), 5xx, 429: retry;
/// - any other status: failed, with Twilio's JSON "code" and "message" in `error`
///   ("Twilio error 21211: The 'To' number ... is not a valid phone number.", bounded to 300 bytes).
/// provider_code = the HTTP status (0 without a response).
SendResult map_send_response(const net::HttpResponse& response);

/// The check before re-sending a message whose earlier attempt may have reached Twilio (a
/// timeout after the request was sent, a 5xx): GET .../Messages.json?To=<to>[&From=<number>]
/// &PageSize=50 with the same credentials and timeouts. Twilio lists the newest first.
net::HttpRequest build_lookup_request(const OutboundMessage& message, const SendOptions& options);

/// What the lookup found.
struct LookupResult {
  enum class Outcome {
    found,      ///< Twilio has this message: `sid`; it must not be sent again
    not_found,  ///< no such message: sending is safe
    error,      ///< the list could not be read (`error`): do not send blindly, try later
  };
  Outcome outcome = Outcome::error;
  std::string sid;
  std::string error;
};

/// Looks for `message` in a Messages list answer: an outbound message with the same To, the same
/// From (or MessagingServiceSid, when it was sent through a service), exactly the same Body,
/// created at or after `not_before_ms` (Twilio's date_created has second resolution; pass the
/// message's creation time minus a little slack), whose sid `is_other_message` does not claim
/// for another message (pass null for none).
LookupResult find_sent_message(const net::HttpResponse& response, const OutboundMessage& message,
                               std::int64_t not_before_ms,
                               const std::function<bool(const std::string& sid)>& is_other_message);

/// application/x-www-form-urlencoded pairs (every byte but A-Z a-z 0-9 - . _ ~ percent-encoded).
std::string form_encode(const FormParams& params);

}  // namespace omnitrail::connectors::twilio_sms
