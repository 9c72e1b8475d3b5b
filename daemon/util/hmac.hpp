// Keyed digests shared by inbound signature checks (connectors) and outbound signing (webhooks).
// Any thread.
#pragma once

#include <string>
#include <string_view>

namespace omnitrail::util {

/// Lower-case hex of HMAC-SHA256(key, data).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// Compares two strings in time that depends only on their lengths (never on where they
/// differ): for signatures and tokens.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace omnitrail::util
