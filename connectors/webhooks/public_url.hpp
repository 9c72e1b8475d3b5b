// The public URL a provider calls (and signs, for Twilio) when the daemon sits behind a proxy:
// the config check shared by the Twilio connectors (twilio_voice, twilio_sms). Pure; any thread.
#pragma once

#include <string>

namespace omnitrail::connectors::webhooks {

/// "" when `url` can be a webhook's public URL: http:// or https://, a host, no spaces or
/// control characters, no query or fragment (Twilio adds the query it calls with). Else the
/// problem, with an example of a valid value.
std::string check_public_url(const std::string& url);

}  // namespace omnitrail::connectors::webhooks
