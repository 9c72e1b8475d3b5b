#include "connectors/imap_smtp/email_interaction.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "connectors/imap_smtp/mail_text.hpp"

namespace omnitrail::connectors::imap_smtp {
namespace {

using nlohmann::json;

constexpr std::size_t max_address_field_bytes = 2000;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

json mailboxes(const std::vector<Mailbox>& list) {
  json out = json::array();
  for (const auto& m : list) out.push_back(json{{"name", m.display_name}, {"address", m.address}});
  return out;
}

std::string joined(const std::vector<Mailbox>& list) {
  std::string out;
  for (const auto& m : list) {
    std::string one = m.display();
    if (out.size() + one.size() + 2 > max_address_field_bytes) break;
    if (!out.empty()) out += ", ";
    out += one;
  }
  return out;
}

}  // namespace

timeline::Interaction to_interaction(const ParsedEmail& email, const std::string& source,
                                     const MailboxPosition& position, const InteractionOptions& options) {
  timeline::Interaction in;
  in.channel = "email";
  in.direction = "inbound";
  in.kind = "email.received";
  in.occurred_at_ms = email.date_ms;
  in.source = source;
  in.external_id = email.message_id;
  in.conversation_key = email.thread_key;
  in.from = email.from.display();
  if (in.from.size() > max_address_field_bytes) in.from = email.from.address;
  in.to = joined(email.to);
  in.subject = email.subject;
  in.text = email.text;
  in.customer_display_name = email.from.display_name;

  const std::string& address = email.from.address;
  std::size_t at = address.find('@');
  bool own = std::any_of(options.own_addresses.begin(), options.own_addresses.end(),
                         [&](const std::string& mine) { return lower(mine) == lower(address); });
  if (at != std::string::npos && at > 0 && at + 1 < address.size() && address.size() <= 512 && !own &&
      !email.bounce) {
    timeline::IdentifierClaim claim;
    claim.kind = identity::IdentifierKind::email;
    claim.raw = address;
    claim.trust = identity::Trust::claimed;
    in.customer_identifiers.push_back(std::move(claim));
  }

  json attachments = json::array();
  for (const auto& a : email.attachments) {
    json item{{"filename", a.filename},
              {"content_type", a.content_type},
              {"size_bytes", a.size_bytes},
              {"disposition", a.disposition}};
    if (!a.content_id.empty()) item["content_id"] = a.content_id;
    attachments.push_back(std::move(item));
  }
  json metadata{
      {"message_id", email.message_id},
      {"message_id_synthetic", email.message_id_synthetic},
      {"in_reply_to", email.in_reply_to},
      {"references", email.references},
      {"to", mailboxes(email.to)},
      {"cc", mailboxes(email.cc)},
      {"reply_to", mailboxes(email.reply_to)},
      {"attachments", std::move(attachments)},
      {"attachment_count", email.attachment_count},
      {"auto_reply", email.auto_reply},
      {"bounce", email.bounce},
      {"automation_reasons", email.automation_reasons},
      {"quoted_from_offset", email.quoted_from_offset ? json(*email.quoted_from_offset) : json(nullptr)},
      {"text_source", email.text_source},
      {"text_truncated", email.text_truncated},
      {"parts_truncated", email.parts_truncated},
      {"date_from_header", email.date_from_header},
      {"size_bytes", email.raw_bytes},
      {"imap", json{{"folder", position.folder}, {"uidvalidity", position.uidvalidity}, {"uid", position.uid}}},
  };
  if (!options.queue.empty()) metadata["queue"] = options.queue;
  // Every string in ParsedEmail is valid UTF-8; `replace` only guards the folder and queue names.
  in.metadata_json = metadata.dump(-1, ' ', false, json::error_handler_t::replace);
  return in;
}

timeline::Interaction to_sent_interaction(const ReplyRequest& request, const ComposedEmail& composed,
                                          const std::string& source, const std::string& agent,
                                          const std::string& customer_id) {
  std::vector<std::string> references = reply_references(request);
  std::string parent = normalize_message_id(request.parent_message_id);

  timeline::Interaction in;
  in.channel = "email";
  in.direction = "outbound";
  in.kind = "email.sent";
  in.occurred_at_ms = request.date_ms;
  in.source = source;
  in.external_id = composed.message_id;
  in.conversation_key = thread_key(references, "", composed.message_id);
  in.from = request.from.display();
  in.to = joined(request.to);
  in.agent = agent;
  in.customer_id = customer_id;
  in.subject = composed.subject;
  in.text = repair_utf8(request.text);
  if (!request.to.empty()) {
    timeline::IdentifierClaim claim;
    claim.kind = identity::IdentifierKind::email;
    claim.raw = request.to.front().address;
    claim.trust = identity::Trust::claimed;
    in.customer_identifiers.push_back(std::move(claim));
    in.customer_display_name = request.to.front().display_name;
  }
  json metadata{{"message_id", composed.message_id},
                {"in_reply_to", parent},
                {"references", references},
                {"to", mailboxes(request.to)},
                {"cc", mailboxes(request.cc)}};
  in.metadata_json = metadata.dump(-1, ' ', false, json::error_handler_t::replace);
  return in;
}

}  // namespace omnitrail::connectors::imap_smtp
