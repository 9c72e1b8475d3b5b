// Fuzzes the twilio_sms connector's parsers on bytes: a form body (strict parse_form) -> inbound
// SMS/MMS mapping -> timeline::validate, the same body as a status callback (with the first line
// as the callback URL's m=), as a REST answer (map_send_response at 201/400/503), and through
// prepare_message + build_send_request (whose body must parse back to the same text). Crashes,
// sanitizer reports, uncaught exceptions and broken invariants (__builtin_trap) are findings.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "connectors/twilio_sms/twilio_sms_protocol.hpp"
#include "connectors/webhooks/forms.hpp"
#include "daemon/identity/normalizer.hpp"
#include "daemon/timeline/interaction.hpp"

namespace sms = omnitrail::connectors::twilio_sms;
namespace webhooks = omnitrail::connectors::webhooks;
using omnitrail::timeline::is_valid_utf8;

namespace {

void require(bool condition) {
  if (!condition) __builtin_trap();
}

const omnitrail::identity::Normalizer& normalizer() {
  static const omnitrail::identity::Normalizer n([] {
    omnitrail::identity::NormalizeOptions o;
    o.default_region = "GB";
    o.own_numbers = {"+442079460000"};
    return o;
  }());
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t newline = text.find('\n');
  std::string_view first = text.substr(0, newline);
  std::string_view rest = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
  std::string error;

  for (std::string_view body : {text, rest}) {
    auto form = webhooks::parse_form(body, error, 256, 4096);
    if (!form) continue;
    sms::InboundOptions options;
    options.account_sid = "AC0123456789abcdef0123456789abcdef";
    options.messaging_service_sid = "MGdddddddddddddddddddddddddddddddd";
    options.queue = "support";
    options.received_at_ms = 1795525200000;
    options.normalizer = &normalizer();
    for (bool strict_account : {true, false}) {
      if (!strict_account) options.account_sid.clear();
      if (auto in = sms::inbound_to_interaction(*form, "twilio-sms", error, options)) {
        require(omnitrail::timeline::validate(*in).empty());
        require(in->conversation_key.rfind("sms:", 0) == 0 && !in->external_id.empty());
      } else {
        require(!error.empty() && is_valid_utf8(error));
      }
    }
    auto status = sms::read_status_callback(*form, first, "", 1);
    if (status.outcome == sms::StatusCallback::Outcome::report) {
      const auto& r = status.report;
      require(r.status == "sent" || r.status == "delivered" || r.status == "failed");
      require(!r.provider_id.empty() && is_valid_utf8(r.error));
      require(r.message_id.empty() || r.message_id.size() == 18);
    } else if (status.outcome == sms::StatusCallback::Outcome::invalid) {
      require(!status.error.empty());
    }
  }

  // The bytes as the REST API's answer.
  for (int code : {201, 400, 503}) {
    omnitrail::net::HttpResponse response;
    response.status = code;
    response.body = std::string(text);
    auto result = sms::map_send_response(response);
    require(is_valid_utf8(result.error) && result.error.size() <= 300 && is_valid_utf8(result.provider_id));
    require((code == 201) == (result.outcome == omnitrail::connectors::SendResult::Outcome::sent));
  }

  // The bytes as a Messages list (the lookup before a resend): found only with a sid.
  {
    omnitrail::connectors::OutboundMessage sent;
    sent.to = "+447911123456";
    sent.from = std::string(first);
    sent.text = std::string(rest);
    omnitrail::net::HttpResponse response;
    response.status = 200;
    response.body = std::string(text);
    auto found = sms::find_sent_message(response, sent, 0, nullptr);
    require(found.outcome != sms::LookupResult::Outcome::found || !found.sid.empty());
    require(is_valid_utf8(found.error) && is_valid_utf8(found.sid));
  }

  // The bytes as an agent's reply: prepared, encoded, and decoded back unchanged.
  if (is_valid_utf8(rest) && is_valid_utf8(first)) {
    omnitrail::connectors::OutboundMessage m;
    m.id = "m_00000000000000a1";
    m.connector = "twilio-sms";
    m.to = std::string(first);
    m.text = std::string(rest);
    sms::SendOptions options;
    options.account_sid = "AC0123456789abcdef0123456789abcdef";
    options.from = "+441632960000";
    options.status_callback_url = "https://cc.example.com/webhooks/sms/status";
    if (sms::prepare_message(m, options, normalizer(), "").empty()) {
      require(sms::is_e164(m.to) && m.conversation_key == sms::conversation_key(m.to, m.from));
      auto request = sms::build_send_request(m, options);
      auto back = webhooks::parse_form(request.body, error, 16, 64 * 1024);
      require(back.has_value());
      const std::string* body = webhooks::form_value(*back, "Body");
      require(body != nullptr && *body == m.text);
    }
    (void)sms::count_segments(rest);
  }
  return 0;
}
