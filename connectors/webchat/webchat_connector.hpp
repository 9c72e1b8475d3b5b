// The webchat connector: the visitor WebSocket (/webchat/<name>/ws) and widget
// (/webchat/<name>/widget.js) of one web site, its chats (assigned to agents through the agent
// hub's ChatDesk), every message a timeline interaction acknowledged to the visitor only after
// its commit, and agents' replies (POST /api/v1/messages -> prepare() / send()) pushed to the
// visitor. See README.md. Thread contract: io thread only.
#pragma once

#include "connectors/connector.hpp"

namespace omnitrail::connectors::webchat {

/// Registers the `webchat` config validator and factory. Called by register_all().
void register_webchat();

}  // namespace omnitrail::connectors::webchat
