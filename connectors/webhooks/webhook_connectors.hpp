// The phone_webhook and twilio_voice connectors: the HTTP edge around the pure webhook pieces
// (signatures.hpp, forms.hpp, events.hpp). Both are passive: they add one POST route under
// /webhooks/ to the daemon's router, authenticate each request (X-Omnitrail-Signature with a
// replay guard / X-Twilio-Signature), map it to an interaction, ingest it and answer the sender
// only once the store has committed it. See README.md.
// Thread contract: io thread only (routes run there too).
#pragma once

#include "connectors/connector.hpp"

namespace omnitrail::connectors::webhooks {

/// Registers the `phone_webhook` and `twilio_voice` config validators and factories. Called by
/// register_all().
void register_webhook_connectors();

}  // namespace omnitrail::connectors::webhooks
