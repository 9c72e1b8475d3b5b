#include "daemon/config/block_reader.hpp"

#include <openssl/crypto.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "daemon/config/value_parsers.hpp"

namespace omnitrail::config {
namespace {

constexpr std::size_t kMaxSecretBytes = 64 * 1024;
constexpr int kMaxCanonicalNodes = 10'000;
constexpr int kMaxCanonicalDepth = 64;

// JSON-style quoting without truncation, for the fingerprint.
std::string canonical_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      out += kHex[static_cast<unsigned char>(c) & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// Canonical text of any node (maps sorted by key), bounded so that alias bombs stay cheap.
void canonical_node(const YAML::Node& node, std::string& out, int& budget, int depth) {
  if (--budget < 0 || depth > kMaxCanonicalDepth) {
    out += "...";
    return;
  }
  if (node.IsScalar()) {
    out += canonical_string(node.Scalar());
  } else if (node.IsSequence()) {
    out += '[';
    bool first = true;
    for (const auto& item : node) {
      if (!first) out += ',';
      first = false;
      canonical_node(item, out, budget, depth + 1);
      if (budget < 0) break;
    }
    out += ']';
  } else if (node.IsMap()) {
    std::vector<std::pair<std::string, std::string>> items;
    for (const auto& kv : node) {
      std::string key, value;
      canonical_node(kv.first, key, budget, depth + 1);
      canonical_node(kv.second, value, budget, depth + 1);
      items.emplace_back(std::move(key), std::move(value));
      if (budget < 0) break;
    }
    std::sort(items.begin(), items.end());
    out += '{';
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) out += ',';
      out += items[i].first + ':' + items[i].second;
    }
    out += '}';
  } else {
    out += "null";
  }
}

std::string canonical_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += canonical_string(items[i]);
  }
  return out + "]";
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::pair<std::uint64_t, const char*> kUnits[] = {
      {1ULL << 30, "GiB"}, {1ULL << 20, "MiB"}, {1ULL << 10, "KiB"}};
  for (const auto& [factor, name] : kUnits) {
    if (bytes != 0 && bytes % factor == 0) return std::to_string(bytes / factor) + name;
  }
  return std::to_string(bytes);
}

// Reads a secret file; on failure returns nullopt and sets `error` (never the content).
std::optional<std::string> read_secret_file(const std::string& path, std::string& error, bool& world_readable) {
  world_readable = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    error = "cannot read " + quote(path) + ": " + std::strerror(errno);
    return std::nullopt;
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = "cannot read " + quote(path) + ": " + std::strerror(errno);
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    error = quote(path) + " is not a regular file";
    return std::nullopt;
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxSecretBytes) {
    error = quote(path) + " is larger than 64KiB; is it the right file?";
    return std::nullopt;
  }
  world_readable = (st.st_mode & S_IROTH) != 0;
  std::string content;
  content.resize(kMaxSecretBytes + 1);
  std::size_t used = 0;
  while (used < content.size()) {
    const ssize_t n = ::read(fd, content.data() + used, content.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = "cannot read " + quote(path) + ": " + std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > kMaxSecretBytes) {
    error = quote(path) + " is larger than 64KiB; is it the right file?";
    return std::nullopt;
  }
  content.resize(used);
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.pop_back();
  if (content.empty()) {
    error = quote(path) + " is empty; write the secret into it";
    return std::nullopt;
  }
  // A copy of exactly the secret's size: `content` still owns its 64 KiB read buffer, which
  // every configured token would otherwise keep for the life of the config. Wiped before freeing.
  std::string secret(content);
  OPENSSL_cleanse(content.data(), content.size());
  return secret;
}

