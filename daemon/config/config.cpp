// load_file / load_text: YAML syntax, then a strict walk of every section with BlockReader,
// then the checks that span sections (duplicates, dangling references). Never throws.
#include "daemon/config/config.hpp"

#include <sys/stat.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "daemon/config/block_reader.hpp"
#include "daemon/config/connector_registry.hpp"
#include "daemon/config/value_parsers.hpp"

namespace omnitrail::config {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMaxConfigBytes = 4 * 1024 * 1024;
constexpr int kMaxFlowDepth = 64;

const std::vector<std::string> kSections{"server", "storage", "identity", "agents",
                                         "screen_pop", "connectors", "webhooks", "logging"};
const std::vector<std::string> kChannels{"phone", "email", "sms", "chat", "api", "note"};
const std::vector<std::string> kEvents{"interaction.created", "conversation.ended", "customer.created",
                                       "customer.merged", "customer.unmerged", "customer.erased",
                                       "pop.delivered"};
const std::vector<std::string> kCrmPlaceholders{"customer_id", "phone", "email"};

std::string line_ref(const SourceLocation& where) { return "line " + std::to_string(where.line); }

// ---- value checks that return an error message ("" when fine) --------------------------------

bool is_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '@';
  });
}

std::string check_name(std::string_view s) {
  if (s.empty() || is_name(s)) return {};
  return quote(s) + " is not a valid name (use 1-64 letters, digits, '_', '-', '.', '@')";
}

std::string check_region(std::string_view s) {
  if (s.size() == 2 && std::isupper(static_cast<unsigned char>(s[0])) && std::isupper(static_cast<unsigned char>(s[1])))
    return {};
  return quote(s) + " is not a region code (use two upper-case letters, e.g. US, GB, DE)";
}

std::string check_listen(std::string_view s) {
  const std::string hint = " (use host:port, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080)";
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find("]:");
    if (close == std::string_view::npos) return quote(s) + " is not a listen address" + hint;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    const bool ok = !host.empty() && host.find(':') != std::string_view::npos &&
                    std::all_of(host.begin(), host.end(), [](char c) {
                      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
                    });
    if (!ok) return quote(s) + ": " + quote(host) + " is not an IPv6 address" + hint;
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return quote(s) + " is not a listen address" + hint;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return quote(s) + ": IPv6 addresses need brackets, e.g. [::1]:8080";
    const bool ok = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    });
    if (!ok) return quote(s) + " is not a listen address" + hint;
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return quote(s) + ": " + quote(port) + " is not a port" + hint;
  if (std::stoi(std::string(port)) > 65535) return quote(s) + ": port " + std::string(port) + " is out of range (0..65535)";
  return {};
}

std::string check_http_url(std::string_view s) {
  std::string_view rest;
  if (s.rfind("https://", 0) == 0) rest = s.substr(8);
  else if (s.rfind("http://", 0) == 0) rest = s.substr(7);
  else return quote(s) + " is not an http:// or https:// URL";
  if (rest.empty() || rest.front() == '/' || rest.front() == ':' || rest.front() == '?')
    return quote(s) + " has no host";
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return quote(s) + " contains spaces or control characters";
  }
  return {};
}

// crm_url_template: an http(s) URL whose only {placeholders} are the known ones.
std::string check_crm_template(std::string_view s) {
  std::string example(s);
  std::size_t pos = 0;
  while (pos < s.size()) {
    const auto open = s.find_first_of("{}", pos);
    if (open == std::string_view::npos) break;
    if (s[open] == '}') return "unbalanced '}' at character " + std::to_string(open + 1);
    const auto close = s.find_first_of("{}", open + 1);
    if (close == std::string_view::npos || s[close] == '{')
      return "unclosed '{' at character " + std::to_string(open + 1);
    const std::string name(s.substr(open + 1, close - open - 1));
    if (std::find(kCrmPlaceholders.begin(), kCrmPlaceholders.end(), name) == kCrmPlaceholders.end())
      return "unknown placeholder {" + name + "}" + did_you_mean(name, kCrmPlaceholders) +
             " (use {customer_id}, {phone}, {email})";
    pos = close + 1;
  }
  // Check the URL shape with the placeholders filled in.
  std::string filled;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '{') {
      i = s.find('}', i);
      filled += "x";
    } else {
      filled += s[i];
    }
  }
  return check_http_url(filled).empty() ? std::string() : quote(s) + " is not an http:// or https:// URL";
}

