// Kannel's HTTP interfaces, without I/O: the MO request its sms-service get-url / post-url makes,
// the delivery report its dlr-url makes, the sendsms URL and reply, the (customer number, our
// number) conversation key, and the source-address allow list. Every function here reads
// untrusted bytes and is fuzzed (fuzz/kannel_fuzz.cpp). Pure; any thread; nothing throws.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/connector.hpp"
#include "connectors/kannel/sms_text.hpp"
#include "daemon/identity/normalizer.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::connectors::kannel {

using Params = std::vector<std::pair<std::string, std::string>>;

/// Splits a query string or form body ("a=1&b=2") into percent-decoded pairs, '+' as space,
/// KEEPING THE BYTES: a UCS-2 message arrives as UTF-16BE and is only decoded once its coding is
/// known (webhooks::parse_form insists on UTF-8 and so cannot read it). Names must be printable
/// ASCII. A '%' without two hex digits, an empty name, more than `max_fields` pairs or a value
/// longer than `max_value_bytes` (decoded) is an error; empty pairs are skipped. On error returns
/// nullopt and sets `error` (names the field by position and name, never echoes a value).
std::optional<Params> parse_params(std::string_view query, std::string& error, std::size_t max_fields = 64,
                                   std::size_t max_value_bytes = 64 * 1024);

/// The value of the first pair named `name`, or nullptr.
const std::string* find_param(const Params& params, std::string_view name);

/// An MO (mobile originated) message as Kannel hands it to the sms-service URL.
struct MoMessage {
  std::string id;    ///< Kannel's message id (%I): the interaction's external_id (dedupes retries)
  std::string from;  ///< the customer's number as the SMSC gave it (%p)
  std::string to;    ///< our number / short code the customer texted (%P)
  std::string text;  ///< the text, decoded to UTF-8
  std::int64_t time_ms = 0;  ///< when the SMSC received it (%T); 0 when absent or implausible
  std::string smsc;          ///< Kannel's smsc-id (%i); may be empty
  int coding = -1;           ///< %c as received (-1 when absent)
  std::string charset;       ///< the charset the text was decoded from ("UTF-8", "UTF-16BE", ...)
};

/// What an MO request carries. GET (get-url): everything in `params`. POST (post-url): the text
/// is the body, its charset the Content-Type's charset, its coding the `coding` parameter or the
/// X-Kannel-Coding header; the other fields are still URL parameters (Kannel fills escape codes
/// in a post-url too).
struct MoRequest {
  Params params;
  const std::string* body = nullptr;  ///< POST only
  std::string_view content_type;      ///< POST: Content-Type header
  std::string_view coding_header;     ///< POST: X-Kannel-Coding header
};

/// Reads one MO message. Parameters: id, from, to (required, printable ASCII, at most 128
/// bytes), text (required for GET; may be empty), coding (-1|0|1|2), charset (UTF-8, UTF-16BE,
/// UCS-2, ISO-8859-1 / latin1 / WINDOWS-1252 as Latin-1; default UTF-8, or UTF-16BE for coding
/// 2), time (unix seconds), smsc. A repeated parameter is an error (which one would count?).
/// Binary (8-bit) messages without a text charset are refused: they are not text. The decoded
/// text must be valid UTF-8 without NUL. `secret` is NOT checked here (the edge checks it
/// first). `now_ms` bounds `time`: more than a day ahead, or before 2000, gives time_ms 0.
/// On error returns nullopt and sets `error` ("<field>: <problem>", no values echoed).
std::optional<MoMessage> parse_mo(const MoRequest& request, std::int64_t now_ms, std::string& error);

/// The canonical spelling of a number in a conversation key: E.164 when `keyer` (a Normalizer
/// with only a default region: nothing blocked, nothing "own") accepts it with `region`, else
/// the input without spaces (short codes, alphanumeric senders).
std::string canonical_number(const identity::Normalizer& keyer, std::string_view number, std::string_view region);

/// The conversation of a (customer number, our number) pair, the same for MO messages and for
/// replies: "sms:" + canonical(customer) + ":" + canonical(ours).
std::string conversation_key(const identity::Normalizer& keyer, std::string_view customer, std::string_view ours,
                             std::string_view region);

/// What the connector adds to an MO message to make it an interaction.
struct MoOptions {
  std::string source;  ///< the connector's name
  std::string queue;   ///< metadata.queue (the connector's queue: its agents get the pop)
  std::string region;  ///< Interaction::region
  std::int64_t received_at_ms = 0;  ///< occurred_at when the message carries no time
};

