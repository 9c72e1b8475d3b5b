// Turns raw identifier text (caller ids, email From headers, chat and CRM ids) into the
// normalised keys the identity index is built on, and rejects values that identify no one.
// Pure: no I/O, no global state besides libphonenumber's immutable metadata.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace omnitrail::identity {

/// What an identifier is. Its tier (see tier_of) decides what it may do in matching.
enum class IdentifierKind {
  external,   ///< CRM / customer id (tier A)
  chat_user,  ///< authenticated chat user id (tier A)
  email,      ///< email address (tier B)
  phone,      ///< E.164 phone number, optionally with ";ext=N" (tier C)
  visitor,    ///< anonymous chat visitor / session id (tier D)
};

/// Matching strength of a kind; A is the strongest. Compare with `<`: A < B < C < D.
enum class Tier { A = 1, B = 2, C = 3, D = 4 };

/// The tier of `kind` (identity.md, "Identifiers and tiers").
Tier tier_of(IdentifierKind kind) noexcept;

/// Stable lower-case name of `kind` as stored in the database and shown in the API:
/// "external", "chat_user", "email", "phone", "visitor".
std::string_view to_string(IdentifierKind kind) noexcept;

/// Inverse of to_string(IdentifierKind); exact, case-sensitive. nullopt for any other text.
std::optional<IdentifierKind> parse_identifier_kind(std::string_view name) noexcept;

/// How much an identifier is to be believed. `verified`: authenticated chat login, admin API,
/// CRM import. `claimed`: form input, email From, caller id.
enum class Trust { claimed, verified };

/// "claimed" / "verified".
std::string_view to_string(Trust trust) noexcept;

/// Inverse of to_string(Trust); nullopt for any other text.
std::optional<Trust> parse_trust(std::string_view name) noexcept;

/// A normalised identifier. `kind` + `key` is unique across all customers (one index).
struct Identifier {
  IdentifierKind kind = IdentifierKind::external;
  /// Normalised key: the unique index key. Phone: E.164 plus ";ext=N" when an extension was
  /// given. Email: lower-cased address (gmail.com / googlemail.com: dots and +tag removed from
  /// the local part, domain gmail.com). Other kinds: the trimmed input, case kept.
  std::string key;
  /// The input as received (trimmed). For email the bare address without display name, in its
  /// original case: the address replies are sent to.
  std::string raw;
  /// Secondary key used only to find suggestion candidates, never to join: phone: the national
  /// significant number; email: the lower-cased address with any +tag removed (equals `key` when
  /// there is no tag, and for gmail). Empty for the other kinds.
  std::string suggestion_key;

  friend bool operator==(const Identifier&, const Identifier&) = default;
};

/// Why a value is not a customer identifier.
enum class RejectReason {
  blocked,              ///< anonymous / unknown / withheld / repeated digits / configured list
  own_value,            ///< one of the company's own numbers or addresses
  internal_extension,   ///< a PBX extension (configured, or 2..4 bare digits)
  short_code,           ///< SMS / service short code (valid short number, or 5..6 bare digits)
  alphanumeric_sender,  ///< SMS sender name such as "BANK"
  invalid,              ///< does not parse, not a valid number / address, bad bytes
  empty,                ///< nothing but whitespace
  role_address,         ///< role or system mailbox (postmaster@, no-reply@, support@ ...)
};

/// Stable snake_case name of `reason` ("blocked", "own_value", ...), for logs and metrics.
std::string_view to_string(RejectReason reason) noexcept;

/// The outcome of normalising one value: either an Identifier, or a reason it is none.
/// A rejected value should still be stored raw on the interaction.
class NormalizeResult {
 public:
  /// A usable identifier.
  static NormalizeResult accepted(Identifier identifier);
  /// Not an identifier; `text` is a short human explanation naming the value's problem.
  static NormalizeResult rejected(RejectReason reason, std::string text);

  /// True when identifier() may be called.
  bool ok() const noexcept { return ok_; }
  /// The identifier. Precondition: ok().
  const Identifier& identifier() const noexcept { return identifier_; }
  /// Why it was rejected. Precondition: !ok().
  RejectReason reason() const noexcept { return reason_; }
  /// Human explanation of the rejection; empty when ok().
  const std::string& text() const noexcept { return text_; }

