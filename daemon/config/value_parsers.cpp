#include "daemon/config/value_parsers.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <random>

namespace omnitrail::config {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Splits "123unit" into digits and unit; false when there is no leading digit run.
bool split_number(std::string_view text, std::uint64_t& number, std::string_view& unit, bool& overflow) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, number);
  overflow = ec == std::errc::result_out_of_range;
  if (ec != std::errc() && !overflow) return false;
  (void)ptr;
  unit = trim(text.substr(i));
  return true;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text, std::string& error) {
  static constexpr const char* kHint = " (use 500ms, 30s, 5m, 1h, 1d)";
  const std::string_view t = trim(text);
  if (!t.empty() && t.front() == '-') {
    error = quote(text) + " is negative; durations must be zero or more" + std::string(kHint);
    return std::nullopt;
  }
  std::uint64_t number = 0;
  std::string_view unit;
  bool overflow = false;
  if (!split_number(t, number, unit, overflow)) {
    error = quote(text) + " is not a duration" + std::string(kHint);
    return std::nullopt;
  }
  std::uint64_t factor = 0;
  if (unit == "ms") factor = 1;
  else if (unit == "s") factor = 1000;
  else if (unit == "m") factor = 60'000;
  else if (unit == "h") factor = 3'600'000;
  else if (unit == "d") factor = 86'400'000;
  if (factor == 0) {
    error = quote(text) + (unit.empty() ? " has no unit" : " is not a duration") + std::string(kHint);
    return std::nullopt;
  }
  const auto max_ms = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
  if (overflow || number > max_ms / factor) {
    error = quote(text) + " is too large for a duration";
    return std::nullopt;
  }
  return Duration(static_cast<Duration::rep>(number * factor));
}

std::optional<std::uint64_t> parse_size(std::string_view text, std::string& error) {
  static constexpr const char* kHint = " (use 512, 64KiB, 1MiB, 1GiB, or KB/MB/GB for powers of 1000)";
  const std::string_view t = trim(text);
  if (!t.empty() && t.front() == '-') {
    error = quote(text) + " is negative; sizes must be zero or more";
    return std::nullopt;
  }
  std::uint64_t number = 0;
  std::string_view unit;
  bool overflow = false;
  if (!split_number(t, number, unit, overflow)) {
    error = quote(text) + " is not a size" + std::string(kHint);
    return std::nullopt;
  }
  const std::string u = lower(unit);
  std::uint64_t factor = 0;
  if (u.empty() || u == "b") factor = 1;
  else if (u == "kib") factor = 1ULL << 10;
  else if (u == "mib") factor = 1ULL << 20;
  else if (u == "gib") factor = 1ULL << 30;
  else if (u == "tib") factor = 1ULL << 40;
  else if (u == "kb") factor = 1000ULL;
  else if (u == "mb") factor = 1000ULL * 1000;
  else if (u == "gb") factor = 1000ULL * 1000 * 1000;
  else if (u == "tb") factor = 1000ULL * 1000 * 1000 * 1000;
  if (factor == 0) {
    error = quote(text) + " is not a size" + std::string(kHint);
    return std::nullopt;
  }
  if (overflow || number > std::numeric_limits<std::uint64_t>::max() / factor) {
    error = quote(text) + " is too large for a size";
    return std::nullopt;
  }
  return number * factor;
}

std::string format_duration(Duration d) {
  const auto ms = d.count();
  struct Unit { std::int64_t factor; const char* name; };
  static constexpr std::array<Unit, 4> kUnits{{{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}}};
  if (ms == 0) return "0s";
  for (const auto& u : kUnits) {
    if (ms % u.factor == 0) return std::to_string(ms / u.factor) + u.name;
  }
  return std::to_string(ms) + "ms";
}

std::string quote(std::string_view text) {
  constexpr std::size_t kMax = 64;
  std::string out = "\"";
  std::size_t shown = 0;
  for (char c : text) {
    if (shown == kMax) {
      out += "...";
      break;
    }
    ++shown;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
          out += kHex[static_cast<unsigned char>(c) & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::size_t edit_distance(std::string_view a_in, std::string_view b_in) {
  const std::string a = lower(a_in), b = lower(b_in);
  const std::size_t n = a.size(), m = b.size();
  if (n > 256 || m > 256) return std::max(n, m);  // not a typo; keeps the cost bounded
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  // Allow about one edit per three characters (at least one, at most three).
  const std::size_t limit = std::clamp<std::size_t>(word.size() / 3, 1, 3);
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    const std::size_t dist = edit_distance(word, c);
    if (dist < best_distance && dist < std::max<std::size_t>(c.size(), 2)) {
      best_distance = dist;
      best = c;
    }
  }
  if (!best && word.size() >= 3) {
    // An abbreviation ("warn" for "warning") is a typo too, when it is unambiguous.
    for (const auto& c : candidates) {
      if (c.size() > word.size() && lower(c).compare(0, word.size(), lower(word)) == 0) {
        if (best) return std::nullopt;
        best = c;
      }
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  if (auto match = closest_match(word, candidates)) return " (did you mean " + quote(*match) + "?)";
  return {};
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

bool parse_env_reference(std::string_view text, std::string& name) {
  if (text.size() < 4 || text.substr(0, 2) != "${" || text.back() != '}') return false;
  const std::string_view inner = text.substr(2, text.size() - 3);
  if (inner.empty() || std::isdigit(static_cast<unsigned char>(inner.front()))) return false;
  for (char c : inner) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  name = std::string(inner);
  return true;
}

std::string secret_digest(std::string_view secret) {
  static std::array<unsigned char, 32> key = [] {
    std::array<unsigned char, 32> k{};
    if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1) {
      std::random_device rd;  // fallback; only the unguessability of a leaked digest depends on it
      for (auto& b : k) b = static_cast<unsigned char>(rd());
    }
    return k;
  }();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), out, &out_len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(out_len * 2);
  for (unsigned int i = 0; i < out_len; ++i) {
    hex += kHex[out[i] >> 4];
    hex += kHex[out[i] & 0xf];
  }
  return "hmac-sha256:" + hex;
}

}  // namespace omnitrail::config