/// The sms.received interaction of an MO message: customer = `from` (a claimed phone), external_id
/// = Kannel's id, conversation_key as above, metadata {queue, kannel: {id, smsc, coding, charset,
/// to}}.
timeline::Interaction mo_to_interaction(const MoMessage& mo, const identity::Normalizer& keyer, const MoOptions& options);

/// A delivery report request (the dlr-url this connector put on the message, filled by Kannel).
struct DlrRequest {
  std::string message_id;  ///< our m_... id (we put it in the dlr-url)
  std::string signature;   ///< dlr_signature() of it (we put it in the dlr-url)
  int type = 0;            ///< %d: 1 delivered, 2 failed, 4 buffered, 8 SMSC submit, 16 SMSC reject
  std::string smsc_id;     ///< %F: the SMSC's message id; may be empty
  std::string report;      ///< %A: the SMSC's DLR text, made printable UTF-8, at most 200 bytes
  std::int64_t time_ms = 0;  ///< %T, 0 when absent or not a plausible unix time
};

/// Reads a DLR request: message_id ([A-Za-z0-9_-], 1..64), sig (64 hex), type (1..31) are
/// required; smsc_id, report and time optional. Errors as parse_mo.
std::optional<DlrRequest> parse_dlr(const Params& params, std::string& error);

/// The status a DLR type reports: "failed" when it has bit 2 or 16, else "delivered" with bit
/// 1, else "sent" (4 buffered, 8 accepted by the SMSC); "" for a type without those bits.
std::string_view dlr_status(int type) noexcept;

/// The DeliveryReport of a DLR request (error "<what> (DLR <type>)[: <report>]" for failures).
DeliveryReport delivery_report(const DlrRequest& dlr, std::int64_t received_at_ms);

/// The signature that authenticates a DLR for one message: HMAC-SHA256(secret, "kannel-dlr:" +
/// connector + ":" + message_id) in lower-case hex. Only who knows the secret can make one.
std::string dlr_signature(std::string_view secret, std::string_view connector, std::string_view message_id);

/// The dlr-url for one message: callback_base + path + "?message_id=..&sig=..&type=%d&smsc_id=%F
/// &report=%A&time=%T" (the %-codes are Kannel's escapes, filled when it calls back).
/// callback_base must not contain '%' (Kannel would read it as an escape; config refuses it).
std::string dlr_url(std::string_view callback_base, std::string_view path, std::string_view message_id,
                    std::string_view signature);

/// One sendsms request.
struct Sendsms {
  std::string base_url;  ///< e.g. http://127.0.0.1:13013/cgi-bin/sendsms
  std::string username, password;
  std::string from, to, text;  ///< text in UTF-8
  std::string smsc;            ///< Kannel smsc id to route through; empty: Kannel chooses
  Coding coding = Coding::gsm7;
  int dlr_mask = 0;
  std::string dlr_url;  ///< empty: no DLRs asked for
};

/// The GET URL of a sendsms request (every value percent-encoded; charset=UTF-8 so that Kannel
/// converts the text itself: to GSM for coding 0, to UCS-2 for coding 2).
std::string sendsms_url(const Sendsms& request);

/// The outcome of a sendsms reply that arrived: 2xx -> sent (Kannel answers 202 "0: Accepted
/// for delivery" or "3: Queued for later delivery"); 5xx and 429 -> retry; any other status ->
/// failed. `error` is Kannel's reply text (first line, printable, at most 200 bytes) with
/// "HTTP <status>". Never holds the password: `password` is scrubbed from it.
SendResult sendsms_result(int http_status, std::string_view body, std::string_view password);

/// Makes untrusted text fit for a log line or an error field: invalid UTF-8 -> U+FFFD, control
/// characters -> space, cut to `max_bytes` (on a character boundary).
std::string printable(std::string_view text, std::size_t max_bytes);

/// Replaces every occurrence of `secret` (and its percent-encoded form) in `text` by "***".
void scrub(std::string& text, std::string_view secret);

/// Source addresses allowed to call the MO and DLR endpoints: IPv4 / IPv6 addresses and CIDR
/// blocks ("10.0.0.0/8", "::1", "fd00::/8"). Empty: any address.
class AllowList {
 public:
  /// Adds one entry; returns "" or why it is not an address or block.
  std::string add(std::string_view entry);
  bool empty() const noexcept { return entries_.empty(); }
  /// `remote` as the HTTP server reports it: "1.2.3.4:5678" or "[::1]:5678" (a bare address is
  /// accepted too). IPv4-mapped IPv6 addresses match IPv4 entries. Unparsable -> false.
  bool allows(std::string_view remote) const noexcept;

 private:
  struct Entry {
    std::array<unsigned char, 16> bytes{};
    bool v6 = false;
    int prefix = 0;
  };
  std::vector<Entry> entries_;
};

}  // namespace omnitrail::connectors::kannel