bool parse_integer(std::string_view text, std::int64_t& value) {
  if (text.empty()) return false;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (*begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  return ec == std::errc() && ptr == end;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// LoadContext

LoadContext::LoadContext(std::string file, std::string base_dir, EnvLookup env)
    : file_(std::move(file)), base_dir_(std::move(base_dir)), env_(std::move(env)) {}

void LoadContext::error(SourceLocation where, std::string path, std::string message) {
  errors_.push_back(ConfigError{std::move(where), std::move(path), std::move(message)});
}

void LoadContext::warning(SourceLocation where, std::string path, std::string message) {
  warnings_.push_back(ConfigError{std::move(where), std::move(path), std::move(message)});
}

SourceLocation LoadContext::location(const YAML::Mark& mark) const {
  if (mark.is_null() || mark.line < 0) return SourceLocation{file_, 0, 0};
  return SourceLocation{file_, mark.line + 1, mark.column + 1};
}

std::string LoadContext::resolve_path(std::string_view path) const {
  if (path.empty()) return {};
  std::filesystem::path p{std::string(path)};
  if (p.is_relative()) p = std::filesystem::path(base_dir_) / p;
  return p.lexically_normal().string();
}

std::optional<std::string> LoadContext::env(const std::string& name) const {
  if (env_) return env_(name);
  if (const char* value = std::getenv(name.c_str())) return std::string(value);
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// BlockReader

std::string describe_kind(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  return quote(node.Scalar());
}

BlockReader::BlockReader(const YAML::Node& node, std::string path, LoadContext& context)
    : BlockReader(node, std::move(path), context, std::make_shared<Record>(), std::string()) {}

BlockReader::BlockReader(const YAML::Node& node, std::string path, LoadContext& context,
                         std::shared_ptr<Record> record, std::string record_prefix)
    : node_(node),
      path_(std::move(path)),
      context_(&context),
      record_(std::move(record)),
      record_prefix_(std::move(record_prefix)) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    context_->error(context_->location(node.Mark()), path_, "expected a map, got " + describe_kind(node));
    return;
  }
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      context_->error(context_->location(kv.first.Mark()), path_, "keys must be plain strings");
      continue;
    }
    const std::string& key = kv.first.Scalar();
    if (const Entry* first = find(key)) {
      context_->error(context_->location(kv.first.Mark()), child_path(key),
                      "duplicate key " + quote(key) + " (first set at line " +
                          std::to_string(context_->location(first->key_node.Mark()).line) + ")");
      continue;
    }
    entries_.push_back(Entry{key, kv.first, kv.second, false});
  }
}

BlockReader::BlockReader(BlockReader&& other) noexcept
    : node_(std::move(other.node_)),
      path_(std::move(other.path_)),
      context_(other.context_),
      entries_(std::move(other.entries_)),
      asked_(std::move(other.asked_)),
      record_(std::move(other.record_)),
      record_prefix_(std::move(other.record_prefix_)),
      finished_(other.finished_),
      ignore_unknown_(other.ignore_unknown_) {
  other.finished_ = true;
}

BlockReader::~BlockReader() {
  try {
    finish();
  } catch (...) {
    // finish() only formats strings; an allocation failure here must not terminate the load.
  }
}

std::string BlockReader::child_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

std::string BlockReader::path_of(std::string_view key) const { return child_path(key); }

SourceLocation BlockReader::location() const { return context_->location(node_.Mark()); }

SourceLocation BlockReader::location(std::string_view key) const {
  const Entry* e = find(key);
  if (!e) return location();
  const SourceLocation value_location = context_->location(e->value.Mark());
  return value_location.line > 0 ? value_location : context_->location(e->key_node.Mark());
}

bool BlockReader::has(std::string_view key) const {
  const Entry* e = find(key);
  return e && e->value.IsDefined() && !e->value.IsNull();
}

std::vector<std::string> BlockReader::keys() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.key);
  return out;
}

