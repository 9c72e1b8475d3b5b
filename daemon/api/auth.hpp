// Bearer-token authentication for the REST API and the agent WebSocket. Tokens come from the
// config (agents[].token_file, server.admin_token_files); only their SHA-256 digests are kept,
// and a presented token is compared against every digest in constant time.
// Thread contract: immutable after construction; any thread.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.hpp"

namespace omnitrail::api {

struct Principal {
  std::string id;    // agent id, or "admin" for an admin token
  std::string role;  // "agent" | "admin"
  bool is_admin() const { return role == "admin"; }
};

class TokenAuthority {
 public:
  explicit TokenAuthority(const config::Config& config);

  /// Authenticates an `Authorization` header value ("Bearer <token>"). Returns nullopt for a
  /// missing, malformed or unknown token. Timing does not depend on which token matched.
  std::optional<Principal> authenticate(std::string_view authorization) const;

  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    Principal principal;
  };
  std::vector<Entry> entries_;
};

}  // namespace omnitrail::api
