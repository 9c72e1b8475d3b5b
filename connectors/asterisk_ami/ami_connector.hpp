// The asterisk_ami connector: an Asio TCP client of the Asterisk Manager Interface. It logs in
// (MD5 challenge or plain), installs an event filter, resynchronises calls in progress with
// CoreShowChannels after every (re)connect, keeps the link alive with Ping, reconnects with
// exponential back-off and jitter, and turns call events into interactions through the pure
// CallTracker. Thread contract: io thread only.
#pragma once

#include "connectors/connector.hpp"

namespace omnitrail::connectors::ami {

/// Registers the `asterisk_ami` config validator and factory. Called by register_all().
void register_asterisk_ami();

}  // namespace omnitrail::connectors::ami
