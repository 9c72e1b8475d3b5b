// Typed configuration of omnitraild, as read from the one YAML file.
// Immutable once loaded: the service shares it as std::shared_ptr<const Config>. Any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace omnitrail::config {

using Duration = std::chrono::milliseconds;

/// Where a value came from in the YAML file (1-based line and column).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

/// One validation problem, printed as `file:line:col: path: message`.
struct ConfigError {
  SourceLocation where;
  std::string path;     // e.g. "connectors[2].poll_interval"
  std::string message;  // says what is wrong and how to fix it; never contains a secret
  std::string to_string() const;
};

/// A secret resolved from `*_file` (a path) or a `${ENV}` reference. Only `reference`
/// may ever be printed; `value` must never reach logs, errors or API responses.
struct Secret {
  std::string reference;  // "file:/etc/omnitrail/agent.token" or "env:NAME"
  std::string value;
  bool empty() const { return value.empty(); }
};

struct TlsConfig {
  std::string cert_file;
  std::string key_file;
};

struct ServerLimits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  Duration read_timeout = std::chrono::seconds(30);    // whole request must arrive within this
  Duration idle_timeout = std::chrono::seconds(60);    // keep-alive connection with no request
  Duration write_timeout = std::chrono::seconds(30);
  std::size_t max_connections = 1024;
  Duration shutdown_timeout = std::chrono::seconds(10);  // drain bound on SIGTERM
};

struct ServerConfig {
  std::vector<std::string> listen{"127.0.0.1:8080"};  // "host:port", "[v6]:port"
  std::optional<TlsConfig> tls;
  std::string public_url;  // e.g. https://cc.example.com ; empty -> derived from first listen
  ServerLimits limits;
  int threads = 1;  // io threads
};

struct StorageConfig {
  std::string sqlite_path = "state/omnitrail.db";  // relative paths resolve against the config file's folder
  std::string synchronous = "normal";               // normal | full
  std::size_t max_text_bytes = 64 * 1024;           // interaction text bound (truncated flag set)
  std::size_t write_queue_capacity = 10000;         // bounded writer queue (back-pressure when full)
  Duration checkpoint_interval = std::chrono::seconds(60);
  std::map<std::string, int> retention_days;        // channel -> days (0 / absent: keep forever)
};

struct IdentityConfig {
  std::string default_region = "US";  // ISO 3166-1 alpha-2
  std::vector<std::string> blocked_values;
  std::vector<std::string> shared_values;
  std::vector<std::string> own_numbers;
  std::vector<std::string> own_addresses;
  int shared_threshold = 3;  // a value on more than N customers becomes shared
  int max_emails = 5;
  int max_phones = 10;
  Duration repeat_contact_window = std::chrono::hours(72);
};

struct AgentConfig {
  std::string id;
  std::string name;
  std::vector<std::string> extensions;
  std::vector<std::string> queues;
  std::string role = "agent";  // agent | admin
  Secret token;                // from token_file
};

struct ScreenPopConfig {
  std::string crm_url_template;  // e.g. https://crm.example.com/customers/{customer_id}
  std::vector<std::string> fallback_agents;
  int recent_interactions = 20;
  Duration ring_timeout = std::chrono::seconds(120);
};

/// The parsed, validated block of one connector. Each connector type defines its own
/// subclass in its folder and registers a validator that builds it (see connector_registry.hpp).
struct ConnectorSettings {
  virtual ~ConnectorSettings() = default;
};

struct ConnectorConfig {
  std::string name;
  std::string type;
  bool enabled = true;
  std::string queue;  // queue whose agents get pops from this connector (may be empty)
  std::string region; // phone region override (empty: identity.default_region)
  SourceLocation where;
  /// Canonical text of the whole block (secrets replaced by a digest) used to detect changes on reload.
  std::string fingerprint;
  std::shared_ptr<const ConnectorSettings> settings;
};

struct WebhookConfig {
  std::string name;
  std::string url;
  Secret secret;  // from secret_file
  std::vector<std::string> events;    // empty: all
  std::vector<std::string> channels;  // empty: all
  Duration timeout = std::chrono::seconds(10);
  Duration retry_for = std::chrono::hours(24);
};

struct LoggingConfig {
  std::string level = "info";  // debug | info | warning | error
};

struct Config {
  std::string file;  // absolute path of the file it was read from
  ServerConfig server;
  StorageConfig storage;
  IdentityConfig identity;
  std::vector<AgentConfig> agents;
  ScreenPopConfig screen_pop;
  std::vector<ConnectorConfig> connectors;
  std::vector<WebhookConfig> webhooks;
  LoggingConfig logging;
  /// Admin tokens for the REST API that are not tied to an agent (admin_token_files).
  std::vector<Secret> admin_tokens;
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when errors is non-empty
  std::vector<ConfigError> errors;       // sorted by line, then column
  std::vector<ConfigError> warnings;     // do not fail the load (e.g. a world-readable secret file)
};

/// Reads, parses and validates `path`. Never throws; every problem found is reported
/// (not just the first). Blocking file I/O: call off the io thread.
LoadResult load_file(const std::string& path);

/// Same, from text already in memory (`file` is used in messages and to resolve relative paths).
LoadResult load_text(const std::string& text, const std::string& file);

/// The top-level sections load_* accepts ("server", "storage", ...), in documentation order.
const std::vector<std::string>& top_level_sections();

}  // namespace omnitrail::config
