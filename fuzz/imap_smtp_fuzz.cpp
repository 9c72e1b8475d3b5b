// Fuzzes the email connector's pure layer on raw message bytes: parse_message (GMime, charsets,
// HTML, quotes, loop flags) -> to_interaction -> timeline::validate, and compose_reply of an
// answer to what was parsed (-> to_sent_interaction on the same thread), parsed again. Crashes, sanitizer reports, uncaught exceptions and
// broken invariants (__builtin_trap) are findings.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "connectors/imap_smtp/email_interaction.hpp"
#include "connectors/imap_smtp/email_message.hpp"
#include "connectors/imap_smtp/imap_protocol.hpp"
#include "connectors/imap_smtp/mail_text.hpp"
#include "connectors/imap_smtp/reply_composer.hpp"
#include "daemon/timeline/interaction.hpp"

namespace mail = omnitrail::connectors::imap_smtp;
using omnitrail::timeline::is_valid_utf8;

namespace {

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool clean(const std::string& text) { return is_valid_utf8(text) && text.find('\0') == std::string::npos; }

void check_parsed(const mail::ParsedEmail& e, const mail::ParseLimits& limits) {
  require(clean(e.message_id) && !e.message_id.empty() && e.message_id.size() <= 500);
  require(clean(e.thread_key) && !e.thread_key.empty());
  require(clean(e.in_reply_to));
  require(e.references.size() <= limits.max_references);
  for (const auto& id : e.references) require(clean(id) && !id.empty());
  require(clean(e.subject) && e.subject.size() <= limits.max_header_text_bytes);
  require(clean(e.from.address) && clean(e.from.display_name));
  for (const auto* list : {&e.to, &e.cc, &e.reply_to}) {
    require(list->size() <= limits.max_addresses);
    for (const auto& m : *list) require(clean(m.address) && clean(m.display_name));
  }
  require(clean(e.sender));
  if (e.return_path) require(clean(*e.return_path));
  require(clean(e.text) && e.text.size() <= limits.max_text_bytes);
  if (e.quoted_from_offset) require(*e.quoted_from_offset <= e.text.size());
  require(e.attachments.size() <= limits.max_attachments && e.attachment_count >= e.attachments.size());
  for (const auto& a : e.attachments) require(clean(a.filename) && clean(a.content_type) && clean(a.content_id));
  for (const auto& r : e.automation_reasons) require(clean(r));
  require(e.date_ms > 0);
}

// The same bytes as IMAP server output (untagged STATUS / SEARCH lines) and as a stored checkpoint.
void check_imap_protocol(std::string_view raw) {
  if (auto status = mail::parse_folder_status(raw)) require(status->uidvalidity != 0);
  const auto uids = mail::parse_search(raw);
  for (std::size_t i = 0; i < uids.size(); ++i) require(uids[i] != 0 && (i == 0 || uids[i - 1] < uids[i]));
  const auto set = mail::uid_set(uids);
  require(uids.empty() == set.empty());
  if (auto checkpoint = mail::parse_checkpoint(raw)) {
    auto again = mail::parse_checkpoint(mail::format_checkpoint(*checkpoint));
    require(again && again->uidvalidity == checkpoint->uidvalidity && again->last_uid == checkpoint->last_uid);
  }
  if (mail::valid_folder_name(raw)) require(!mail::url_encode_folder(raw).empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  check_imap_protocol(raw);
  mail::ParseLimits limits;
  limits.max_message_bytes = 1024 * 1024;
  limits.max_text_bytes = 16 * 1024;
  limits.max_references = 8;
  limits.max_addresses = 16;
  limits.max_attachments = 16;
  limits.max_header_fields = 1000;
  constexpr std::int64_t received = 1796110800000;

  auto parsed = mail::parse_message(raw, limits, received);
  if (!parsed.ok()) {
    require(!parsed.error().empty() && is_valid_utf8(parsed.error()));
    return 0;
  }
  const mail::ParsedEmail& email = *parsed;
  check_parsed(email, limits);

  // The same bytes always give the same identity (dedupe on re-ingest).
  auto again = mail::parse_message(raw, limits, received);
  require(again.ok() && again->message_id == email.message_id && again->thread_key == email.thread_key);

  auto interaction = mail::to_interaction(email, "mail", {"INBOX", 7, 42}, {"support", {"support@omnitrail.test"}});
  require(omnitrail::timeline::validate(interaction).empty());
  require(interaction.external_id == email.message_id);

  // Answer it: whatever the parsed fields hold, the composer refuses or writes a message that
  // parses back to the same subject, text and threading.
  mail::ReplyRequest reply;
  reply.from = {email.to.empty() ? "" : email.to.front().display_name, "support@omnitrail.test"};
  reply.to = {{email.from.display_name, "customer@example.com"}};
  reply.parent_subject = email.subject;
  reply.text = email.text;
  reply.parent_message_id = email.message_id;
  reply.parent_references = email.references;
  reply.parent_in_reply_to = email.in_reply_to;
  reply.message_id_domain = "mail.omnitrail.test";
  reply.message_id_token = "fuzz";
  reply.date_ms = received;
  auto composed = mail::compose_reply(reply);
  if (!composed.ok()) return 0;
  auto sent = mail::to_sent_interaction(reply, *composed, "mail", "agent-1", "");
  require(omnitrail::timeline::validate(sent).empty());
  require(sent.conversation_key == email.thread_key);
  mail::ParseLimits roomy;
  roomy.max_text_bytes = limits.max_text_bytes * 2;
  roomy.max_header_text_bytes = 4 * limits.max_header_text_bytes;
  auto back = mail::parse_message(composed->message, roomy, received);
  require(back.ok());
  require(back->subject == mail::reply_subject(email.subject));
  require(back->text == email.text);
  require(back->in_reply_to == email.message_id);
  require(back->from.display_name == reply.from.display_name);
  require(back->to.size() == 1 && back->to.front().display_name == email.from.display_name);
  return 0;
}
