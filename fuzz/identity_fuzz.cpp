// libFuzzer target for the identity normaliser: arbitrary bytes as phone numbers, email
// header values and opaque ids. Besides crashes it checks the normaliser's invariants:
// accepted keys are well-formed and normalising a key again gives the same key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daemon/identity/normalizer.hpp"

namespace {

using omnitrail::identity::IdentifierKind;
using omnitrail::identity::NormalizeOptions;
using omnitrail::identity::Normalizer;

const Normalizer& normalizer() {
  static const Normalizer instance{NormalizeOptions{
      .default_region = "GB",
      .blocked_values = {"+44 20 7946 0999"},
      .own_numbers = {"+44 20 7946 0000"},
      .own_addresses = {"help@acme.com", "@omnitrail.test"},
      .internal_extensions = {"6001"},
  }};
  return instance;
}

void check(bool condition) {
  if (!condition) std::abort();
}

void check_phone_key(const std::string& key) {
  check(key.size() >= 2 && key[0] == '+');
  const auto ext = key.find(";ext=");
  const std::string_view number = std::string_view(key).substr(1, ext == std::string::npos ? ext : ext - 1);
  check(!number.empty() && number.find_first_not_of("0123456789") == std::string_view::npos);
  if (ext != std::string::npos) {
    const std::string_view digits = std::string_view(key).substr(ext + 5);
    check(!digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Normalizer& n = normalizer();

  const auto phone = n.phone(input);
  if (phone.ok()) {
    const auto& id = phone.identifier();
    check(id.kind == IdentifierKind::phone);
    check_phone_key(id.key);
    check(!id.suggestion_key.empty());
    const auto again = n.phone(id.key);
    check(again.ok() && again.identifier().key == id.key);
  } else {
    check(!phone.text().empty());
  }
  (void)n.phone(input, "US");

  const auto email = n.email(input);
  if (email.ok()) {
    const auto& id = email.identifier();
    check(id.kind == IdentifierKind::email);
    check(id.key.size() <= 254 && id.key.find('@') != std::string::npos);
    check(id.key.find('@') == id.key.rfind('@'));
    check(!id.raw.empty() && !id.suggestion_key.empty());
    const auto again = n.email(id.key);
    check(again.ok() && again.identifier().key == id.key);
  } else {
    check(!email.text().empty());
  }

  const auto external = n.other(IdentifierKind::external, input);
  if (external.ok()) check(!external.identifier().key.empty());

  const auto half = input.size() / 2;
  (void)n.compare_phones(input.substr(0, half), input.substr(half));
  return 0;
}
