// The kannel connector: SMS through a Kannel gateway (README.md). Inbound (MO) messages arrive
// on GET|POST /webhooks/<name>/mo, called by Kannel's sms-service get-url / post-url with the
// shared secret; they are ingested as sms.received (the queue's agents get the pop) and answered
// only after the commit. Outbound (MT) messages are sent by send() as one sendsms GET through
// net::HttpClient, with a dlr-url back to GET /webhooks/<name>/dlr that carries the message id
// and a per-message signature; delivery reports go to Context.report_delivery.
// Thread contract: io thread only (routes run there too).
#pragma once

#include "connectors/connector.hpp"

namespace omnitrail::connectors::kannel {

/// Registers the `kannel` config validator and factory. Called by register_all().
void register_kannel();

}  // namespace omnitrail::connectors::kannel
