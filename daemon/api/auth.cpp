#include "daemon/api/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace omnitrail::api {
namespace {

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> out{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());
  return out;
}

}  // namespace

TokenAuthority::TokenAuthority(const config::Config& config) {
  for (const auto& agent : config.agents) {
    if (agent.token.empty()) continue;
    entries_.push_back({sha256(agent.token.value), Principal{agent.id, agent.role == "admin" ? "admin" : "agent"}});
  }
  for (const auto& token : config.admin_tokens) {
    if (token.empty()) continue;
    entries_.push_back({sha256(token.value), Principal{"admin", "admin"}});
  }
}

std::optional<Principal> TokenAuthority::authenticate(std::string_view authorization) const {
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.size() <= scheme.size() || authorization.size() > 4096) return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    char c = authorization[i];
    if (i < 6 && (c | 0x20) != (scheme[i] | 0x20)) return std::nullopt;  // scheme is case-insensitive
    if (i == 6 && c != ' ') return std::nullopt;
  }
  auto token = authorization.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  // Digests have a fixed length, so CRYPTO_memcmp over all of them takes the same time
  // whichever entry (if any) matches.
  auto presented = sha256(token);
  const Entry* match = nullptr;
  for (const auto& entry : entries_) {
    if (CRYPTO_memcmp(entry.digest.data(), presented.data(), presented.size()) == 0) match = &entry;
  }
  if (!match) return std::nullopt;
  return match->principal;
}

}  // namespace omnitrail::api
