// The twilio_sms connector: Twilio Programmable Messaging. Inbound SMS/MMS and status callbacks
// arrive as signed form POSTs on /webhooks/<name> and /webhooks/<name>/status (X-Twilio-Signature
// over the configured public URL); replies leave through the Messages REST API (libcurl on the
// io thread, through net::HttpClient) when the core's message dispatcher calls send(). See
// README.md. Thread contract: io thread only (routes run there too).
#pragma once

#include "connectors/connector.hpp"

namespace omnitrail::connectors::twilio_sms {

/// Registers the `twilio_sms` config validator and factory. Called by register_all().
void register_twilio_sms();

}  // namespace omnitrail::connectors::twilio_sms
