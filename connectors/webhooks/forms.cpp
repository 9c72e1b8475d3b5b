#include "connectors/webhooks/forms.hpp"

#include "daemon/http/router.hpp"
#include "daemon/timeline/interaction.hpp"

namespace omnitrail::connectors::webhooks {
namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// True when every '%' in `text` starts a two-hex-digit escape. With that checked,
// http::percent_decode has no lenient case left, so the decoding rules stay in one place.
bool escapes_valid(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])) return false;
    i += 2;
  }
  return true;
}

// Names go into error messages (logs): only plain ones, so nothing odd reaches a log line.
bool printable_name(std::string_view name) {
  if (name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::optional<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view body, std::string& error,
                                                                          std::size_t max_fields,
                                                                          std::size_t max_value_bytes) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  std::size_t position = 0;
  while (i < body.size()) {
    std::size_t amp = body.find('&', i);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view part = body.substr(i, amp - i);
    i = amp + 1;
    if (part.empty()) continue;
    ++position;
    if (out.size() >= max_fields) {
      error = "form: more than " + std::to_string(max_fields) + " fields";
      return std::nullopt;
    }
    std::size_t eq = part.find('=');
    std::string_view raw_name = part.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
    std::string where = "form field " + std::to_string(position);
    if (raw_name.empty()) {
      error = where + ": empty name";
      return std::nullopt;
    }
    if (!escapes_valid(raw_name)) {
      error = where + ": invalid percent escape in the name";
      return std::nullopt;
    }
    // Encoded length >= decoded length: a cheap early bound before decoding anything huge.
    if (raw_name.size() / 3 > max_value_bytes) {
      error = where + ": name longer than " + std::to_string(max_value_bytes) + " bytes";
      return std::nullopt;
    }
    std::string name = http::percent_decode(raw_name, true);
    if (name.size() > max_value_bytes) {
      error = where + ": name longer than " + std::to_string(max_value_bytes) + " bytes";
      return std::nullopt;
    }
    if (!timeline::is_valid_utf8(name)) {
      error = where + ": name is not valid UTF-8";
      return std::nullopt;
    }
    if (printable_name(name)) where += " (" + name + ")";
    if (!escapes_valid(raw_value)) {
      error = where + ": invalid percent escape in the value";
      return std::nullopt;
    }
    if (raw_value.size() / 3 > max_value_bytes) {
      error = where + ": value longer than " + std::to_string(max_value_bytes) + " bytes";
      return std::nullopt;
    }
    std::string value = http::percent_decode(raw_value, true);
    if (value.size() > max_value_bytes) {
      error = where + ": value longer than " + std::to_string(max_value_bytes) + " bytes";
      return std::nullopt;
    }
    if (!timeline::is_valid_utf8(value)) {
      error = where + ": value is not valid UTF-8";
      return std::nullopt;
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

const std::string* form_value(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view name) {
  for (const auto& [key, value] : fields) {
    if (key == name) return &value;
  }
  return nullptr;
}

}  // namespace omnitrail::connectors::webhooks