BlockReader::Entry* BlockReader::find(std::string_view key) {
  for (auto& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const BlockReader::Entry* BlockReader::find(std::string_view key) const {
  for (const auto& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

BlockReader::Entry* BlockReader::take(std::string_view key) {
  if (std::find(asked_.begin(), asked_.end(), key) == asked_.end()) asked_.emplace_back(key);
  Entry* e = find(key);
  if (!e) return nullptr;
  e->used = true;
  if (!e->value.IsDefined() || e->value.IsNull()) return nullptr;
  return e;
}

const YAML::Node* BlockReader::scalar(std::string_view key) {
  Entry* e = take(key);
  if (!e) return nullptr;
  if (!e->value.IsScalar()) {
    error(key, "expected a single value, got " + describe_kind(e->value));
    return nullptr;
  }
  return &e->value;
}

void BlockReader::record(std::string_view key, std::string canonical) {
  (*record_)[record_prefix_ + std::string(key)] = std::move(canonical);
}

void BlockReader::error(std::string_view key, std::string message) {
  context_->error(location(key), child_path(key), std::move(message));
}

void BlockReader::warning(std::string_view key, std::string message) {
  context_->warning(location(key), child_path(key), std::move(message));
}

void BlockReader::error(std::string message) { context_->error(location(), path_, std::move(message)); }

std::string BlockReader::string(std::string_view key, std::string fallback) {
  const YAML::Node* s = scalar(key);
  std::string value = s ? s->Scalar() : std::move(fallback);
  record(key, canonical_string(value));
  return value;
}

std::string BlockReader::required_string(std::string_view key) {
  const bool present = has(key);
  const YAML::Node* s = scalar(key);
  if (!present) {
    error("missing required key " + quote(key));
  } else if (s && s->Scalar().empty()) {
    error(key, "must not be empty");
  }
  std::string value = s ? s->Scalar() : std::string();
  record(key, canonical_string(value));
  return value;
}

std::string BlockReader::choice(std::string_view key, const std::vector<std::string>& allowed, std::string fallback) {
  const YAML::Node* s = scalar(key);
  std::string value = std::move(fallback);
  if (s) {
    if (std::find(allowed.begin(), allowed.end(), s->Scalar()) != allowed.end()) {
      value = s->Scalar();
    } else {
      error(key, quote(s->Scalar()) + " is not one of " + join(allowed) + did_you_mean(s->Scalar(), allowed));
    }
  }
  record(key, canonical_string(value));
  return value;
}

std::int64_t BlockReader::integer(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max) {
  const YAML::Node* s = scalar(key);
  std::int64_t value = fallback;
  if (s) {
    std::int64_t parsed = 0;
    if (!parse_integer(s->Scalar(), parsed)) {
      error(key, quote(s->Scalar()) + " is not an integer (use a whole number between " + std::to_string(min) +
                     " and " + std::to_string(max) + ")");
    } else if (parsed < min || parsed > max) {
      error(key, std::to_string(parsed) + " is out of range (use " + std::to_string(min) + ".." +
                     std::to_string(max) + ")");
    } else {
      value = parsed;
    }
  }
  record(key, std::to_string(value));
  return value;
}

bool BlockReader::boolean(std::string_view key, bool fallback) {
  const YAML::Node* s = scalar(key);
  bool value = fallback;
  if (s) {
    if (s->Scalar() == "true") value = true;
    else if (s->Scalar() == "false") value = false;
    else error(key, quote(s->Scalar()) + " is not a boolean (use true or false)");
  }
  record(key, value ? "true" : "false");
  return value;
}

Duration BlockReader::duration(std::string_view key, Duration fallback, Duration min, Duration max) {
  const YAML::Node* s = scalar(key);
  Duration value = fallback;
  if (s) {
    std::string message;
    if (auto parsed = parse_duration(s->Scalar(), message)) {
      if (*parsed < min) error(key, quote(s->Scalar()) + " is too short (minimum " + format_duration(min) + ")");
      else if (*parsed > max) error(key, quote(s->Scalar()) + " is too long (maximum " + format_duration(max) + ")");
      else value = *parsed;
    } else {
      error(key, message);
    }
  }
  record(key, std::to_string(value.count()) + "ms");
  return value;
}

std::uint64_t BlockReader::size(std::string_view key, std::uint64_t fallback, std::uint64_t min, std::uint64_t max) {
  const YAML::Node* s = scalar(key);
  std::uint64_t value = fallback;
  if (s) {
    std::string message;
    if (auto parsed = parse_size(s->Scalar(), message)) {
      if (*parsed < min) error(key, quote(s->Scalar()) + " is too small (minimum " + format_size(min) + ")");
      else if (*parsed > max) error(key, quote(s->Scalar()) + " is too large (maximum " + format_size(max) + ")");
      else value = *parsed;
    } else {
      error(key, message);
    }
  }
  record(key, std::to_string(value));
  return value;
}

std::vector<ListItem> BlockReader::string_items(std::string_view key) {
  std::vector<ListItem> items;
  Entry* e = take(key);
  if (e) {
    if (!e->value.IsSequence()) {
      error(key, "expected a list, got " + describe_kind(e->value) + " (write [a, b] or one \"- item\" per line)");
    } else {
      std::size_t index = 0;
      for (const auto& item : e->value) {
        ListItem li;
        li.path = child_path(key) + "[" + std::to_string(index++) + "]";
        li.where = context_->location(item.Mark());
        if (li.where.line == 0) li.where = location(key);
        if (!item.IsScalar()) {
          context_->error(li.where, li.path, "expected a single value, got " + describe_kind(item));
          continue;
        }
        if (item.Scalar().empty()) {
          context_->error(li.where, li.path, "must not be empty");
          continue;
        }
        li.value = item.Scalar();
        items.push_back(std::move(li));
      }
    }
  }
  std::vector<std::string> values;
  for (const auto& li : items) values.push_back(li.value);
  record(key, canonical_list(values));
  return items;
}

std::vector<std::string> BlockReader::string_list(std::string_view key) {
  std::vector<std::string> values;
  for (auto& li : string_items(key)) values.push_back(std::move(li.value));
  return values;
}

std::vector<std::string> BlockReader::choice_list(std::string_view key, const std::vector<std::string>& allowed) {
  std::vector<std::string> values;
  for (const auto& li : string_items(key)) {
    if (std::find(allowed.begin(), allowed.end(), li.value) == allowed.end()) {
      context_->error(li.where, li.path,
                      quote(li.value) + " is not one of " + join(allowed) + did_you_mean(li.value, allowed));
    } else if (std::find(values.begin(), values.end(), li.value) != values.end()) {
      context_->error(li.where, li.path, quote(li.value) + " is listed twice");
    } else {
      values.push_back(li.value);
    }
  }
  record(key, canonical_list(values));
  return values;
}

std::string BlockReader::file_path(std::string_view key, bool required, bool must_exist) {
  const bool present = has(key);
  const YAML::Node* s = scalar(key);
  std::string resolved;
  if (!present) {
    if (required) error("missing required key " + quote(key));
  } else if (s) {
    if (s->Scalar().empty()) {
      error(key, "must not be empty");
    } else {
      resolved = context_->resolve_path(s->Scalar());
      if (must_exist) {
        std::error_code ec;
        const auto status = std::filesystem::status(resolved, ec);
        if (ec || !std::filesystem::exists(status)) {
          error(key, "cannot read " + quote(resolved) + ": no such file");
        } else if (!std::filesystem::is_regular_file(status)) {
          error(key, quote(resolved) + " is not a regular file");
        } else if (::access(resolved.c_str(), R_OK) != 0) {
          error(key, "cannot read " + quote(resolved) + ": " + std::strerror(errno));
        }
      }
    }
  }
  record(key, canonical_string(resolved));
  return resolved;
}

std::optional<Secret> BlockReader::secret(std::string_view key, bool required) {
  const std::string file_key = std::string(key) + "_file";
  const bool inline_present = has(key);
  const bool file_present = has(file_key);
  Entry* inline_entry = take(key);
  Entry* file_entry = take(file_key);
  std::optional<Secret> result;
  const std::string env_hint = "${ENV_VAR}";
  if (inline_present && file_present) {
    error(file_key, "set either " + std::string(key) + " or " + file_key + ", not both");
  } else if (file_entry) {
    if (!file_entry->value.IsScalar()) {
      error(file_key, "expected a file path, got " + describe_kind(file_entry->value));
    } else {
      const std::string& text = file_entry->value.Scalar();
      std::string env_name;
      if (parse_env_reference(text, env_name)) {
        error(file_key, "${...} is not expanded in " + file_key + "; to take the secret from the environment write " +
                            std::string(key) + ": ${" + env_name + "}");
      } else if (text.empty()) {
        error(file_key, "must not be empty");
      } else {
        const std::string path = context_->resolve_path(text);
        std::string message;
        bool world_readable = false;
        if (auto value = read_secret_file(path, message, world_readable)) {
          result = Secret{"file:" + path, std::move(*value)};
          if (world_readable) {
            warning(file_key, quote(path) + " is readable by every user of this machine (chmod 600 or 640 it)");
          }
        } else {
          error(file_key, message);
        }
      }
    }
  } else if (inline_entry) {
    std::string env_name;
    if (!inline_entry->value.IsScalar()) {
      error(key, "expected " + env_hint + ", got " + (inline_entry->value.IsMap() ? "a map" : "a list"));
    } else if (parse_env_reference(inline_entry->value.Scalar(), env_name)) {
      auto value = context_->env(env_name);
      if (!value) {
        error(key, "environment variable " + env_name + " is not set (export it, or use " + file_key + ")");
      } else if (value->empty()) {
        error(key, "environment variable " + env_name + " is empty");
      } else {
        result = Secret{"env:" + env_name, std::move(*value)};
      }
    } else {
      // Never echo the value: it is presumably the secret itself.
      error(key, "inline secrets are not allowed; put it in a file and use " + file_key + ", or use " + env_hint);
    }
  } else if (required && !inline_present && !file_present) {
    error("missing required key " + quote(file_key) + " (or " + std::string(key) + ": " + env_hint + ")");
  }
  record(key, result ? "secret " + secret_digest(result->value) : std::string("none"));
  return result;
}

std::vector<Secret> BlockReader::secret_file_list(std::string_view key) {
  std::vector<Secret> secrets;
  std::vector<std::string> digests;
  for (const auto& li : string_items(key)) {
    std::string env_name;
    if (parse_env_reference(li.value, env_name)) {
      context_->error(li.where, li.path, "${...} is not expanded here; list secret files only");
      continue;
    }
    const std::string path = context_->resolve_path(li.value);
    std::string message;
    bool world_readable = false;
    if (auto value = read_secret_file(path, message, world_readable)) {
      if (world_readable) {
        context_->warning(li.where, li.path,
                          quote(path) + " is readable by every user of this machine (chmod 600 or 640 it)");
      }
      digests.push_back(secret_digest(*value));
      secrets.push_back(Secret{"file:" + path, std::move(*value)});
    } else {
      context_->error(li.where, li.path, message);
    }
  }
  record(key, canonical_list(digests));
  return secrets;
}

std::optional<BlockReader> BlockReader::map(std::string_view key) {
  Entry* e = take(key);
  if (!e) return std::nullopt;
  if (!e->value.IsMap()) {
    error(key, "expected a map, got " + describe_kind(e->value));
    return std::nullopt;
  }
  return BlockReader(e->value, child_path(key), *context_, record_, record_prefix_ + std::string(key) + ".");
}

std::vector<BlockReader> BlockReader::map_list(std::string_view key) {
  std::vector<BlockReader> readers;
  Entry* e = take(key);
  if (!e) return readers;
  if (!e->value.IsSequence()) {
    error(key, "expected a list, got " + describe_kind(e->value) + " (write one \"- ...\" item per entry)");
    return readers;
  }
  std::size_t index = 0;
  for (const auto& item : e->value) {
    const std::string suffix = std::string(key) + "[" + std::to_string(index++) + "]";
    const std::string item_path = path_.empty() ? suffix : path_ + "." + suffix;
    if (!item.IsMap()) {
      SourceLocation where = context_->location(item.Mark());
      if (where.line == 0) where = location(key);
      context_->error(where, item_path, "expected a map, got " + describe_kind(item));
      continue;
    }
    readers.push_back(BlockReader(item, item_path, *context_, record_, record_prefix_ + suffix + "."));
  }
  return readers;
}

YAML::Node BlockReader::raw(std::string_view key) {
  Entry* e = take(key);
  std::string canonical;
  int budget = kMaxCanonicalNodes;
  if (e) canonical_node(e->value, canonical, budget, 0);
  else canonical = "null";
  record(key, std::move(canonical));
  return e ? e->value : YAML::Node();
}

void BlockReader::finish() {
  if (finished_) return;
  finished_ = true;
  if (ignore_unknown_) return;
  for (const auto& e : entries_) {
    if (e.used) continue;
    std::string message = "unknown key " + quote(e.key);
    const std::string suggestion = did_you_mean(e.key, asked_);
    if (!suggestion.empty()) {
      message += suggestion;
    } else if (!asked_.empty() && asked_.size() <= 16) {
      std::vector<std::string> known = asked_;
      std::sort(known.begin(), known.end());
      message += " (known keys: " + join(known) + ")";
    }
    context_->error(context_->location(e.key_node.Mark()), child_path(e.key), std::move(message));
  }
}

std::string BlockReader::fingerprint() const {
  std::string out;
  for (const auto& [key, value] : *record_) {
    if (key.compare(0, record_prefix_.size(), record_prefix_) != 0) continue;
    out += key.substr(record_prefix_.size());
    out += '=';
    out += value;
    out += '\n';
  }
  return out;
}

}  // namespace omnitrail::config