 private:
  bool ok_ = false;
  Identifier identifier_;
  RejectReason reason_ = RejectReason::invalid;
  std::string text_;
};

/// Site configuration of the normaliser (from `identity:` in omnitrail.yaml plus the agents'
/// extensions).
struct NormalizeOptions {
  /// ISO 3166-1 alpha-2 region for numbers dialled without "+" (e.g. "GB"); case-insensitive.
  /// Empty: such numbers are rejected unless the call passes a region override.
  std::string default_region = {};
  /// Extra values that identify no one, matched case-insensitively on the trimmed input and,
  /// when they normalise, on the normalised key (so "+44 20 7946 0000" blocks every spelling).
  std::vector<std::string> blocked_values = {};
  /// The company's own numbers (any spelling; parsed with default_region). A call from one of
  /// them, with or without an extension, is not a customer.
  std::vector<std::string> own_numbers = {};
  /// The company's own addresses ("sales@acme.com"), or whole domains written "@acme.com".
  std::vector<std::string> own_addresses = {};
  /// PBX extensions ("6001"), compared on the bare digits of the input.
  std::vector<std::string> internal_extensions = {};
};

/// Result of comparing two phone numbers. Only `exact` may join two identities; `nsn` and
/// `short_nsn` (e.g. "657 1234" vs "+1 345 657 1234") are grounds for a suggestion only.
enum class PhoneMatch { exact, nsn, short_nsn, none };

/// Normalises identifiers under one site configuration.
/// Thread contract: construction on any thread; const methods from any number of threads.
/// No method throws; every input byte sequence is acceptable (bad bytes give `invalid`).
class Normalizer {
 public:
  /// Precomputes the normalised own numbers, own addresses and blocked keys. Entries that do
  /// not normalise are kept as raw text only and listed by ignored_options().
  explicit Normalizer(NormalizeOptions options);
  ~Normalizer();
  Normalizer(Normalizer&&) noexcept;
  Normalizer& operator=(Normalizer&&) noexcept;
  Normalizer(const Normalizer&) = delete;
  Normalizer& operator=(const Normalizer&) = delete;

  /// Normalises a phone number (caller id, SMS sender, form field, "tel:" URI).
  /// Input starting with "+" is parsed with no region; otherwise with `region_override`
  /// (a connector's trunk region) or, when that is empty, the default region. The number must
  /// be valid for its region (libphonenumber IsValidNumber). An extension is kept as
  /// "+4420...;ext=12". Rejects blocked values, the company's own numbers, internal extensions,
  /// short codes and alphanumeric senders.
  ///
  /// Bare digit strings that are not valid numbers and not configured: 2..4 digits are taken as
  /// internal extensions (the common PBX plan), 5..6 digits as SMS short codes; known short
  /// numbers (112, 911, 999, ...) are short codes. Either way they identify no customer.
  NormalizeResult phone(std::string_view raw, std::string_view region_override = {}) const;

  /// Normalises an email address, given bare or in a header's display form
  /// (`Alice <alice@example.com>`, `"Smith, J" <j@x.org>`, `j@x.org (J)`, `mailto:j@x.org`).
  /// Accepts one sane addr-spec: one "@", a dot-atom local part (no quoted local parts), a
  /// dotted domain of letters / digits / hyphens (UTF-8 allowed), 254 bytes at most.
  /// Rejects role / system senders and the company's own addresses.
  NormalizeResult email(std::string_view raw) const;

  /// Normalises a value of any kind: phone and email delegate to phone() / email(); the others
  /// (external, chat_user, visitor) are trimmed, must be valid UTF-8 without control characters
  /// and at most 256 bytes, keep their case, and may not be a blocked value.
  NormalizeResult other(IdentifierKind kind, std::string_view raw) const;

  /// Compares two phone numbers as typed (libphonenumber IsNumberMatch). Each side is parsed
  /// like phone() does with the default region; a side that does not parse that way is compared
  /// as text, so "657 1234" vs "+1 345 657 1234" is `short_nsn`. Blocked or empty values: none.
  PhoneMatch compare_phones(std::string_view a, std::string_view b) const;

  /// Configuration entries (own_numbers, own_addresses) that could not be normalised and can
  /// therefore only match by their exact text; for config validation to report.
  const std::vector<std::string>& ignored_options() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace omnitrail::identity
