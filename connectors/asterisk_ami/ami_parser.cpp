#include "connectors/asterisk_ami/ami_parser.hpp"

#include <openssl/evp.h>

#include <algorithm>

namespace omnitrail::connectors::ami {
namespace {

constexpr std::string_view kEndCommand = "--END COMMAND--";
constexpr std::string_view kBannerPrefix = "Asterisk Call Manager";
constexpr std::size_t kFieldOverhead = 16;  // accounting for the pair and string headers

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

bool has_forbidden_byte(std::string_view text) noexcept {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool valid_key(std::string_view key) noexcept {
  if (key.empty() || has_forbidden_byte(key)) return false;
  return std::none_of(key.begin(), key.end(), [](char c) { return c == ':' || is_blank(c); });
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
  out.append(key);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// ---- Message ---------------------------------------------------------------------------------

void Message::add(std::string key, std::string value) {
  bytes_ += key.size() + value.size() + kFieldOverhead;
  fields_.emplace_back(std::move(key), std::move(value));
}

void Message::add_output_line(std::string_view line) {
  if (has_output_) output_.push_back('\n');
  output_.append(line);
  has_output_ = true;
  bytes_ += line.size() + 1;
}

std::optional<std::string_view> Message::get(std::string_view key) const noexcept {
  for (const auto& [k, v] : fields_) {
    if (iequals(k, key)) return std::string_view(v);
  }
  return std::nullopt;
}

std::string_view Message::value(std::string_view key) const noexcept { return get(key).value_or(std::string_view{}); }

std::vector<std::string_view> Message::all(std::string_view key) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : fields_) {
    if (iequals(k, key)) out.emplace_back(v);
  }
  return out;
}

// ---- Parser ----------------------------------------------------------------------------------

Parser::Parser(ParserLimits limits) noexcept
    : limits_(limits), state_(limits.expect_banner ? State::banner : State::idle) {}

void Parser::reset() noexcept {
  state_ = limits_.expect_banner ? State::banner : State::idle;
  partial_.clear();
  partial_.shrink_to_fit();
  current_ = Message{};
  follows_output_started_ = false;
  ready_.clear();
  ready_bytes_ = 0;
  banner_.clear();
  error_.clear();
  malformed_lines_ = 0;
}

std::size_t Parser::buffered_bytes() const noexcept { return partial_.size() + current_.byte_size() + ready_bytes_; }

void Parser::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  partial_.clear();
  current_ = Message{};
}

void Parser::feed(std::string_view bytes) noexcept {
  try {
    while (!bytes.empty() && !failed()) {
      const auto newline = bytes.find('\n');
      if (newline == std::string_view::npos) {
        if (partial_.size() + bytes.size() > limits_.max_line_bytes + 1) {  // +1: a CR may follow
          fail("line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
          return;
        }
        partial_.append(bytes);
        break;
      }
      std::string_view line;
      if (partial_.empty()) {
        line = bytes.substr(0, newline);
      } else {
        if (partial_.size() + newline > limits_.max_line_bytes + 1) {
          fail("line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
          return;
        }
        partial_.append(bytes.substr(0, newline));
        line = partial_;
      }
      bytes.remove_prefix(newline + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() > limits_.max_line_bytes) {
        fail("line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
        return;
      }
      on_line(line);
      partial_.clear();
      if (buffered_bytes() > limits_.max_buffered_bytes) {
        fail("more than " + std::to_string(limits_.max_buffered_bytes) +
             " bytes buffered (message too large or messages not read)");
      }
    }
    if (!failed() && buffered_bytes() > limits_.max_buffered_bytes) {
      fail("more than " + std::to_string(limits_.max_buffered_bytes) + " bytes buffered (message too large or messages not read)");
    }
  } catch (...) {  // allocation failure: refuse the stream rather than terminate
    try {
      fail("out of memory while parsing");
    } catch (...) {
    }
  }
}

void Parser::on_line(std::string_view line) {
  switch (state_) {
    case State::banner:
      if (line.substr(0, kBannerPrefix.size()) != kBannerPrefix) {
        fail("expected the banner \"Asterisk Call Manager/<version>\" as first line (not an AMI peer?)");
        return;
      }
      banner_.assign(line);
      state_ = State::idle;
      return;

    case State::follows: {
      if (line.size() >= kEndCommand.size() && line.substr(line.size() - kEndCommand.size()) == kEndCommand) {
        auto before = line.substr(0, line.size() - kEndCommand.size());
        if (!before.empty()) current_.add_output_line(before);
        finish_message();
        return;
      }
      if (!follows_output_started_) {
        auto colon = line.find(':');
        if (colon != std::string_view::npos) {
          auto key = line.substr(0, colon);
          if (iequals(key, "Privilege") || iequals(key, "ActionID")) {
            if (current_.fields().size() >= limits_.max_fields) {
              fail("message with more than " + std::to_string(limits_.max_fields) + " fields");
              return;
            }
            auto value = line.substr(colon + 1);
            while (!value.empty() && is_blank(value.front())) value.remove_prefix(1);
            current_.add(std::string(key), std::string(value));
            return;
          }
        }
      }
      follows_output_started_ = true;
      current_.add_output_line(line);
      return;
    }

    case State::idle:
    case State::message: {
      if (line.empty()) {
        if (state_ == State::message) finish_message();
        return;
      }
      state_ = State::message;
      const auto colon = line.find(':');
      std::string_view key = colon == std::string_view::npos ? std::string_view{} : line.substr(0, colon);
      if (!valid_key(key)) {
        ++malformed_lines_;
        current_.add_output_line(line);
        return;
      }
      if (current_.fields().size() >= limits_.max_fields) {
        fail("message with more than " + std::to_string(limits_.max_fields) + " fields");
        return;
      }
      auto value = line.substr(colon + 1);
      while (!value.empty() && is_blank(value.front())) value.remove_prefix(1);
      const bool first = current_.fields().empty();
      current_.add(std::string(key), std::string(value));
      if (first && iequals(key, "Response") && iequals(value, "Follows")) {
        state_ = State::follows;
        follows_output_started_ = false;
      }
      return;
    }
  }
}

void Parser::finish_message() {
  ready_bytes_ += current_.byte_size();
  ready_.push_back(std::move(current_));
  current_ = Message{};
  state_ = State::idle;
  follows_output_started_ = false;
}

std::optional<Message> Parser::next() noexcept {
  if (ready_.empty()) return std::nullopt;
  std::optional<Message> out(std::move(ready_.front()));
  ready_.pop_front();
  ready_bytes_ -= std::min(ready_bytes_, out->byte_size());
  return out;
}

// ---- actions ---------------------------------------------------------------------------------

std::string serialize_action(std::string_view name, const Fields& fields, std::string_view action_id) {
  if (!valid_key(name) || action_id.empty() || has_forbidden_byte(action_id)) return {};
  std::string out;
  append_field(out, "Action", name);
  append_field(out, "ActionID", action_id);
  for (const auto& [key, value] : fields) {
    if (!valid_key(key) || has_forbidden_byte(value)) return {};
    append_field(out, key, value);
  }
  out.append("\r\n");
  return out;
}

std::string login_action(std::string_view username, std::string_view secret, std::string_view action_id,
                         std::string_view events) {
  Fields fields{{"Username", std::string(username)}, {"Secret", std::string(secret)}};
  if (!events.empty()) fields.emplace_back("Events", std::string(events));
  return serialize_action("Login", fields, action_id);
}

std::string challenge_action(std::string_view action_id) {
  return serialize_action("Challenge", {{"AuthType", "md5"}}, action_id);
}

std::string login_md5_action(std::string_view username, std::string_view key, std::string_view action_id,
                             std::string_view events) {
  Fields fields{{"AuthType", "md5"}, {"Username", std::string(username)}, {"Key", std::string(key)}};
  if (!events.empty()) fields.emplace_back("Events", std::string(events));
  return serialize_action("Login", fields, action_id);
}

std::string md5_key(std::string_view challenge, std::string_view secret) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  if (context == nullptr) return {};
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const bool ok = EVP_DigestInit_ex(context, EVP_md5(), nullptr) == 1 &&
                  EVP_DigestUpdate(context, challenge.data(), challenge.size()) == 1 &&
                  EVP_DigestUpdate(context, secret.data(), secret.size()) == 1 &&
                  EVP_DigestFinal_ex(context, digest, &length) == 1;
  EVP_MD_CTX_free(context);
  if (!ok) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

std::string filter_action(std::string_view filter, std::string_view action_id) {
  return serialize_action("Filter", {{"Operation", "Add"}, {"Filter", std::string(filter)}}, action_id);
}

std::string tracked_events_filter() {
  return "Event: (Newchannel|Newstate|DialBegin|DialEnd|BridgeEnter|BridgeLeave|Hangup|QueueCallerJoin|"
         "AgentCalled|AgentConnect|AgentComplete|QueueCallerAbandon|QueueCallerLeave|BlindTransfer|"
         "AttendedTransfer|CoreShowChannel|CoreShowChannelsComplete|FullyBooted|Shutdown|OriginateResponse)";
}

std::string ping_action(std::string_view action_id) { return serialize_action("Ping", {}, action_id); }

std::string core_show_channels_action(std::string_view action_id) {
  return serialize_action("CoreShowChannels", {}, action_id);
}

std::string originate_action(const OriginateRequest& request, std::string_view action_id) {
  if (request.channel.empty() || request.exten.empty()) return {};
  Fields fields{{"Channel", request.channel},
                {"Exten", request.exten},
                {"Context", request.context},
                {"Priority", request.priority.empty() ? std::string("1") : request.priority},
                {"Timeout", std::to_string(request.timeout_ms)},
                {"Async", "true"}};
  if (!request.caller_id.empty()) fields.emplace_back("CallerID", request.caller_id);
  if (!request.channel_id.empty()) fields.emplace_back("ChannelId", request.channel_id);
  for (const auto& [name, value] : request.variables) {
    if (name.find('=') != std::string::npos || name.empty()) return {};
    fields.emplace_back("Variable", name + "=" + value);
  }
  return serialize_action("Originate", fields, action_id);
}

}  // namespace omnitrail::connectors::ami
