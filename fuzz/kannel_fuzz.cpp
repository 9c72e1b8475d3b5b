// Fuzzes the kannel connector's readers of network bytes: the query / form decoder, the MO
// request (GET parameters, and POST with the text as body), the DLR request, the UTF-16BE and
// Latin-1 decoders, SMS coding / part counting, printable() and the source allow list. Crashes,
// sanitizer reports, uncaught exceptions and broken invariants (__builtin_trap) are findings.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "connectors/kannel/kannel_protocol.hpp"
#include "connectors/kannel/sms_text.hpp"
#include "daemon/timeline/interaction.hpp"

namespace kannel = omnitrail::connectors::kannel;
using omnitrail::timeline::is_valid_utf8;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  constexpr std::int64_t now = 1795525200000;
  static const omnitrail::identity::Normalizer keyer(omnitrail::identity::NormalizeOptions{"GB"});

  // GET: the whole input is the query.
  if (auto params = kannel::parse_params(text, error, 64, 4096)) {
    if (params->size() > 64) __builtin_trap();
    kannel::MoRequest request;
    request.params = *params;
    if (auto mo = kannel::parse_mo(request, now, error)) {
      if (!is_valid_utf8(mo->text) || mo->id.empty() || mo->from.empty() || mo->to.empty()) __builtin_trap();
      if (mo->time_ms != 0 && mo->time_ms > now + 86400000) __builtin_trap();
      kannel::MoOptions options;
      options.source = "sms";
      options.queue = "support";
      options.received_at_ms = now;
      auto in = kannel::mo_to_interaction(*mo, keyer, options);
      if (in.external_id != mo->id || in.conversation_key.rfind("sms:", 0) != 0) __builtin_trap();
      // Everything parse_mo lets through makes a valid interaction.
      if (!omnitrail::timeline::validate(in).empty()) __builtin_trap();
    }
    if (auto dlr = kannel::parse_dlr(*params, error)) {
      if (dlr->type < 1 || dlr->type > 31 || dlr->signature.size() != 64) __builtin_trap();
      if (!is_valid_utf8(dlr->report) || dlr->report.size() > 200) __builtin_trap();
      auto report = kannel::delivery_report(*dlr, now);
      if (!report.status.empty() && report.status != "sent" && report.status != "delivered" &&
          report.status != "failed")
        __builtin_trap();
    }
  }

  // POST: parameters on the first line, the text after it; the Content-Type from the parameters.
  std::size_t newline = text.find('\n');
  std::string_view first = text.substr(0, newline);
  std::string body(newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1));
  if (auto params = kannel::parse_params(first, error, 64, 4096)) {
    kannel::MoRequest request;
    request.params = *params;
    request.body = &body;
    const std::string* content_type = kannel::find_param(*params, "ct");
    request.content_type = content_type ? std::string_view(*content_type) : std::string_view{};
    if (auto mo = kannel::parse_mo(request, now, error)) {
      if (!is_valid_utf8(mo->text)) __builtin_trap();
    }
  }

  // Decoders and counting on the raw bytes.
  if (auto utf8 = kannel::utf16be_to_utf8(text)) {
    if (!is_valid_utf8(*utf8)) __builtin_trap();
  }
  if (auto utf8 = kannel::latin1_to_utf8(text)) {
    if (!is_valid_utf8(*utf8)) __builtin_trap();
  }
  auto encoding = kannel::sms_encoding(text);
  if (encoding.units > 0 && encoding.segments == 0) __builtin_trap();
  if (encoding.units > 2 * size) __builtin_trap();
  std::string shown = kannel::printable(text, 100);
  if (!is_valid_utf8(shown) || shown.size() > 100) __builtin_trap();
  for (char c : shown) {
    if (static_cast<unsigned char>(c) < 0x20) __builtin_trap();
  }
  std::string scrubbed(text);
  kannel::scrub(scrubbed, "k3y");
  if (scrubbed.find("k3y") != std::string::npos) __builtin_trap();

  // Allow list: the first line as an entry, the rest as a remote address.
  kannel::AllowList list;
  (void)list.add(first);
  (void)list.allows(body);
  (void)kannel::canonical_number(keyer, first, "");
  return 0;
}