// Flow collections ([ { ) nested deeper than kMaxFlowDepth; yaml-cpp recurses on them.
std::optional<SourceLocation> too_deep(const std::string& text, const std::string& file) {
  int depth = 0, line = 1, column = 0;
  char quote_char = 0;
  bool comment = false;
  char previous = '\n';
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    ++column;
    if (c == '\n') {
      ++line;
      column = 0;
      comment = false;
      previous = c;
      continue;
    }
    if (comment) continue;
    if (quote_char) {
      if (quote_char == '"' && c == '\\') {
        ++i;
        ++column;
      } else if (c == quote_char) {
        quote_char = 0;
      }
    } else if (c == '#' && (previous == ' ' || previous == '\t' || previous == '\n')) {
      comment = true;
    } else if (c == '"' || c == '\'') {
      quote_char = c;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxFlowDepth) return SourceLocation{file, line, column};
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    previous = c;
  }
  return std::nullopt;
}

// Counts what one YAML document holds, without building it.
class DocumentProbe : public YAML::EventHandler {
 public:
  int events = 0;
  bool only_null = true;
  YAML::Mark first;

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { note(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { note(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    note(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    note(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    note(mark, false);
  }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& mark, bool null) {
    if (events++ == 0) first = mark;
    if (!null) only_null = false;
  }
};

// Parses the single document of `text` into `doc`, or records why not. yaml-cpp 0.7's LoadAll
// loops forever on a stray token at the root (e.g. a lone ","; fixed upstream in
// jbeder/yaml-cpp#1319): its parser then returns the same null document at the same place on
// every call. So the documents are counted with a bounded loop first, which also catches that.
bool parse_single_document(const std::string& text, YAML::Node& doc, LoadContext& ctx) {
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentProbe first;
    if (parser.HandleNextDocument(first)) {
      DocumentProbe second;
      if (parser.HandleNextDocument(second)) {
        const bool stuck = first.only_null && second.only_null && first.events == 1 && second.events == 1 &&
                           first.first.pos == second.first.pos;
        if (stuck) {
          const auto pos = static_cast<std::size_t>(std::max(first.first.pos, 0));
          const std::string what = pos < text.size() ? quote(text.substr(pos, 1)) : std::string("token");
          ctx.error(ctx.location(first.first), "", "YAML syntax error: unexpected " + what);
        } else {
          ctx.error(ctx.location(second.first), "", "only one YAML document is allowed (remove the second \"---\")");
        }
        return false;
      }
    }
    doc = YAML::Load(text);
    return true;
  } catch (const YAML::Exception& e) {
    ctx.error(ctx.location(e.mark), "", "YAML syntax error: " + e.msg);
    return false;
  }
}

// ---- sections ----------------------------------------------------------------------------------

void read_server(BlockReader& r, ServerConfig& server, std::vector<Secret>& admin_tokens, LoadContext& ctx) {
  {
    const bool given = r.has("listen");
    const std::size_t errors_before = ctx.errors().size();
    const auto items = r.string_items("listen");
    if (given && ctx.errors().size() == errors_before) {
      if (items.empty()) r.error("listen", "needs at least one address, e.g. [\"127.0.0.1:8080\"]");
      std::vector<std::string> listen;
      std::map<std::string, SourceLocation> seen;
      for (const auto& item : items) {
        if (auto message = check_listen(item.value); !message.empty()) {
          ctx.error(item.where, item.path, message);
        } else if (auto it = seen.find(item.value); it != seen.end()) {
          ctx.error(item.where, item.path, quote(item.value) + " is listed twice (first at " + line_ref(it->second) + ")");
        } else {
          seen.emplace(item.value, item.where);
          listen.push_back(item.value);
        }
      }
      server.listen = std::move(listen);
    }
  }
  if (auto tls = r.map("tls")) {
    TlsConfig t;
    t.cert_file = tls->file_path("cert_file", true, true);
    t.key_file = tls->file_path("key_file", true, true);
    struct stat st {};
    if (!t.key_file.empty() && ::stat(t.key_file.c_str(), &st) == 0 && (st.st_mode & S_IROTH)) {
      tls->warning("key_file", quote(t.key_file) + " is readable by every user of this machine (chmod 600 or 640 it)");
    }
    server.tls = t;
  }
  server.public_url = r.string("public_url");
  if (!server.public_url.empty()) {
    if (auto message = check_http_url(server.public_url); !message.empty()) {
      r.error("public_url", message + " (e.g. https://cc.example.com)");
    }
    while (server.public_url.size() > 1 && server.public_url.back() == '/') server.public_url.pop_back();
  }
  if (auto limits = r.map("limits")) {
    ServerLimits& l = server.limits;
    l.max_header_bytes = limits->size("max_header_bytes", l.max_header_bytes, 1024, 1 << 20);
    l.max_body_bytes = limits->size("max_body_bytes", l.max_body_bytes, 1024, 1ULL << 30);
    l.read_timeout = limits->duration("read_timeout", l.read_timeout, 1s, 1h);
    l.idle_timeout = limits->duration("idle_timeout", l.idle_timeout, 1s, 24h);
    l.write_timeout = limits->duration("write_timeout", l.write_timeout, 1s, 1h);
    l.max_connections = static_cast<std::size_t>(limits->integer("max_connections", 1024, 1, 1'000'000));
    l.shutdown_timeout = limits->duration("shutdown_timeout", l.shutdown_timeout, 1s, 10min);
  }
  server.threads = static_cast<int>(r.integer("threads", server.threads, 1, 64));
  admin_tokens = r.secret_file_list("admin_token_files");
}

void read_storage(BlockReader& r, StorageConfig& storage, LoadContext& ctx) {
  const std::string path = r.string("sqlite_path", storage.sqlite_path);
  if (path.empty()) r.error("sqlite_path", "must not be empty");
  storage.sqlite_path = path == ":memory:" ? path : ctx.resolve_path(path);
  storage.synchronous = r.choice("synchronous", {"normal", "full"}, storage.synchronous);
  storage.max_text_bytes = r.size("max_text_bytes", storage.max_text_bytes, 1024, 16ULL << 20);
  storage.write_queue_capacity =
      static_cast<std::size_t>(r.integer("write_queue_capacity", 10000, 1, 10'000'000));
  storage.checkpoint_interval = r.duration("checkpoint_interval", storage.checkpoint_interval, 1s, 24h);
  if (auto retention = r.map("retention_days")) {
    for (const auto& channel : kChannels) {
      const bool given = retention->has(channel);
      const auto days = retention->integer(channel, 0, 0, 36500);
      if (given) storage.retention_days[channel] = static_cast<int>(days);
    }
  }
}

void read_identity(BlockReader& r, IdentityConfig& identity) {
  identity.default_region = r.string("default_region", identity.default_region);
  if (auto message = check_region(identity.default_region); !message.empty()) r.error("default_region", message);
  identity.blocked_values = r.string_list("blocked_values");
  identity.shared_values = r.string_list("shared_values");
  identity.own_numbers = r.string_list("own_numbers");
  identity.own_addresses = r.string_list("own_addresses");
  identity.shared_threshold = static_cast<int>(r.integer("shared_threshold", identity.shared_threshold, 1, 1000));
  identity.max_emails = static_cast<int>(r.integer("max_emails", identity.max_emails, 1, 1000));
  identity.max_phones = static_cast<int>(r.integer("max_phones", identity.max_phones, 1, 1000));
  identity.repeat_contact_window =
      r.duration("repeat_contact_window", identity.repeat_contact_window, 0s, std::chrono::hours(24 * 365));
}

struct Seen {
  std::string label;  // e.g. agents[0]
  SourceLocation where;
};

void read_agents(BlockReader& root, Config& config, LoadContext& ctx) {
  std::map<std::string, Seen> ids, extensions;
  std::map<std::string, Seen> tokens;  // digest -> first holder
  for (std::size_t i = 0; i < config.admin_tokens.size(); ++i) {
    tokens.emplace(secret_digest(config.admin_tokens[i].value),
                   Seen{"server.admin_token_files[" + std::to_string(i) + "]", {}});
  }
  for (auto& r : root.map_list("agents")) {
    AgentConfig agent;
    agent.id = r.required_string("id");
    if (auto message = check_name(agent.id); !message.empty()) r.error("id", message);
    if (!agent.id.empty()) {
      if (auto it = ids.find(agent.id); it != ids.end()) {
        r.error("id", "duplicate agent id " + quote(agent.id) + " (first defined at " + line_ref(it->second.where) + ")");
      } else {
        ids.emplace(agent.id, Seen{r.path(), r.location("id")});
      }
    }
    agent.name = r.string("name", agent.id);
    for (const auto& item : r.string_items("extensions")) {
      if (auto it = extensions.find(item.value); it != extensions.end()) {
        ctx.error(item.where, item.path,
                  "extension " + quote(item.value) + " is already claimed by " + it->second.label + " (" +
                      line_ref(it->second.where) + ")");
      } else {
        extensions.emplace(item.value, Seen{"agent " + quote(agent.id), item.where});
      }
      agent.extensions.push_back(item.value);
    }
    for (const auto& item : r.string_items("queues")) {
      if (auto message = check_name(item.value); !message.empty()) ctx.error(item.where, item.path, message);
      agent.queues.push_back(item.value);
    }
    agent.role = r.choice("role", {"agent", "admin"}, agent.role);
    if (auto token = r.secret("token", true)) {
      const std::string key = r.has("token_file") ? "token_file" : "token";
      const std::string digest = secret_digest(token->value);
      if (auto it = tokens.find(digest); it != tokens.end()) {
        std::string first = it->second.label;
        if (it->second.where.line > 0) first += " (" + line_ref(it->second.where) + ")";
        r.error(key, "same token as " + first + "; give every agent its own token");
      } else {
        tokens.emplace(digest, Seen{r.path(), r.location(key)});
      }
      agent.token = std::move(*token);
    }
    config.agents.push_back(std::move(agent));
  }
}

void read_screen_pop(BlockReader& r, ScreenPopConfig& pop, std::vector<ListItem>& fallback_items) {
  pop.crm_url_template = r.string("crm_url_template");
  if (!pop.crm_url_template.empty()) {
    if (auto message = check_crm_template(pop.crm_url_template); !message.empty()) {
      r.error("crm_url_template", message);
    }
  }
  fallback_items = r.string_items("fallback_agents");
  for (const auto& item : fallback_items) pop.fallback_agents.push_back(item.value);
  pop.recent_interactions = static_cast<int>(r.integer("recent_interactions", pop.recent_interactions, 0, 500));
  pop.ring_timeout = r.duration("ring_timeout", pop.ring_timeout, 1s, 1h);
}

void read_connectors(BlockReader& root, Config& config, std::vector<ListItem>& queue_refs) {
  std::map<std::string, SourceLocation> names;
  for (auto& r : root.map_list("connectors")) {
    ConnectorConfig c;
    c.where = r.location();
    c.name = r.required_string("name");
    if (auto message = check_name(c.name); !message.empty()) r.error("name", message);
    if (!c.name.empty()) {
      if (auto it = names.find(c.name); it != names.end()) {
        r.error("name", "duplicate connector name " + quote(c.name) + " (first defined at " + line_ref(it->second) + ")");
      } else {
        names.emplace(c.name, r.location("name"));
      }
    }
    c.type = r.required_string("type");
    c.enabled = r.boolean("enabled", true);
    c.queue = r.string("queue");
    if (!c.queue.empty()) queue_refs.push_back(ListItem{c.queue, r.path_of("queue"), r.location("queue")});
    c.region = r.string("region");
    if (!c.region.empty()) {
      if (auto message = check_region(c.region); !message.empty()) r.error("region", message);
    }
    if (!c.type.empty()) {
      if (auto validator = find_connector_validator(c.type)) {
        try {
          c.settings = validator(r);
        } catch (const std::exception& e) {
          r.error("type", "the " + c.type + " validator failed: " + e.what());
        } catch (...) {
          r.error("type", "the " + c.type + " validator failed");
        }
      } else {
        const auto types = registered_connector_types();
        std::string message = "unknown connector type " + quote(c.type) + did_you_mean(c.type, types);
        message += types.empty() ? " (no connector types are built into this omnitraild)"
                                 : " (known types: " + join(types) + ")";
        r.error("type", message);
        r.ignore_unknown();  // its other keys cannot be judged without the type
      }
    }
    r.finish();
    c.fingerprint = r.fingerprint();
    config.connectors.push_back(std::move(c));
  }
}

void read_webhooks(BlockReader& root, Config& config) {
  std::map<std::string, SourceLocation> names;
  for (auto& r : root.map_list("webhooks")) {
    WebhookConfig w;
    w.name = r.required_string("name");
    if (auto message = check_name(w.name); !message.empty()) r.error("name", message);
    if (!w.name.empty()) {
      if (auto it = names.find(w.name); it != names.end()) {
        r.error("name", "duplicate webhook name " + quote(w.name) + " (first defined at " + line_ref(it->second) + ")");
      } else {
        names.emplace(w.name, r.location("name"));
      }
    }
    w.url = r.required_string("url");
    if (!w.url.empty()) {
      if (auto message = check_http_url(w.url); !message.empty()) r.error("url", message);
    }
    if (auto secret = r.secret("secret", true)) w.secret = std::move(*secret);
    w.events = r.choice_list("events", kEvents);
    w.channels = r.choice_list("channels", kChannels);
    w.timeout = r.duration("timeout", w.timeout, 1s, 5min);
    w.retry_for = r.duration("retry_for", w.retry_for, 0s, std::chrono::hours(24 * 30));
    config.webhooks.push_back(std::move(w));
  }
}

// References between sections, checked once everything is read.
void check_references(const Config& config, const std::vector<ListItem>& queue_refs,
                      const std::vector<ListItem>& fallback_items, LoadContext& ctx) {
  std::set<std::string> queues;
  std::vector<std::string> agent_ids;
  for (const auto& agent : config.agents) {
    queues.insert(agent.queues.begin(), agent.queues.end());
    if (!agent.id.empty() && std::find(agent_ids.begin(), agent_ids.end(), agent.id) == agent_ids.end())
      agent_ids.push_back(agent.id);
  }
  const std::vector<std::string> queue_list(queues.begin(), queues.end());
  for (const auto& ref : queue_refs) {
    if (queues.count(ref.value)) continue;
    std::string message = "no agent serves queue " + quote(ref.value) + did_you_mean(ref.value, queue_list);
    message += queue_list.empty() ? " (add it to an agent's queues)" : " (queues served: " + join(queue_list) + ")";
    ctx.error(ref.where, ref.path, message);
  }
  for (const auto& item : fallback_items) {
    if (std::find(agent_ids.begin(), agent_ids.end(), item.value) != agent_ids.end()) continue;
    std::string message = quote(item.value) + " is not an agent id" + did_you_mean(item.value, agent_ids);
    message += agent_ids.empty() ? " (no agents are configured)" : " (agents: " + join(agent_ids) + ")";
    ctx.error(item.where, item.path, message);
  }
}

void read_document(const YAML::Node& doc, Config& config, LoadContext& ctx) {
  ctx.set_config_so_far(&config);
  BlockReader root(doc, "", ctx);
  if (auto r = root.map("server")) read_server(*r, config.server, config.admin_tokens, ctx);
  {
    StorageConfig& storage = config.storage;
    if (auto r = root.map("storage")) {
      read_storage(*r, storage, ctx);
    } else {
      storage.sqlite_path = ctx.resolve_path(storage.sqlite_path);
    }
  }
  if (auto r = root.map("identity")) read_identity(*r, config.identity);
  read_agents(root, config, ctx);
  std::vector<ListItem> fallback_items;
  if (auto r = root.map("screen_pop")) read_screen_pop(*r, config.screen_pop, fallback_items);
  std::vector<ListItem> queue_refs;
  read_connectors(root, config, queue_refs);
  read_webhooks(root, config);
  if (auto r = root.map("logging")) {
    config.logging.level = r->choice("level", {"debug", "info", "warning", "error"}, config.logging.level);
  }
  check_references(config, queue_refs, fallback_items, ctx);
}

std::string absolute_path(const std::string& file) {
  std::error_code ec;
  auto p = std::filesystem::absolute(file.empty() ? std::string("omnitrail.yaml") : file, ec);
  if (ec) return file;
  return p.lexically_normal().string();
}

}  // namespace

std::string ConfigError::to_string() const {
  std::string out = where.file.empty() ? std::string("<config>") : where.file;
  if (where.line > 0) out += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

const std::vector<std::string>& top_level_sections() { return kSections; }

LoadResult load_text(const std::string& text, const std::string& file) {
  LoadResult result;
  try {
    auto config = std::make_shared<Config>();
    config->file = absolute_path(file);
    LoadContext ctx(file, std::filesystem::path(config->file).parent_path().string());
    if (text.size() > kMaxConfigBytes) {
      ctx.error(SourceLocation{file, 0, 0}, "", "the file is larger than 4MiB; is it the right file?");
    } else if (auto where = too_deep(text, file)) {
      ctx.error(*where, "", "nested more than " + std::to_string(kMaxFlowDepth) + " levels deep");
    } else {
      YAML::Node doc;
      if (parse_single_document(text, doc, ctx)) read_document(doc, *config, ctx);
    }
    result.errors = ctx.take_errors();
    result.warnings = ctx.take_warnings();
    if (result.errors.empty()) result.config = std::move(config);
  } catch (const std::exception& e) {
    result.config.reset();
    result.errors.push_back(ConfigError{SourceLocation{file, 0, 0}, "", std::string("cannot load: ") + e.what()});
  } catch (...) {
    result.config.reset();
    result.errors.push_back(ConfigError{SourceLocation{file, 0, 0}, "", "cannot load: unknown failure"});
  }
  auto by_position = [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.where.line, a.where.column) < std::tie(b.where.line, b.where.column);
  };
  std::stable_sort(result.errors.begin(), result.errors.end(), by_position);
  std::stable_sort(result.warnings.begin(), result.warnings.end(), by_position);
  return result;
}

LoadResult load_file(const std::string& path) {
  try {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      const int err = errno;
      LoadResult result;
      result.errors.push_back(ConfigError{SourceLocation{path, 0, 0}, "",
                                          std::string("cannot read the config file: ") + std::strerror(err)});
      return result;
    }
    std::string text;
    char buffer[64 * 1024];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
      text.append(buffer, static_cast<std::size_t>(in.gcount()));
      if (text.size() > kMaxConfigBytes) break;  // load_text reports it
    }
    if (in.bad()) {
      LoadResult result;
      result.errors.push_back(ConfigError{SourceLocation{path, 0, 0}, "", "cannot read the config file"});
      return result;
    }
    return load_text(text, path);
  } catch (const std::exception& e) {
    LoadResult result;
    result.errors.push_back(ConfigError{SourceLocation{path, 0, 0}, "", std::string("cannot load: ") + e.what()});
    return result;
  }
}

}  // namespace omnitrail::config
