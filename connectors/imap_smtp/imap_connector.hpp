// The imap_smtp connector, intake half: polls IMAP folders with libcurl (multi socket API on the
// io thread, through net::CurlMulti), parses each new message on the blocking pool, ingests it
// with its folder checkpoint (UIDVALIDITY:UID) in one store transaction, and only then marks it
// \Seen or moves it. Thread contract: io thread only.
#pragma once

#include "connectors/connector.hpp"

namespace omnitrail::connectors::imap_smtp {

/// Registers the `imap_smtp` config validator and factory. Called by register_all().
void register_imap_smtp();

}  // namespace omnitrail::connectors::imap_smtp
